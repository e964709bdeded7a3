/**
 * The server relay, over real sockets: a node without WebRTC (`webrtc: false`, as a browser
 * or worker without RTCPeerConnection is) links to its peers through signaling servers that
 * relay (`relay: true`), and is a full member — names, calls, casts in order, rpc, large
 * messages, its workers reached through it; with a room password the server sees only sealed payloads; a server that does not
 * relay carries nothing; two servers of a Redis cluster relay between them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer, type SignalingServerOptions } from '../signaling-server/index.js'
import { startNode, type DistribunatorNode, type NodeOptions } from '../src/index.js'
import { SignalingClient } from '../src/signaling/client.js'
import { directTopic } from '../src/signaling/direct-topic.js'
import { startRedis, type RedisServer } from './fixtures/redis-server.js'
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

async function server(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const started = await startSignalingServer({ port: 0, relay: true, ...options })
  servers.push(started)
  return started
}

async function node(nodeId: string, options: Partial<NodeOptions>): Promise<DistribunatorNode> {
  const started = await startNode({ room: `server-relay-${room}`, nodeId, ...options })
  nodes.push(started)
  return started
}

const via = (n: DistribunatorNode, peer: string): string | undefined => n.links().find((l) => l.node === peer && l.up)?.via

describe('a node without WebRTC, through servers that relay', () => {
  it('is a full member: names, calls, casts in order, rpc and a 2 MiB message, with a WebRTC node and another without', async () => {
    const s = await server()
    const withWebrtc = await node('a', { signaling: [s.url] })
    const without = await node('b', { signaling: [s.url], webrtc: false })
    const alsoWithout = await node('c', { signaling: [s.url], webrtc: false })
    const all = [withWebrtc, without, alsoWithout]
    await until(() => all.every((n) => n.nodes().length === 2), 15_000)
    expect(via(withWebrtc, 'b')).toBe('server-relay')
    expect(via(without, 'c')).toBe('server-relay')
    expect(without.signaling()[0]).toMatchObject({ state: 'connected', relay: true })

    const echo = without.spawn({ handleCall: (msg: unknown) => msg })
    without.register('echo', echo)
    await until(() => withWebrtc.pidOf('echo') !== undefined && alsoWithout.pidOf('echo') !== undefined)
    expect(await withWebrtc.call('echo', 'to b')).toBe('to b')
    const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251)
    expect(await alsoWithout.call('echo', big)).toEqual(big)
    const got: number[] = []
    const sink = withWebrtc.spawn({ handleCast: (n: number) => void got.push(n) })
    for (let i = 0; i < 300; i++) without.cast(sink, i)
    await until(() => got.length === 300)
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i))
    withWebrtc.expose('math', { add: (x: number, y: number) => x + y })
    expect(await without.doNodeRpc('a', 'math', 'add', [2, 40])).toBe(42)
  })

  it('its workers are reached through it, and reach everyone', async () => {
    const s = await server()
    const a = await node('a', { signaling: [s.url] })
    const b = await node('b', { signaling: [s.url], webrtc: false })
    const scope = new MessageChannel()
    const w = await startNode({ room: `server-relay-${room}`, nodeId: 'w', parent: scope.port2 })
    nodes.push(w)
    b.attachWorker(scope.port1)
    await until(() => a.nodes().includes('w') && w.nodes().includes('a'), 15_000)
    expect(via(a, 'w')).toBe('relay:b')
    expect(via(b, 'a')).toBe('server-relay')
    w.register('echo', w.spawn({ handleCall: (msg: unknown) => msg }))
    a.register('echo-a', a.spawn({ handleCall: (msg: unknown) => msg }))
    await until(() => a.pidOf('echo') !== undefined && w.pidOf('echo-a') !== undefined)
    expect(await a.call('echo', 'to the worker')).toBe('to the worker')
    expect(await w.call('echo-a', 'from the worker')).toBe('from the worker')
  })

  it('with a room password, the server relays sealed payloads only', async () => {
    const s = await server()
    const password = 'cookie'
    const b = await node('b', { signaling: [s.url], webrtc: false, password })
    // A bystander on b's own topic, without the password: what the server passes on to b.
    const seen: unknown[] = []
    const spy = new SignalingClient({
      urls: [s.url],
      topic: 'elsewhere',
      directTopic: directTopic(`server-relay-${room}`, { nodeId: b.id, incarnation: b.incarnation }),
    })
    spies.push(spy)
    spy.on('error', (error) => seen.push(error.message))
    await new Promise<void>((resolve) => spy.once('connect', () => resolve()))
    const a = await node('a', { signaling: [s.url], webrtc: false, password })
    await until(() => a.nodes().includes('b') && b.nodes().includes('a'), 15_000)
    const secret = 'a plain text that must not show'
    const echo = b.spawn({ handleCall: (msg: unknown) => msg })
    b.register('echo', echo)
    await until(() => a.pidOf('echo') !== undefined)
    expect(await a.call('echo', secret)).toBe(secret)
    // The spy, with no password, could open none of it: every payload was sealed.
    await until(() => seen.length > 0)
    expect(seen.every((m) => m === 'sealed payload, but no room password')).toBe(true)
  })

  it('a server that does not relay carries nothing; nodes with WebRTC still meet through it', async () => {
    const s = await server({ relay: false })
    const a = await node('a', { signaling: [s.url] })
    const c = await node('c', { signaling: [s.url] })
    const b = await node('b', { signaling: [s.url], webrtc: false })
    await until(() => a.nodes().includes('c') && c.nodes().includes('a'), 15_000)
    await until(() => b.signaling()[0]?.state === 'connected')
    expect(b.signaling()[0]?.relay).toBe(false)
    // b announced itself with a and c up: had anyone linked to it, they would be up by now.
    expect(a.nodes()).toEqual(['c'])
    expect(b.nodes()).toEqual([])
  })

  it('closes a socket that sends more than maxBytesPerSecond', async () => {
    const s = await server({ maxBytesPerSecond: 64 * 1024 })
    const a = await node('a', { signaling: [s.url], webrtc: false })
    const b = await node('b', { signaling: [s.url], webrtc: false })
    await until(() => a.nodes().includes('b'), 15_000)
    const sink = b.spawn({ handleCast: () => undefined })
    // Past the burst (12 MiB at least, one largest frame), at 64 KiB/s.
    for (let i = 0; i < 16; i++) a.cast(sink, new Uint8Array(1024 * 1024))
    await until(() => a.signaling()[0]?.error?.includes('byte rate limit exceeded') === true, 10_000)
  })
})

describe('across a Redis cluster', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis.stop()
  })

  it('a node without WebRTC on one server and one with it on another meet through both', async () => {
    const [one, two] = [await server({ redis: redis.url }), await server({ redis: redis.url })]
    await until(() => one.health().redis === 'up' && two.health().redis === 'up', 10_000)
    const a = await node('a', { signaling: [one.url] })
    const b = await node('b', { signaling: [two.url], webrtc: false })
    await until(() => a.nodes().includes('b') && b.nodes().includes('a'), 15_000)
    expect(via(a, 'b')).toBe('server-relay')
    b.expose('math', { add: (x: number, y: number) => x + y })
    expect(await a.doNodeRpc('b', 'math', 'add', [1, 2])).toBe(3)
  })
})
