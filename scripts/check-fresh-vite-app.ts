/**
 * `npm run check:fresh-app` (after `npm run build`): a fresh Vite app with zero config
 * installs the packed package and imports `startNode`; this fails if that needs any Node
 * polyfill. It checks that the app's types resolve (tsc on the app, library types included),
 * that Vite built it without a warning (such as 'Module "events" has been externalized for
 * browser compatibility'), that nothing is left as an import (`node:` modules, bare
 * packages), and that bundled code reads Node's globals (process, Buffer, global, require…)
 * only where a reviewer has checked it is feature-detected (AUDITED below). Whether the page
 * runs is the e2e suite's job: it serves the app's dist/ built here.
 *
 * And what an app's `npm install distribunator` would pull: npm resolves the packed package's
 * whole tree (a lockfile only, nothing downloaded), and no package in it may be native —
 * node-datachannel is an optional peer, for servers only — or run an install script.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { APP_DIR, buildFreshViteApp, packPackage } from './fresh-vite-app.js'
import { nodeGlobalsRead } from './node-globals.js'
import { measure, sizeLine, total } from './sizes.js'

/** Modules allowed to read Node globals, by path inside node_modules, and why it is safe. */
const AUDITED: Record<string, { readonly globals: readonly string[]; readonly why: string }> = {
  'lib0/environment.js': { globals: ['process'], why: 'read only when `typeof process !== "undefined"` (isNode)' },
  'lib0/buffer.js': {
    globals: ['Buffer'],
    why: "in lib0's Node base64 helpers; the library never calls lib0's base64 (signaling/crypto.ts has its own)",
  },
  'yjs/dist/yjs.mjs': { globals: ['global'], why: 'read only when `typeof global !== "undefined"`' },
  'obug/dist/plain.js': { globals: ['process'], why: 'DEBUG read only when `typeof process !== "undefined"`' },
  'distribunator/dist/distribunator.js': {
    globals: ['process'],
    why: 'transport/peer-connection.ts reads `process.versions.node` only when `typeof process !== "undefined"` and the runtime has no RTCPeerConnection',
  },
}

const problems: string[] = []

const { chunks, warnings } = await buildFreshViteApp()
typecheckApp()
checkInstallTree()
for (const warning of warnings) problems.push(`build warning: ${warning}`)
const built = new Set(chunks.map((chunk) => chunk.fileName))
for (const chunk of chunks) {
  for (const id of [...chunk.imports, ...chunk.dynamicImports]) {
    if (!built.has(id)) problems.push(`${chunk.fileName} still imports "${id}": a browser cannot load it`)
  }
  for (const [id, module] of Object.entries(chunk.modules)) {
    const audited = AUDITED[id.split('node_modules/').at(-1) ?? id]?.globals ?? []
    for (const name of nodeGlobalsRead(module.code ?? '')) {
      if (!audited.includes(name)) problems.push(`${id} reads Node's \`${name}\`, which browsers lack (not audited)`)
    }
  }
}

const size = total(await Promise.all(chunks.map((chunk) => measure(chunk.fileName, chunk.code, 'module'))))
console.log(sizeLine('fresh Vite app (ESM + dependencies, bundled)', size))
if (problems.length > 0) {
  console.error(`\nA browser app installing the package would need Node polyfills, config or a native package:\n- ${problems.join('\n- ')}`)
  process.exit(1)
}
console.log(`fresh Vite app: built with zero config, no Node polyfills needed (${APP_DIR}/dist)`)

/** Resolves what `npm install` of the packed package pulls (lockfile only) and refuses native packages. */
function checkInstallTree(): void {
  const dir = mkdtempSync(join(tmpdir(), 'distribunator-install-'))
  try {
    const tarball = packPackage(dir)
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'an-app', private: true, dependencies: { distribunator: `file:${tarball}` } }),
    )
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean; peer?: boolean }>
    }
    const installed = Object.entries(lock.packages).filter(([path]) => path !== '')
    const before = problems.length
    for (const [path, entry] of installed) {
      if (path.endsWith('node_modules/node-datachannel'))
        problems.push(`npm install pulls node-datachannel (${path}): it must stay an optional peer`)
      if (entry.hasInstallScript === true)
        problems.push(`npm install pulls ${path}, which runs an install script (a native build or download)`)
    }
    if (problems.length === before)
      console.log(`npm install distribunator: ${installed.length} packages, none native, none with an install script`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Type-checks the app's main.ts against the installed package's declarations, lib checks included. */
function typecheckApp(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', APP_DIR], { encoding: 'utf8' })
  } catch (error) {
    problems.push(`the app does not type-check:\n${(error as { stdout?: string }).stdout ?? String(error)}`)
  }
}
