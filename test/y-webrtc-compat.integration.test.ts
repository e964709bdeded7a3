/**
 * Compatibility with y-webrtc, both ways:
 * - real y-webrtc `WebrtcProvider`s (one here, one in a child process: y-webrtc allows one
 *   provider per room name per process) sync a Y.Doc through OUR signaling server, with and
 *   without a room password (encrypted signaling);
 * - the protocol checks our server's suite makes — fan-out with `clients`, publish without
 *   subscribing, unsubscribe, ping — hold against y-webrtc's OWN server (`bin/server.js`) too,
 *   so our expectations are theirs.
 *
 * WebRTC in Node comes from node-datachannel's polyfill; simple-peer@9 (inside y-webrtc)
 * assigns to `.sdp`, so `createOffer`/`createAnswer` must return plain objects.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { RTCIceCandidate, RTCPeerConnection, RTCSessionDescription } from 'node-datachannel/polyfill'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebrtcProvider } from 'y-webrtc'
import * as Y from 'yjs'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { ProtocolClient as Client } from './fixtures/protocol-client.js'
import { startRedis, type RedisServer } from './fixtures/redis-server.js'
import { startYWebrtcServer } from './fixtures/y-webrtc-server.js'
import { until } from './helpers.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The polyfill's peer connection, answering offers and answers as plain `{ type, sdp }`. */
class PlainRTCPeerConnection extends RTCPeerConnection {
  override async createOffer(): Promise<RTCSessionDescriptionInit> {
    const { type, sdp } = (await super.createOffer()) as RTCSessionDescriptionInit
    return { type, sdp }
  }

  override async createAnswer(): Promise<RTCSessionDescriptionInit> {
    const { type, sdp } = (await super.createAnswer()) as RTCSessionDescriptionInit
    return { type, sdp }
  }
}

const peerOpts = {
  wrtc: { RTCPeerConnection: PlainRTCPeerConnection, RTCSessionDescription, RTCIceCandidate },
  config: { iceServers: [] },
}

/** The other provider, as a plain ESM script: it writes `child`, reports seeing `parent`. */
const CHILD = `
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { WebrtcProvider } from 'y-webrtc'
import * as polyfill from 'node-datachannel/polyfill'
globalThis.WebSocket ??= WebSocket
class PlainRTCPeerConnection extends polyfill.RTCPeerConnection {
  async createOffer () { const { type, sdp } = await super.createOffer(); return { type, sdp } }
  async createAnswer () { const { type, sdp } = await super.createAnswer(); return { type, sdp } }
}
const wrtc = { RTCPeerConnection: PlainRTCPeerConnection, RTCSessionDescription: polyfill.RTCSessionDescription, RTCIceCandidate: polyfill.RTCIceCandidate }
const doc = new Y.Doc()
const provider = new WebrtcProvider(process.env.ROOM, doc, {
  signaling: [process.env.SIGNAL_URL],
  password: process.env.PASSWORD || null,
  peerOpts: { wrtc, config: { iceServers: [] } },
})
const map = doc.getMap('m')
map.set('child', 'hello from the child')
const check = () => { if (map.get('parent') !== undefined) { map.unobserve(check); process.send({ saw: map.get('parent') }) } }
map.observe(check)
process.on('message', () => {
  provider.disconnect()
  provider.destroy()
  doc.destroy()
  process.exit(0)
})
`

interface Child {
  readonly process: ChildProcess
  readonly saw: Promise<unknown>
  readonly exited: Promise<number | null>
  readonly stderr: () => string
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += String(chunk)))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const saw = new Promise<unknown>((resolve, reject) => {
    child.once('message', (m: { saw: unknown }) => resolve(m.saw))
    void exited.then((code) => reject(new Error(`child exited (${code}) before syncing: ${stderr}`)))
  })
  saw.catch(() => undefined)
  return { process: child, saw, exited, stderr: () => stderr }
}

/** Waits until the server's /health counts at least `count` topics. */
async function subscribedTopics(server: SignalingServer, count: number): Promise<void> {
  const health = server.url.replace(/^ws/, 'http') + '/health'
  for (;;) {
    const { topics } = (await (await fetch(health)).json()) as { topics: number }
    if (topics >= count) return
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('y-webrtc providers sync through our server', () => {
  let server: SignalingServer
  const globals = globalThis as { WebSocket?: unknown }
  const hadWebSocket = 'WebSocket' in globals

  beforeAll(async () => {
    // lib0's WebsocketClient (y-webrtc's signaling client) uses the global WebSocket: Node 20 has none.
    if (!hadWebSocket) globals.WebSocket = WebSocket
    server = await startSignalingServer({ port: 0 })
  })
  afterAll(async () => {
    if (!hadWebSocket) delete globals.WebSocket
    await server.close()
  })

  it.each([
    ['in the clear', ''],
    ['with a room password (encrypted signaling)', 'cookie'],
  ])('%s', async (_, password) => {
    const room = `compat-${password === '' ? 'clear' : 'password'}`
    const child = startChild({ SIGNAL_URL: server.url, ROOM: room, PASSWORD: password })
    // y-webrtc has no glare handling: two providers announcing at once may both make
    // offers and stall. Start ours once the child is subscribed, so the child calls us.
    await subscribedTopics(server, 1)
    const doc = new Y.Doc()
    const provider = new WebrtcProvider(room, doc, { signaling: [server.url], ...(password === '' ? {} : { password }), peerOpts })
    try {
      const map = doc.getMap<string>('m')
      map.set('parent', 'hello from the parent')
      // Generous: PBKDF2 and ICE in two processes on a busy 2-core CI machine.
      await until(() => map.get('child') !== undefined, 30_000)
      expect(map.get('child')).toBe('hello from the child')
      expect(await child.saw).toBe('hello from the parent')
      expect(server.connections()).toBe(2)
      // Over a WebRTC data channel: the child is another process, so no BroadcastChannel.
      expect([...provider.room!.webrtcConns.values()].map((c) => c.connected)).toEqual([true])
    } finally {
      // destroy() alone leaves y-webrtc's signaling socket open (and reconnecting).
      provider.disconnect()
      provider.destroy()
      doc.destroy()
      child.process.send('stop')
    }
    expect(await child.exited, child.stderr()).toBe(0)
    await until(() => server.connections() === 0)
  })
})

describe('y-webrtc providers on two servers of a Redis cluster sync', () => {
  const globals = globalThis as { WebSocket?: unknown }
  const hadWebSocket = 'WebSocket' in globals
  let redis: RedisServer
  let servers: SignalingServer[] = []

  beforeAll(async () => {
    if (!hadWebSocket) globals.WebSocket = WebSocket
    redis = await startRedis()
    servers = [await startSignalingServer({ port: 0, redis: redis.url }), await startSignalingServer({ port: 0, redis: redis.url })]
    await until(() => servers.every((s) => s.health().redis === 'up'), 10_000)
  })
  afterAll(async () => {
    if (!hadWebSocket) delete globals.WebSocket
    await Promise.all(servers.map((s) => s.close()))
    await redis.stop()
  })

  it('one provider on each server, with a room password', async () => {
    const [first, second] = servers as [SignalingServer, SignalingServer]
    const room = 'compat-cluster'
    const child = startChild({ SIGNAL_URL: second.url, ROOM: room, PASSWORD: 'cookie' })
    await subscribedTopics(second, 1)
    await until(() => second.health().topics === 1)
    const doc = new Y.Doc()
    const provider = new WebrtcProvider(room, doc, { signaling: [first.url], password: 'cookie', peerOpts })
    try {
      const map = doc.getMap<string>('m')
      map.set('parent', 'hello from the parent')
      await until(() => map.get('child') !== undefined, 30_000)
      expect(map.get('child')).toBe('hello from the child')
      expect(await child.saw).toBe('hello from the parent')
      // Each provider used its own server only.
      expect([first.connections(), second.connections()]).toEqual([1, 1])
    } finally {
      provider.disconnect()
      provider.destroy()
      doc.destroy()
      child.process.send('stop')
    }
    expect(await child.exited, child.stderr()).toBe(0)
  })
})

interface Target {
  url: string
  stop(): Promise<void>
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'our server',
    async () => {
      const server = await startSignalingServer({ port: 0 })
      return { url: server.url, stop: () => server.close() }
    },
  ],
  [
    "y-webrtc's own server",
    async () => {
      const server = await startYWebrtcServer()
      return { url: server.url, stop: () => server.stop() }
    },
  ],
]

describe.each(targets)('the protocol, against %s', (_, startTarget) => {
  let target: Target
  const clients: Client[] = []
  const connect = async (): Promise<Client> => {
    const client = await Client.connect(target.url)
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    target = await startTarget()
  })
  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (c) => {
        c.socket.close()
        await once(c.socket, 'close')
      }),
    )
  })
  afterAll(() => target.stop())

  it('fans a publish out to every subscriber, the sender included, with `clients` set', async () => {
    const [a, b, outsider] = await Promise.all([connect(), connect(), connect()])
    for (const x of [a!, b!]) {
      x.send({ type: 'subscribe', topics: ['room'] })
      await x.sync()
    }
    a!.send({ type: 'publish', topic: 'room', data: { from: 'a' }, clients: 'overwritten' })
    for (const x of [a!, b!]) {
      await until(() => x.of('publish').length === 1)
      expect(x.of('publish')).toEqual([{ type: 'publish', topic: 'room', data: { from: 'a' }, clients: 2 }])
    }
    await outsider!.sync()
    expect(outsider!.of('publish')).toEqual([])
  })

  it('relays a publish from a client that is not subscribed', async () => {
    const [a, newcomer] = await Promise.all([connect(), connect()])
    a!.send({ type: 'subscribe', topics: ['lobby'] })
    await a!.sync()
    newcomer!.send({ type: 'publish', topic: 'lobby', data: { type: 'announce', from: 'n' } })
    await until(() => a!.of('publish').length === 1)
    expect(a!.of('publish')[0]).toEqual({ type: 'publish', topic: 'lobby', data: { type: 'announce', from: 'n' }, clients: 1 })
    await newcomer!.sync()
    expect(newcomer!.of('publish')).toEqual([])
  })

  it('stops relaying after unsubscribe', async () => {
    const [a, b] = await Promise.all([connect(), connect()])
    for (const x of [a!, b!]) {
      x.send({ type: 'subscribe', topics: ['hall', 'other'] })
      await x.sync()
    }
    b!.send({ type: 'unsubscribe', topics: ['hall'] })
    await b!.sync()
    a!.send({ type: 'publish', topic: 'hall', data: 1 })
    await until(() => a!.of('publish').length === 1)
    expect(a!.of('publish')[0]!.clients).toBe(1)
    await b!.sync()
    expect(b!.of('publish')).toEqual([])
  })

  it('answers ping with pong', async () => {
    const a = await connect()
    a.send({ type: 'ping' })
    await until(() => a.messages.length === 1)
    expect(a.messages).toEqual([{ type: 'pong' }])
  })
})
