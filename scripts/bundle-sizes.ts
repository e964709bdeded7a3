/**
 * The last step of `npm run build`: prints the size of each build, minified and gzipped.
 * The ESM entry is small because its dependencies stay imports; what an app ships is that
 * entry with its dependencies, measured by building the fresh Vite app of
 * e2e/apps/fresh-vite-app (which also leaves the built app there for the e2e suite).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { buildFreshViteApp } from './fresh-vite-app.js'
import { measure, sizeLine, total } from './sizes.js'

const dist = resolve(import.meta.dirname, '../dist')
const esm = readFileSync(resolve(dist, 'distribunator.js'), 'utf8')
const iife = readFileSync(resolve(dist, 'distribunator.iife.js'), 'utf8')
const app = await buildFreshViteApp()

console.log('\nBundle sizes (minified, gzip -9):')
console.log(sizeLine('dist/distribunator.js (ESM, dependencies external)', await measure('distribunator.js', esm, 'module')))
console.log(sizeLine('dist/distribunator.iife.js (script tag, all bundled)', await measure('distribunator.iife.js', iife, 'script')))
const appSizes = await Promise.all(app.chunks.map((chunk) => measure(chunk.fileName, chunk.code, 'module')))
console.log(sizeLine('ESM + dependencies, as a Vite app bundles them', total(appSizes)))
