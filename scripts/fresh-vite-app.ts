/**
 * Builds e2e/apps/fresh-vite-app as an app that installed this package would build it. The
 * package is packed (`npm pack`: exactly what npm would publish) and unpacked into the app's
 * node_modules/distribunator; its dependencies resolve from the repository's node_modules
 * further up, as after a hoisted `npm install`. Vite runs with no config at all.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build, createLogger, type Rolldown } from 'vite'

/** The app's directory; it builds into `dist/` there. */
export const APP_DIR = resolve(import.meta.dirname, '../e2e/apps/fresh-vite-app')

/** What the app's build wrote and what it warned about. */
export interface FreshAppBuild {
  readonly chunks: readonly Rolldown.OutputChunk[]
  readonly warnings: readonly string[]
}

/** Packs the package (dist/ must be built) into `dir`, exactly as npm would publish it; returns the tarball's path. */
export function packPackage(dir: string): string {
  const root = resolve(import.meta.dirname, '..')
  // --ignore-scripts: a future `prepack` that builds would otherwise run inside the build.
  const output = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const [{ filename }] = JSON.parse(output) as [{ filename: string }]
  return join(dir, filename)
}

/** Packs the package and installs the tarball into the app. */
export function installPackedPackage(): void {
  const packDir = mkdtempSync(join(tmpdir(), 'distribunator-pack-'))
  try {
    const tarball = packPackage(packDir)
    const target = join(APP_DIR, 'node_modules/distribunator')
    rmSync(target, { recursive: true, force: true })
    mkdirSync(target, { recursive: true })
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'])
  } finally {
    rmSync(packDir, { recursive: true, force: true })
  }
}

/** Installs the packed package and builds the app with Vite's defaults. */
export async function buildFreshViteApp(): Promise<FreshAppBuild> {
  installPackedPackage()
  const warnings: string[] = []
  const logger = createLogger('warn')
  const warn = logger.warn.bind(logger)
  logger.warn = (message, options) => {
    warnings.push(message)
    warn(message, options)
  }
  logger.warnOnce = logger.warn
  const result = await build({ root: APP_DIR, configFile: false, customLogger: logger, logLevel: 'warn' })
  const outputs = Array.isArray(result) ? result : [result as Rolldown.RolldownOutput]
  const chunks = outputs.flatMap((o) => o.output.filter((file) => file.type === 'chunk'))
  return { chunks, warnings }
}
