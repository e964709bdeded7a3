/**
 * Messages larger than the node they are for accepts: peers tell each other their
 * `maxFrameBytes` in Hello, and a message over the far end's limit fails at once at the
 * sender with `MessageTooLargeError` (naming both sizes), while the link, the other pending
 * calls and the peer's names carry on. A peer that sends one anyway is hostile: the frame is
 * dropped and reported (hostile-peer.test.ts). Over real WebRTC: mesh.integration.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  MessageTooLargeError,
  RemoteError,
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type NodeOptions,
} from '../src/index.js'
import { cluster, until, type Cluster } from './helpers.js'

const MiB = 1024 * 1024

let current: Cluster | undefined
const started: DistribunatorNode[] = []
afterEach(async () => {
  await current?.stop()
  current = undefined
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** Node a (default limit, 8 MiB) and node b, which accepts frames up to 1 MiB. */
async function pair(): Promise<{ a: DistribunatorNode; b: DistribunatorNode; downs: string[]; errors: Error[] }> {
  current = await cluster(['a'])
  const b = await current.add('b', { maxFrameBytes: MiB })
  const a = current.nodes[0] as DistribunatorNode
  await until(() => a.nodes().includes('b') && b.nodes().includes('a'))
  const downs: string[] = []
  const errors: Error[] = []
  for (const n of [a, b]) {
    n.on('nodedown', ({ node }) => downs.push(`${n.id} lost ${node}`))
    n.on('error', (error) => errors.push(error))
  }
  return { a, b, downs, errors }
}

/** A payload whose encoded message is about `bytes` long. */
const payload = (bytes: number): Uint8Array => new Uint8Array(bytes)

/** Asserts a MessageTooLargeError for node `node` whose sizes are as given. */
function expectTooLarge(error: unknown, node: string, limit: number, atLeast: number): void {
  expect(error).toBeInstanceOf(MessageTooLargeError)
  const e = error as MessageTooLargeError
  expect(e.name).toBe('MessageTooLargeError')
  expect(e.node).toBe(node)
  expect(e.limit).toBe(limit)
  expect(e.bytes).toBeGreaterThan(atLeast)
  expect(e.message).toContain(String(e.bytes))
  expect(e.message).toContain(String(e.limit))
}

describe('a message over the far end’s maxFrameBytes', () => {
  it('a call fails at once at the sender, and nothing else is disturbed', async () => {
    const { a, b, downs, errors } = await pair()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const echo = b.spawn({
      handleCall: async (msg: unknown) => {
        if (msg === 'hold') await held
        return msg
      },
    })
    b.register('echo', echo)
    await until(() => a.pidOf('echo') !== undefined)
    const pending = a.call('echo', 'hold', { timeout: 60_000 })

    const startedAt = performance.now()
    const error = await a.call('echo', payload(4 * MiB), { timeout: 60_000 }).catch((e: unknown) => e)
    // At once: not after a timeout (none could pass in this test), not after the link dropped.
    expect(performance.now() - startedAt).toBeLessThan(1000)
    expectTooLarge(error, 'b', MiB, 4 * MiB)

    release()
    await expect(pending).resolves.toBe('hold')
    expect(await a.call('echo', payload(MiB / 2))).toHaveLength(MiB / 2)
    expect(a.nodes()).toEqual(['b'])
    expect(a.allPidsOf('echo')).toHaveLength(1)
    expect(downs).toEqual([])
    expect(errors).toEqual([])
  })

  it('a cast throws it, an rpc rejects with it; the link carries on', async () => {
    const { a, b, downs, errors } = await pair()
    const got: unknown[] = []
    const sink = b.spawn({ handleCast: (msg: unknown) => void got.push(msg) })
    b.register('sink', sink)
    b.expose('bytes', { length: (bytes: Uint8Array) => bytes.byteLength })
    await until(() => a.pidOf('sink') !== undefined)

    expect(() => a.cast('sink', payload(2 * MiB))).toThrow(MessageTooLargeError)
    expect(() => a.send(sink, payload(2 * MiB))).toThrow(MessageTooLargeError)
    expectTooLarge(await a.doNodeRpc('b', 'bytes', 'length', [payload(3 * MiB)]).catch((e: unknown) => e), 'b', MiB, 3 * MiB)

    expect(a.cast('sink', 'small')).toBe(true)
    expect(await a.doNodeRpc('b', 'bytes', 'length', [payload(1000)])).toBe(1000)
    await until(() => got.length === 1)
    expect(got).toEqual(['small'])
    expect(downs).toEqual([])
    expect(errors).toEqual([])
  })

  it('a reply too large for the caller reaches it as that error, and the link carries on', async () => {
    const { a, b, downs, errors } = await pair()
    const big = a.spawn({ handleCall: (size: number) => payload(size) })
    a.register('big', big)
    await until(() => b.pidOf('big') !== undefined)
    const error = await b.call('big', 2 * MiB).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).remoteName).toBe('MessageTooLargeError')
    expect((error as RemoteError).message).toContain(String(MiB))
    expect(await b.call('big', 10)).toHaveLength(10)
    expect(downs).toEqual([])
    expect(errors).toEqual([])
  })

  it('a peer with a lower limit is told by the other in its Hello (each side knows the other’s)', async () => {
    const network = createMemoryNetwork()
    const start = async (nodeId: string, extra: Partial<NodeOptions>): Promise<DistribunatorNode> => {
      const node = await startNode({ room: 'limits', nodeId, transport: network.transport(), ...extra })
      started.push(node)
      return node
    }
    const small = await start('small', { maxFrameBytes: 64 * 1024 })
    const large = await start('large', { maxFrameBytes: 4 * MiB })
    await until(() => small.nodes().includes('large') && large.nodes().includes('small'))
    large.expose('m', { id: (x: unknown) => x })
    small.expose('m', { id: (x: unknown) => x })
    const sent = payload(MiB)
    await expect(large.doNodeRpc('small', 'm', 'id', [sent])).rejects.toBeInstanceOf(MessageTooLargeError)
    // small → large: the request fits (large takes 4 MiB); its echo does not fit small's 64 KiB, and comes back as an error.
    const error = await small.doNodeRpc('large', 'm', 'id', [sent]).catch((e: unknown) => e)
    expect(String(error)).toMatch(/MessageTooLargeError/)
    expect(small.nodes()).toEqual(['large'])
  })
})

describe('through a tunnel', () => {
  it('the limit leaves room for the wrapping, at both the gateway and the far end', async () => {
    const network = createMemoryNetwork()
    const start = async (nodeId: string, extra: Partial<NodeOptions>): Promise<DistribunatorNode> => {
      const node = await startNode({ room: 'tunnels', nodeId, ...extra })
      started.push(node)
      return node
    }
    const page = await start('p', { transport: network.transport(), maxFrameBytes: 2 * MiB })
    const remote = await start('r', { transport: network.transport() })
    const scope = new MessageChannel()
    const worker = await start('w', { parent: scope.port2, maxFrameBytes: MiB })
    page.attachWorker(scope.port1)
    await until(() => [page, worker, remote].every((n) => n.nodes().length === 2))
    expect(remote.links().find((l) => l.node === 'w')?.via).toBe('relay:p')
    const sink = worker.spawn({ handleCall: (msg: Uint8Array) => msg.byteLength })
    worker.register('sink', sink)
    await until(() => remote.pidOf('sink') !== undefined)

    // Exactly at the worker's limit: it would fit a direct link, not a tunnel's wrapping.
    const error = await remote.call('sink', payload(MiB - 40)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MessageTooLargeError)
    expect((error as MessageTooLargeError).limit).toBeLessThan(MiB)
    expect(await remote.call('sink', payload(MiB - 4096))).toBe(MiB - 4096)
    scope.port1.close()
    scope.port2.close()
  })
})
