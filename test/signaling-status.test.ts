/**
 * What a node tells of its signaling servers, and how it uses a cluster, over real sockets:
 * each server's state ('connecting', 'connected', 'failing' with the reason) as an event and
 * in `node.signaling()`; a `{ cluster }` used at one URL at a time, failing over to the next
 * member; and direct signaling: negotiation goes only to the node it is for, never to the
 * rest of the room.
 */
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { startNode, type DistribunatorNode, type SignalingStatus } from '../src/index.js'
import { SignalingClient } from '../src/signaling/client.js'
import { recordUncaught, until } from './helpers.js'

const uncaught = recordUncaught()
const servers: SignalingServer[] = []
const nodes: DistribunatorNode[] = []
const spies: SignalingClient[] = []
let room = 0

afterEach(async () => {
  for (const spy of spies.splice(0)) spy.close()
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
  room++
  expect(uncaught).toEqual([])
})

async function server(port = 0): Promise<SignalingServer> {
  const started = await startSignalingServer({ port })
  servers.push(started)
  return started
}

async function node(nodeId: string, signaling: Parameters<typeof startNode>[0]['signaling']): Promise<DistribunatorNode> {
  const started = await startNode({ room: `status-${room}`, nodeId, signaling })
  nodes.push(started)
  return started
}

/** A free port with nothing listening on it (yet). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

describe('node.signaling(): how each server is doing', () => {
  it('an unreachable server is failing, with the reason, and connected once it is up; each change is an event', async () => {
    const port = await freePort()
    const url = `ws://127.0.0.1:${port}`
    const events: SignalingStatus[] = []
    const n = await node('a', [url])
    n.on('signaling', (status) => events.push(status))
    await until(() => n.signaling()[0]?.state === 'failing', 5000)
    const failing = n.signaling()[0]!
    expect(failing).toMatchObject({ server: url, url, state: 'failing', received: 0 })
    expect(failing.error).toMatch(/ECONNREFUSED|1006/)
    await server(port)
    await until(() => n.signaling()[0]?.state === 'connected', 15_000)
    expect(n.signaling()).toEqual([
      { server: url, url, state: 'connected', since: expect.any(Number), received: expect.any(Number), relay: false },
    ])
    expect(events.map((e) => e.state)).toContain('connected')
    expect(events.at(-1)?.state).toBe('connected')
  })

  it('a server that goes away is failing with why, and a node without signaling has none', async () => {
    const s = await server()
    const n = await node('a', [s.url])
    await until(() => n.signaling()[0]?.state === 'connected', 5000)
    await s.close()
    await until(() => n.signaling()[0]?.state === 'failing', 5000)
    expect(n.signaling()[0]?.error).toMatch(/1001 server shutting down/)
    const lone = await startNode({ room: 'none' })
    nodes.push(lone)
    expect(lone.signaling()).toEqual([])
  })
})

describe('a cluster: one member at a time', () => {
  it('connects to one of the URLs only, and moves to another when it goes', async () => {
    const members = [await server(), await server(), await server()]
    const cluster = { cluster: members.map((m) => m.url) }
    const n = await node('a', [cluster])
    await until(() => n.signaling()[0]?.state === 'connected', 5000)
    expect(members.map((m) => m.connections()).reduce((x, y) => x + y)).toBe(1)
    const used = members.find((m) => m.connections() === 1)!
    expect(n.signaling()[0]).toMatchObject({ server: cluster, url: used.url })
    await used.close()
    await until(() => n.signaling()[0]?.state === 'connected' && n.signaling()[0]?.url !== used.url, 5000)
    expect(
      members
        .filter((m) => m !== used)
        .map((m) => m.connections())
        .sort(),
    ).toEqual([0, 1])
  })
})

describe('direct signaling', () => {
  it('offers, answers and candidates go to the node they are for, not to the room', async () => {
    const s = await server()
    const seen: string[] = []
    // A bystander on the room's topic only, as every node is: it reads every payload published there.
    const spy = new SignalingClient({ urls: [s.url], topic: `status-${room}` })
    spies.push(spy)
    spy.on('message', (payload) => seen.push(String(payload.type)))
    await new Promise<void>((resolve) => spy.once('connect', () => resolve()))
    const [a, b] = [await node('a', [s.url]), await node('b', [s.url])]
    await until(() => a.nodes().includes('b') && b.nodes().includes('a'), 15_000)
    // The link formed over WebRTC, negotiated through the server...
    expect(a.links()).toEqual([expect.objectContaining({ node: 'b', via: 'webrtc', up: true })])
    // ...and the room saw the announces only.
    await until(() => seen.filter((t) => t === 'announce').length >= 2)
    expect(seen.filter((t) => t !== 'announce')).toEqual([])
    // Each node received its peer's negotiation: more than the announces alone.
    expect(a.signaling()[0]!.received + b.signaling()[0]!.received).toBeGreaterThan(seen.length)
  })
})
