/**
 * Relays of the mesh for real: Node processes in network namespaces of their own (real
 * WebRTC, a real signaling server), where A and B each reach the hubs H and H2 but no route
 * joins A and B. Their WebRTC fails for real, and they link through a hub: names, calls,
 * casts in order, rpc and monitors cross it; when H is killed, H2 carries them with no
 * nodedown; once a path between A and B appears, they take it with no nodedown. And a node
 * C that reaches no one but the signaling server links through it, where it relays.
 *
 *   S (signaling; forwards nothing) ── each of A, B, H, H2
 *   A ── H ── B        A ── H2 ── B        (A ── B only in the last case, added later)
 */
import { afterEach, describe, expect, it } from 'vitest'
import { EdgeProcess } from './fixtures/edge-process.js'
import { Topology } from './fixtures/netns.js'
import { startSignalProcess, type SignalProcess } from './fixtures/signal-process.js'
import { untilAsync } from './helpers.js'

const PORT = 4444
/** A try that cannot connect gives up after this long (and asks for a relay). */
const CONNECT_TIMEOUT = 2500

let topology: Topology | undefined
let server: SignalProcess | undefined
const edges: EdgeProcess[] = []
let run = 0

afterEach(async () => {
  await Promise.all(edges.splice(0).map((e) => e.close()))
  await server?.stop()
  server = undefined
  await topology?.destroy()
  topology = undefined
})

interface World {
  readonly topology: Topology
  /** Starts a node on `host`, signaling through its own link to S. */
  node(host: string): Promise<EdgeProcess>
}

/** S, the hosts, a link from each host to S, and the links given; `serverArgs` for S's command line. */
async function world(hosts: string[], links: [string, string][], serverArgs: string[] = []): Promise<World> {
  const t = Topology.create(`dr${process.pid % 1000}${++run}`)
  topology = t
  await t.add('s', ...hosts)
  const toServer = new Map<string, string>()
  for (const host of hosts) {
    const addresses = await t.link('s', host)
    toServer.set(host, addresses.s!)
  }
  for (const [a, b] of links) await t.link(a, b)
  server = await startSignalProcess(['--port', String(PORT), '--host', '0.0.0.0', ...serverArgs], t.ns('s'))
  const room = `relay-${run}`
  return {
    topology: t,
    async node(host) {
      const edge = await EdgeProcess.start(
        { nodeId: host, room, signaling: [`ws://${toServer.get(host)}:${PORT}`], connectTimeout: CONNECT_TIMEOUT },
        t.ns(host),
      )
      edges.push(edge)
      return edge
    },
  }
}

const linkTo = async (edge: EdgeProcess, peer: string): Promise<string | undefined> =>
  (await edge.state()).links.find((l) => l.node === peer && l.up)?.via

const downs = (edge: EdgeProcess): string[] => edge.events.filter((e) => e.event === 'nodedown').map((e) => `${e.node}: ${e.reason}`)

describe('relays of the mesh across network namespaces (real WebRTC)', () => {
  it('A and B, with no route between them, link through H: names, calls, casts in order, rpc, monitors', async () => {
    const w = await world(
      ['a', 'b', 'h'],
      [
        ['a', 'h'],
        ['b', 'h'],
      ],
    )
    const [h, a, b] = [await w.node('h'), await w.node('a'), await w.node('b')]
    await Promise.all([a.sees('h'), b.sees('h'), h.sees('a'), h.sees('b')])
    await Promise.all([a.sees('b'), b.sees('a')])
    expect(await linkTo(a, 'b')).toBe('relay:h')
    expect(await linkTo(a, 'h')).toBe('webrtc')

    await b.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await b.command({ cmd: 'serve', name: 'inbox', behaviour: 'inbox' })
    await untilAsync(async () => (await a.state()).registry.inbox?.[0] === 'b', 10_000)
    expect(await a.command({ cmd: 'call', name: 'echo', msg: 'through h' })).toEqual({ echo: 'through h', by: 'b' })
    await a.command({ cmd: 'castMany', name: 'inbox', count: 300 })
    await untilAsync(async () => ((await a.command({ cmd: 'call', name: 'inbox', msg: 'read' })) as unknown[]).length === 300, 10_000)
    expect(await a.command({ cmd: 'call', name: 'inbox', msg: 'read' })).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(await a.command({ cmd: 'rpc', node: 'b', fn: 'add', args: [20, 22] })).toBe(42)
    const down = a.command({ cmd: 'monitor', name: 'echo' })
    // A call after the monitor, on the same link: once it is answered, b holds the monitor.
    await a.command({ cmd: 'call', name: 'echo', msg: 'after the monitor' })
    await b.command({ cmd: 'exit', name: 'echo', reason: 'done' })
    expect(await down).toBe('done')
    expect(downs(a)).toEqual([])
  })

  it('when H is killed, H2 carries A and B with no nodedown', async () => {
    const w = await world(
      ['a', 'b', 'h', 'h2'],
      [
        ['a', 'h'],
        ['b', 'h'],
        ['a', 'h2'],
        ['b', 'h2'],
      ],
    )
    const [h, h2, a, b] = [await w.node('h'), await w.node('h2'), await w.node('a'), await w.node('b')]
    await Promise.all([a.sees('b'), b.sees('a'), a.sees('h'), a.sees('h2'), b.sees('h'), b.sees('h2')])
    const used = await linkTo(a, 'b')
    expect(used).toMatch(/^relay:h2?$/)
    const [gone, staying] = used === 'relay:h' ? [h, 'h2'] : [h2, 'h']
    await b.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await untilAsync(async () => (await a.state()).registry.echo?.[0] === 'b', 10_000)
    // Seen by heartbeat on a direct link: through the other relay node, its Close would tell first.
    for (const e of [a, b]) await e.linkedDirectly(gone.settings.nodeId)
    gone.crash()
    await untilAsync(async () => (await linkTo(a, 'b')) === `relay:${staying}` && (await linkTo(b, 'a')) === `relay:${staying}`, 15_000)
    expect(await a.command({ cmd: 'call', name: 'echo', msg: 'after' })).toEqual({ echo: 'after', by: 'b' })
    const goneId = gone.settings.nodeId
    for (const e of [a, b]) expect(downs(e)).toEqual([`${goneId}: heartbeat timeout`])
  })

  it('takes a direct path that appears later, with no nodedown', async () => {
    const w = await world(
      ['a', 'b', 'h'],
      [
        ['a', 'h'],
        ['b', 'h'],
      ],
    )
    const [h, a, b] = [await w.node('h'), await w.node('a'), await w.node('b')]
    await Promise.all([a.sees('b'), b.sees('a'), h.sees('a'), h.sees('b')])
    expect(await linkTo(a, 'b')).toBe('relay:h')
    await w.topology.link('a', 'b')
    // a retries with backoff (2 s, 4 s, …); the new path's candidates come with the next try.
    await untilAsync(async () => (await linkTo(a, 'b')) === 'webrtc' && (await linkTo(b, 'a')) === 'webrtc', 45_000)
    expect(downs(a)).toEqual([])
    expect(downs(b)).toEqual([])
  })

  it('C, which reaches no one but the server, links through it (--relay) and takes a direct path that appears later', async () => {
    const w = await world(['a', 'b', 'c'], [['a', 'b']], ['--relay'])
    const [a, b, c] = [await w.node('a'), await w.node('b'), await w.node('c')]
    await Promise.all([a.sees('b'), a.sees('c'), b.sees('c'), c.sees('a'), c.sees('b')])
    expect(await linkTo(a, 'b')).toBe('webrtc')
    expect([await linkTo(c, 'a'), await linkTo(c, 'b'), await linkTo(a, 'c')]).toEqual(['server-relay', 'server-relay', 'server-relay'])
    await c.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await untilAsync(async () => (await a.state()).registry.echo?.[0] === 'c', 10_000)
    expect(await a.command({ cmd: 'call', name: 'echo', msg: 'through the server' })).toEqual({ echo: 'through the server', by: 'c' })
    expect(await c.command({ cmd: 'rpc', node: 'b', fn: 'add', args: [20, 22] })).toBe(42)

    await w.topology.link('a', 'c')
    await untilAsync(async () => (await linkTo(a, 'c')) === 'webrtc' && (await linkTo(c, 'a')) === 'webrtc', 45_000)
    expect(await linkTo(c, 'b')).toBe('server-relay')
    expect(await a.command({ cmd: 'call', name: 'echo', msg: 'direct' })).toEqual({ echo: 'direct', by: 'c' })
    for (const e of [a, b, c]) expect(downs(e)).toEqual([])
  })
})
