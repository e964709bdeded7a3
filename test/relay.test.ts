/**
 * Relays of the mesh on the memory network, with `reportUnreachable` (a dial across a cut
 * tells the node, as a failed WebRTC negotiation does): two nodes that cannot link directly
 * link through a node both reach — names, calls, casts in order, rpc, monitors and shared
 * documents all cross it; when the relay goes and another common node exists, the tunnel
 * moves there without a nodedown; when the direct path comes back, traffic moves to it
 * without one; relays stay within their limits. (With real WebRTC across network
 * namespaces: relay.integration.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createMemoryNetwork, startNode, type DistribunatorNode, type MemoryNetwork, type NodeOptions, type Pid } from '../src/index.js'
import { until } from './helpers.js'

const started: DistribunatorNode[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function start(network: MemoryNetwork, nodeId: string, extra: Partial<NodeOptions> = {}): Promise<DistribunatorNode> {
  const node = await startNode({ room: 'relay', nodeId, transport: network.transport(), ...extra })
  started.push(node)
  return node
}

/** Every nodedown a node reports. */
function downs(node: DistribunatorNode): string[] {
  const seen: string[] = []
  node.on('nodedown', ({ node: peer, reason }) => seen.push(`${peer}: ${reason}`))
  return seen
}

const via = (node: DistribunatorNode, peer: string): string | undefined => node.links().find((l) => l.node === peer)?.via

/** a and b, which cannot link (cut from the start), and the hubs each of them reaches. */
async function cutPair(
  hubs: string[],
  hubOptions: Partial<NodeOptions> = {},
): Promise<{
  network: MemoryNetwork
  a: DistribunatorNode
  b: DistribunatorNode
  hub: DistribunatorNode[]
}> {
  const network = createMemoryNetwork({ reportUnreachable: true })
  network.partition(['a'], ['b'])
  const hub = []
  for (const id of hubs) hub.push(await start(network, id, hubOptions))
  const a = await start(network, 'a')
  const b = await start(network, 'b')
  await until(() => a.nodes().includes('b') && b.nodes().includes('a'), 5000)
  return { network, a, b, hub }
}

describe('a relay of the mesh', () => {
  it('links two nodes that cannot link directly through a node both reach: names, calls, casts in order, rpc, monitors, documents', async () => {
    const { a, b } = await cutPair(['h'])
    expect(via(a, 'b')).toBe('relay:h')
    expect(via(b, 'a')).toBe('relay:h')
    // Names and calls.
    const echo = b.spawn({ handleCall: (msg: unknown) => ({ echo: msg, by: b.id }) })
    b.register('echo', echo)
    await until(() => a.pidOf('echo') !== undefined)
    expect(await a.call('echo', 'through h')).toEqual({ echo: 'through h', by: 'b' })
    // Casts, in order.
    const got: number[] = []
    const sink = b.spawn({ handleCast: (n: number) => void got.push(n) })
    for (let i = 0; i < 200; i++) a.cast(sink, i)
    await until(() => got.length === 200)
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i))
    // rpc.
    b.expose('math', { add: (x: number, y: number) => x + y })
    expect(await a.doNodeRpc('b', 'math', 'add', [2, 3])).toBe(5)
    // Monitors (held on b once a call after it has come back).
    const monitor = a.monitor(echo)
    await a.call(echo, 'monitored')
    b.exit(echo, 'done')
    expect((await monitor).reason).toBe('done')
    // A shared document.
    const [docA, docB] = [new Y.Doc(), new Y.Doc()]
    a.share(docA, 'notes')
    b.share(docB, 'notes')
    docA.getMap('m').set('from', 'a')
    await until(() => docB.getMap('m').get('from') === 'a')
  })

  it('moves to another common node when the relay goes, with no nodedown', async () => {
    const { network, a, b } = await cutPair(['h1', 'h2'])
    const [aDowns, bDowns] = [downs(a), downs(b)]
    const used = via(a, 'b')
    expect(used).toMatch(/^relay:h[12]$/)
    const gone = used === 'relay:h1' ? 'h1' : 'h2'
    const staying = gone === 'h1' ? 'h2' : 'h1'
    const echo = b.spawn({ handleCall: (msg: unknown) => msg })
    b.register('echo', echo)
    await until(() => a.pidOf('echo') !== undefined)
    network.kill(gone)
    await until(() => via(a, 'b') === `relay:${staying}` && via(b, 'a') === `relay:${staying}`, 5000)
    expect(await a.call('echo', 'after')).toBe('after')
    expect(a.nodes().sort()).toEqual(['b', staying])
    expect(aDowns).toEqual([`${gone}: killed`])
    expect(bDowns).toEqual([`${gone}: killed`])
  })

  it('without another common node, the far node goes down when the relay does', async () => {
    const { network, a, b } = await cutPair(['h'])
    const aDowns = downs(a)
    network.kill('h')
    await until(() => !a.nodes().includes('b'), 5000)
    expect(aDowns.sort()).toEqual(['b: gateway h down', 'h: killed'])
    expect(b.nodes()).toEqual([])
  })

  it('takes the direct path once it is there, with no nodedown', async () => {
    const { network, a, b } = await cutPair(['h'])
    const [aDowns, bDowns] = [downs(a), downs(b)]
    expect(via(a, 'b')).toBe('relay:h')
    network.heal()
    await until(() => via(a, 'b') === 'memory' && via(b, 'a') === 'memory', 5000)
    // The tunnel falls quiet and closes; both keep the node.
    expect(aDowns).toEqual([])
    expect(bDowns).toEqual([])
    expect(a.nodes().sort()).toEqual(['b', 'h'])
  })

  it('relays for at most maxPairs pairs', async () => {
    const network = createMemoryNetwork({ reportUnreachable: true })
    network.partition(['a', 'c'], ['b', 'd'])
    const h = await start(network, 'h', { relay: { maxPairs: 1 } })
    const nodes = await Promise.all(['a', 'b', 'c', 'd'].map((id) => start(network, id)))
    const [a, b, c, d] = nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode, DistribunatorNode]
    await until(() => nodes.every((n) => n.nodes().includes('h')), 5000)
    // Four cut pairs, one relayed: one pair sees each other across the cut, from both ends.
    const side = (id: string): boolean => id === 'a' || id === 'c'
    const across = (): string[] => [a, b, c, d].flatMap((n) => n.nodes().filter((id) => id !== 'h' && side(n.id) !== side(id)))
    await until(() => across().length === 2, 5000)
    // Every other ask has reached h by the time a call through h comes back.
    h.expose('probe', { ok: () => true })
    for (const n of [a, b, c, d]) await n.doNodeRpc('h', 'probe', 'ok', [])
    expect(across()).toHaveLength(2)
    expect(h.nodes().sort()).toEqual(['a', 'b', 'c', 'd'])
  })

  it('relays nothing with maxPairs 0', async () => {
    const network = createMemoryNetwork({ reportUnreachable: true })
    network.partition(['a'], ['b'])
    const h = await start(network, 'h', { relay: { maxPairs: 0 } })
    const [a, b] = [await start(network, 'a'), await start(network, 'b')]
    await until(() => h.nodes().length === 2 && a.nodes().includes('h') && b.nodes().includes('h'))
    // Both have asked h by the time a call through h comes back: it opened nothing.
    h.expose('probe', { ok: () => true })
    for (const n of [a, b]) await n.doNodeRpc('h', 'probe', 'ok', [])
    expect([a.nodes(), b.nodes()]).toEqual([['h'], ['h']])
  })

  it('closes a relayed tunnel that goes over maxBytesPerSecond, and refuses the pair a while', async () => {
    const { a, b, hub } = await cutPair(['h'], { relay: { maxBytesPerSecond: 64 * 1024 } })
    const aDowns = downs(a)
    const sink: Pid = b.spawn({ handleCast: () => undefined })
    const big = new Uint8Array(32 * 1024)
    for (let i = 0; i < 16; i++) a.cast(sink, big)
    await until(() => !a.nodes().includes('b'), 5000)
    expect(aDowns).toEqual(['b: closed'])
    // Asking again does not reset the allowance: a's ask has reached h by the time a call
    // through h comes back, and h opened no new tunnel.
    hub[0]!.expose('probe', { ok: () => true })
    await a.doNodeRpc('h', 'probe', 'ok', [])
    expect(a.nodes()).toEqual(['h'])
  })
})
