/**
 * Deno and Bun processes are nodes: the same edge-node.ts as the Node edge peers, run by the
 * `deno` and `bun` binaries from npm (dev dependencies), with WebRTC from node-datachannel,
 * in one room with a Node process over real WebRTC through a real signaling server — names,
 * calls, casts in order, rpc, and a kill -9 seen by the others. Then the signaling server
 * itself under each runtime, meshing Node processes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { EdgeProcess, type EdgeRuntime } from './fixtures/edge-process.js'

let server: SignalingServer
const edges: EdgeProcess[] = []
let room = 0

beforeAll(async () => {
  server = await startSignalingServer({ port: 0 })
})
afterAll(async () => {
  await server.close()
})
afterEach(async () => {
  await Promise.all(edges.splice(0).map((e) => e.close()))
})

/** One process per runtime, `<runtime>-node`, in a fresh room on `signaling`; resolves once all see each other. */
async function room3(signaling = `ws://127.0.0.1:${server.port}`): Promise<Record<EdgeRuntime, EdgeProcess>> {
  const name = `runtimes-${++room}`
  const runtimes: EdgeRuntime[] = ['node', 'deno', 'bun']
  const started = await Promise.all(
    runtimes.map((runtime) => EdgeProcess.start({ nodeId: runtime, room: name, signaling: [signaling] }, undefined, runtime)),
  )
  edges.push(...started)
  await Promise.all(started.map((e) => Promise.all(runtimes.filter((id) => id !== e.settings.nodeId).map((id) => e.sees(id)))))
  return { node: started[0]!, deno: started[1]!, bun: started[2]! }
}

describe('Deno and Bun processes are nodes', () => {
  it('a Node, a Deno and a Bun process: names, calls, casts in order and rpc every way', async () => {
    const all = await room3()
    for (const [runtime, edge] of Object.entries(all)) await edge.command({ cmd: 'serve', name: `echo-${runtime}`, behaviour: 'echo' })
    await all.bun.command({ cmd: 'serve', name: 'inbox', behaviour: 'inbox' })
    for (const caller of Object.values(all)) {
      for (const runtime of Object.keys(all)) {
        await caller.seesName(`echo-${runtime}`, [runtime])
        expect(await caller.command({ cmd: 'call', name: `echo-${runtime}`, msg: { from: caller.settings.nodeId } })).toEqual({
          echo: { from: caller.settings.nodeId },
          by: runtime,
        })
      }
    }
    await all.deno.seesName('inbox', ['bun'])
    await all.deno.command({ cmd: 'castMany', name: 'inbox', count: 500 })
    // The inbox answers a call with what it has: the link is ordered, so all 500 came first.
    expect(await all.deno.command({ cmd: 'call', name: 'inbox', msg: null })).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(await all.node.command({ cmd: 'rpc', node: 'deno', fn: 'add', args: [2, 3] })).toBe(5)
    expect(await all.deno.command({ cmd: 'rpc', node: 'bun', fn: 'add', args: [4, 5] })).toBe(9)
    expect(await all.bun.command({ cmd: 'rpc', node: 'node', fn: 'add', args: [6, 7] })).toBe(13)
    for (const edge of Object.values(all)) expect((await edge.state()).protocolErrors).toBe(0)
  })

  it.each(['deno', 'bun'] as const)(
    'kill -9 of the %s process: the others see it go down by heartbeat, and its names go',
    async (victim) => {
      const all = await room3()
      await all[victim].command({ cmd: 'serve', name: 'doomed', behaviour: 'echo' })
      const survivors = Object.values(all).filter((e) => e !== all[victim])
      for (const survivor of survivors) await survivor.seesName('doomed', [victim])
      // Heartbeats on a direct link are what this tests: through the third node, its Close
      // would tell of the crash first (reason 'closed').
      for (const survivor of survivors) await survivor.linkedDirectly(victim)
      all[victim].crash()
      for (const survivor of survivors) {
        await survivor.until(() => survivor.last(victim)?.event === 'nodedown')
        expect(survivor.last(victim)?.reason).toBe('heartbeat timeout')
        expect((await survivor.state()).registry.doomed).toBeUndefined()
      }
    },
  )
})

describe('the signaling server under Deno and Bun', () => {
  const cli = fileURLToPath(new URL('../signaling-server/cli.ts', import.meta.url))
  const bin = (name: string): string => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url))
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
  })

  /** Starts the CLI under `runtime` on a free port; resolves with its URL once it listens. */
  async function serve(runtime: 'deno' | 'bun'): Promise<string> {
    const args = runtime === 'bun' ? ['run', cli, '--port', '0'] : ['run', '--allow-all', '--unstable-sloppy-imports', cli, '--port', '0']
    const child = spawn(bin(runtime), args, { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    return new Promise((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        out += String(chunk)
        const url = /listening on (ws:\/\/\S+)/.exec(out)?.[1]
        if (url !== undefined) resolve(url)
      })
      child.once('exit', (code) => reject(new Error(`the ${runtime} signaling server exited (${code}): ${out}`)))
    })
  }

  it.each(['deno', 'bun'] as const)('under %s, it meshes a Node, a Deno and a Bun process', async (runtime) => {
    const url = await serve(runtime)
    const all = await room3(url)
    await all.node.command({ cmd: 'serve', name: 'here', behaviour: 'echo' })
    await all[runtime].seesName('here', ['node'])
    expect(await all[runtime].command({ cmd: 'call', name: 'here', msg: 1 })).toEqual({ echo: 1, by: 'node' })
  })
})
