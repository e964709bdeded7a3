/**
 * node-datachannel is an optional peer dependency: a browser app's install pulls no native
 * binary (scripts/check-fresh-vite-app.ts proves that), and a Node, Deno or Bun process
 * without it is told what to install when it asks for WebRTC — tried in a real process of each
 * runtime where the package cannot be loaded (a resolve hook, an import map, a Bun plugin).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const bin = (name: string): string => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url))

type Runtime = 'node' | 'deno' | 'bun'

/** The command line that runs the fixture under `runtime`, with node-datachannel hidden from it if `hide`. */
function commandLine(runtime: Runtime, hide: boolean): [string, string[]] {
  const script = fixture('start-without-webrtc.ts')
  switch (runtime) {
    case 'node':
      return [process.execPath, ['--import', 'tsx', ...(hide ? ['--import', fixture('without-node-datachannel.mjs')] : []), script]]
    case 'deno':
      return [
        bin('deno'),
        [
          'run',
          '--allow-all',
          '--unstable-sloppy-imports',
          ...(hide ? [`--import-map=${fixture('without-node-datachannel.deno.json')}`] : []),
          script,
        ],
      ]
    case 'bun':
      return [bin('bun'), ['run', ...(hide ? ['--preload', fixture('without-node-datachannel.bun.mjs')] : []), script]]
  }
}

function start(runtime: Runtime, hide: boolean): { name?: string; message?: string; started?: boolean } {
  const [command, args] = commandLine(runtime, hide)
  return JSON.parse(execFileSync(command, args, { encoding: 'utf8', timeout: 30_000 }).trim().split('\n').at(-1)!) as never
}

describe.each(['node', 'deno', 'bun'] as const)('node-datachannel, an optional peer dependency, in %s', (runtime) => {
  it('without it, startNode with signaling fails with an error that names the package to install', () => {
    const outcome = start(runtime, true)
    expect(outcome.name).toBe('DistribunatorError')
    expect(outcome.message).toMatch(/is node-datachannel installed\? npm install node-datachannel/)
  })

  it('with it, the same process starts (the fixture itself is sound)', () => {
    expect(start(runtime, false)).toEqual({ started: true })
  })
})
