/**
 * The signaling server over real sockets: y-webrtc's protocol (subscribe, publish fan-out
 * with `clients`, unsubscribe, ping), HTTP routes, dead-socket detection, every limit (only
 * the offender is closed), malformed input, `verifyClient`, a clean `close()`, and the CLI.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket, type ClientOptions } from 'ws'
import { ArgumentError } from '../src/errors.js'
import {
  CloseCode,
  startSignalingServer,
  type ClientInfo,
  type SignalingServer,
  type SignalingServerOptions,
} from '../signaling-server/index.js'
import { TOKEN_ENV, UsageError, parseCommandLine } from '../signaling-server/cli-args.js'
import { ProtocolClient as Client } from './fixtures/protocol-client.js'
import { recordUncaught, until } from './helpers.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const servers: SignalingServer[] = []
const clients: Client[] = []
const uncaught = recordUncaught()

afterEach(async () => {
  vi.useRealTimers()
  for (const client of clients.splice(0)) client.socket.terminate()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  expect(uncaught).toEqual([])
})

async function start(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const server = await startSignalingServer({ port: 0, ...options })
  servers.push(server)
  return server
}

async function connect(url: string, options?: ClientOptions): Promise<Client> {
  const client = await Client.connect(url, options)
  clients.push(client)
  return client
}

/** Connects and expects the upgrade to be refused; returns the HTTP status. */
async function refused(url: string): Promise<number> {
  const socket = new WebSocket(url)
  const [error] = (await once(socket, 'error')) as [Error]
  const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1]
  if (status === undefined) throw error
  return Number(status)
}

/** A connected client that has not misbehaved: it still round-trips and gets publishes. */
async function expectHealthy(client: Client, topic = 'bystander'): Promise<void> {
  await client.subscribe(topic)
  client.send({ type: 'publish', topic, data: 'still here' })
  await until(() => client.of('publish').some((m) => m.topic === topic && m.data === 'still here'))
  expect(client.isClosed).toBe(false)
}

describe('protocol', () => {
  it('fans a publish out to every subscriber, the sender included, with the subscriber count', async () => {
    const server = await start()
    const [a, b, c, outsider] = await Promise.all([1, 2, 3, 4].map(() => connect(server.url)))
    await Promise.all([a!, b!, c!].map((x) => x.subscribe('room')))
    a!.send({ type: 'publish', topic: 'room', data: { to: 'x', signal: { sdp: 'v=0' } } })
    const expected = { type: 'publish', topic: 'room', data: { to: 'x', signal: { sdp: 'v=0' } }, clients: 3 }
    for (const x of [a!, b!, c!]) await until(() => x.of('publish').length === 1)
    for (const x of [a!, b!, c!]) expect(x.of('publish')).toEqual([expected])
    await outsider!.sync()
    expect(outsider!.of('publish')).toEqual([])
  })

  it('relays a publish from a client that is not subscribed (y-webrtc announces this way)', async () => {
    const server = await start()
    const [a, b, newcomer] = await Promise.all([1, 2, 3].map(() => connect(server.url)))
    await a!.subscribe('room')
    await b!.subscribe('room')
    newcomer!.send({ type: 'publish', topic: 'room', data: { type: 'announce', from: 'n' }, clients: 99 })
    for (const x of [a!, b!]) {
      await until(() => x.of('publish').length === 1)
      expect(x.of('publish')[0]).toEqual({ type: 'publish', topic: 'room', data: { type: 'announce', from: 'n' }, clients: 2 })
    }
    await newcomer!.sync()
    expect(newcomer!.of('publish')).toEqual([])
  })

  it('stops relaying to a client once it unsubscribes, and forgets empty topics', async () => {
    const server = await start()
    const [a, b] = await Promise.all([connect(server.url), connect(server.url)])
    await a!.subscribe('room', 'other')
    await b!.subscribe('room')
    expect(await health(server)).toEqual({ status: 'ok', connections: 2, topics: 2 })
    b!.send({ type: 'unsubscribe', topics: ['room'] })
    await b!.sync()
    a!.send({ type: 'publish', topic: 'room', data: 1 })
    await until(() => a!.of('publish').length === 1)
    expect(a!.of('publish')[0]!.clients).toBe(1)
    await b!.sync()
    expect(b!.of('publish')).toEqual([])
    a!.send({ type: 'unsubscribe', topics: ['room', 'other', 'never-subscribed'] })
    await a!.sync()
    expect(await health(server)).toEqual({ status: 'ok', connections: 2, topics: 0 })
  })

  it('answers a ping with a pong', async () => {
    const server = await start()
    const a = await connect(server.url)
    a.send({ type: 'ping' })
    await until(() => a.messages.length === 1)
    expect(a.messages).toEqual([{ type: 'pong' }])
  })

  it('forgets the subscriptions of a socket that closes', async () => {
    const server = await start()
    const [a, b] = await Promise.all([connect(server.url), connect(server.url)])
    await a.subscribe('room', 'solo')
    await b.subscribe('room')
    a.socket.close()
    await a.closed
    await until(() => server.connections() === 1)
    expect(await health(server)).toEqual({ status: 'ok', connections: 1, topics: 1 })
    b.send({ type: 'publish', topic: 'room', data: 1 })
    await until(() => b.of('publish').length === 1)
    expect(b.of('publish')[0]!.clients).toBe(1)
  })
})

async function health(server: SignalingServer): Promise<unknown> {
  const res = await fetch(`${httpUrl(server)}/health`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('application/json')
  return res.json()
}

function httpUrl(server: SignalingServer): string {
  return server.url.replace(/^ws:/, 'http:')
}

describe('HTTP', () => {
  it('serves /health, a page at /, 404 elsewhere and 405 for other methods', async () => {
    const server = await start()
    await connect(server.url)
    expect(await health(server)).toEqual({ status: 'ok', connections: 1, topics: 0 })
    const root = await fetch(`${httpUrl(server)}/`)
    expect(root.status).toBe(200)
    expect(await root.text()).toMatch(/signaling server/)
    const missing = await fetch(`${httpUrl(server)}/nope`)
    expect(missing.status).toBe(404)
    await missing.text()
    const post = await fetch(`${httpUrl(server)}/health`, { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    await post.text()
  })
})

describe('dead sockets', () => {
  it('drops a socket that stops answering ping frames, and keeps one that answers', async () => {
    const server = await start({ pingInterval: 40 })
    const live = await connect(server.url)
    const dead = await connect(server.url, { autoPong: false })
    await dead.subscribe('room')
    let pings = 0
    live.socket.on('ping', () => pings++)
    const { code } = await dead.closed
    expect(code).toBe(1006) // terminated: no close frame
    await until(() => pings >= 3)
    expect(live.isClosed).toBe(false)
    expect(server.connections()).toBe(1)
    expect(await health(server)).toEqual({ status: 'ok', connections: 1, topics: 0 })
  })
})

describe('limits: only the offender is closed', () => {
  it('closes a socket that sends a message over maxMessageBytes with 1009', async () => {
    const server = await start({ maxMessageBytes: 1024 })
    const [offender, bystander] = await Promise.all([connect(server.url), connect(server.url)])
    offender.send({ type: 'publish', topic: 'room', data: 'x'.repeat(2000) })
    expect((await offender.closed).code).toBe(CloseCode.messageTooBig)
    await expectHealthy(bystander)
  })

  it('closes a socket that subscribes to more than maxTopicsPerSocket with 1008', async () => {
    const server = await start({ maxTopicsPerSocket: 2 })
    const [offender, bystander] = await Promise.all([connect(server.url), connect(server.url)])
    await offender.subscribe('a', 'b')
    await offender.subscribe('a', 'b') // already subscribed: does not count twice
    offender.send({ type: 'subscribe', topics: ['c'] })
    expect(await offender.closed).toEqual({ code: 1008, reason: 'too many topics (max 2)' })
    await until(() => server.connections() === 1)
    expect(await health(server)).toEqual({ status: 'ok', connections: 1, topics: 0 })
    await bystander.subscribe('x')
    bystander.send({ type: 'subscribe', topics: ['y', 'z'] })
    expect((await bystander.closed).code).toBe(1008) // all at once counts too
  })

  it('closes a socket over the message rate with 1008', async () => {
    const server = await start({ maxMessagesPerSecond: 5, maxMessageBurst: 10 })
    const [offender, bystander] = await Promise.all([connect(server.url), connect(server.url)])
    for (let i = 0; i < 50; i++) offender.send({ type: 'ping' })
    expect(await offender.closed).toEqual({ code: 1008, reason: 'rate limit exceeded (5/s)' })
    expect(offender.of('pong').length).toBeLessThanOrEqual(10)
    await expectHealthy(bystander)
  })

  it('refuses connections beyond maxConnections with HTTP 503, and admits again once one leaves', async () => {
    const server = await start({ maxConnections: 2 })
    const [a, b] = await Promise.all([connect(server.url), connect(server.url)])
    expect(await refused(server.url)).toBe(503)
    await expectHealthy(b)
    a.socket.close()
    await until(() => server.connections() === 1)
    await expectHealthy(await connect(server.url))
  })

  it('closes a socket that names a topic longer than maxTopicLength with 1008', async () => {
    const server = await start({ maxTopicLength: 16 })
    const [subscriber, publisher, bystander] = await Promise.all([1, 2, 3].map(() => connect(server.url)))
    await subscriber!.subscribe('x'.repeat(16))
    subscriber!.send({ type: 'subscribe', topics: ['x'.repeat(17)] })
    expect(await subscriber!.closed).toEqual({ code: 1008, reason: 'topic name longer than 16' })
    publisher!.send({ type: 'publish', topic: 'y'.repeat(17) })
    expect((await publisher!.closed).code).toBe(1008)
    await expectHealthy(bystander!)
  })

  it('drops a subscriber that stops reading once maxBufferedBytes are queued to it', async () => {
    const server = await start({ maxBufferedBytes: 64 * 1024, maxMessagesPerSecond: 100_000, maxMessageBurst: 100_000 })
    const [slow, publisher, bystander] = await Promise.all([1, 2, 3].map(() => connect(server.url)))
    await slow!.subscribe('room')
    slow!.socket.pause()
    const data = 'x'.repeat(60 * 1024)
    for (let sent = 0; server.connections() === 3 && sent < 2000; sent++) {
      publisher!.send({ type: 'publish', topic: 'room', data })
      if (sent % 20 === 19) await publisher!.sync()
    }
    await until(() => server.connections() === 2)
    slow!.socket.resume()
    await slow!.closed
    await expectHealthy(publisher!)
    await expectHealthy(bystander!)
  })
})

describe('malformed input closes only the sender', () => {
  const cases: Array<[string, string]> = [
    ['not JSON', '{"type": "ping"'],
    ['a number', '42'],
    ['a string', '"ping"'],
    ['null', 'null'],
    ['an array', '[{"type":"ping"}]'],
    ['an object without type', '{}'],
    ['an unknown type', '{"type":"nope"}'],
    ['a non-string type', '{"type":["ping"]}'],
    ['subscribe without topics', '{"type":"subscribe"}'],
    ['subscribe with a string for topics', '{"type":"subscribe","topics":"room"}'],
    ['subscribe with a number topic', '{"type":"subscribe","topics":["room",1]}'],
    ['unsubscribe with a null topic', '{"type":"unsubscribe","topics":[null]}'],
    ['publish without topic', '{"type":"publish","data":1}'],
    ['publish with a numeric topic', '{"type":"publish","topic":5}'],
    ['publish with an object topic', '{"type":"publish","topic":{"toString":"x"}}'],
  ]

  it.each(cases)('%s → 1008', async (_, text) => {
    const server = await start()
    const [offender, bystander] = await Promise.all([connect(server.url), connect(server.url)])
    offender.socket.send(text)
    const { code, reason } = await offender.closed
    expect(code).toBe(CloseCode.policyViolation)
    expect(reason).not.toBe('')
    await expectHealthy(bystander)
    expect(await health(server)).toMatchObject({ status: 'ok', connections: 1 })
  })

  it('a binary frame → 1003', async () => {
    const server = await start()
    const [offender, bystander] = await Promise.all([connect(server.url), connect(server.url)])
    offender.socket.send(Buffer.from(JSON.stringify({ type: 'ping' })))
    expect(await offender.closed).toEqual({ code: CloseCode.unsupportedData, reason: 'binary frames are not supported' })
    await expectHealthy(bystander)
  })

  it('relays odd but valid publishes as sent ("__proto__" and "clients" fields)', async () => {
    const server = await start()
    const a = await connect(server.url)
    await a.subscribe('room')
    a.socket.send('{"type":"publish","topic":"room","__proto__":{"polluted":true},"clients":"many"}')
    await until(() => a.of('publish').length === 1)
    const relayed = a.of('publish')[0]!
    expect(Object.keys(relayed)).toEqual(['type', 'topic', '__proto__', 'clients'])
    expect(relayed.clients).toBe(1)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('relays a deeply nested publish that JSON.stringify could not re-serialise, and stays up', async () => {
    const server = await start()
    const a = await connect(server.url)
    const b = await connect(server.url)
    await a.subscribe('t')
    await b.subscribe('t')
    // 20k levels: parses fine, but re-serialising it overflows the stack (this crashed the server).
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    a.socket.send(`{"type":"publish","topic":"t","data":${deep}}  `)
    await until(() => b.of('publish').length === 1)
    expect(b.of('publish')[0]!.clients).toBe(2)
    await expectHealthy(a)
    await expectHealthy(b)
  })
})

describe('verifyClient', () => {
  it('admits a client with the right token and refuses others with 401', async () => {
    const seen: ClientInfo[] = []
    const server = await start({
      verifyClient: async (info) => {
        seen.push(info)
        return info.token === 'secret'
      },
    })
    const admitted = await connect(`${server.url}/?token=secret`, { origin: 'https://app.example' })
    expect(seen[0]).toMatchObject({ origin: 'https://app.example', url: '/?token=secret', token: 'secret', remoteAddress: '127.0.0.1' })
    expect(seen[0]!.headers.upgrade).toBe('websocket')
    expect(await refused(`${server.url}/?token=wrong`)).toBe(401)
    expect(await refused(server.url)).toBe(401)
    expect(server.connections()).toBe(1)
    await expectHealthy(admitted)
  })

  it('answers 500 when verifyClient throws, and carries on', async () => {
    let calls = 0
    const server = await start({
      verifyClient: () => {
        if (calls++ === 0) throw new Error('auth backend down')
        return true
      },
    })
    expect(await refused(server.url)).toBe(500)
    await expectHealthy(await connect(server.url))
  })
})

describe('lifecycle', () => {
  it('close() closes every socket with 1001, pending upgrades, the listener and every timer', async () => {
    // Fake timers count what the server and ws schedule; sockets and I/O stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    const before = openSockets()
    const server = await startSignalingServer({ port: 0, verifyClient: (info) => (info.token === 'stall' ? stall() : true) })
    const a = await connect(server.url)
    const b = await connect(server.url)
    await a.subscribe('room')
    const stalled = new WebSocket(`${server.url}/?token=stall`)
    const stalledError = once(stalled, 'error')
    await until(() => stalls.length === 1)
    expect(vi.getTimerCount()).toBe(2) // the ping timer, and the idle timer of b (subscribed to nothing)
    await Promise.all([server.close(), server.close()])
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' })
    expect((await b.closed).code).toBe(1001)
    await stalledError
    for (const release of stalls.splice(0)) release(true)
    expect(vi.getTimerCount()).toBe(0)
    vi.useRealTimers()
    // Polled on setImmediate: a polling timer would itself count as an open handle.
    const deadline = performance.now() + 2000
    while (!sameOrFewer(openSockets(), before) && performance.now() < deadline) await new Promise(setImmediate)
    const after = openSockets()
    expect(sameOrFewer(after, before), `before ${JSON.stringify([...before])}, after ${JSON.stringify([...after])}`).toBe(true)
    await expect(fetch(`${httpUrl(server)}/health`)).rejects.toThrow()
  })

  const stalls: Array<(admit: boolean) => void> = []
  function stall(): Promise<boolean> {
    return new Promise((resolve) => stalls.push(resolve))
  }

  it('closes when its signal aborts, and refuses to start on an aborted signal', async () => {
    const controller = new AbortController()
    const server = await startSignalingServer({ port: 0, signal: controller.signal })
    const a = await connect(server.url)
    controller.abort()
    expect((await a.closed).code).toBe(1001)
    await expect(startSignalingServer({ port: 0, signal: controller.signal })).rejects.toThrow()
  })

  it('rejects bad options with ArgumentError, and a busy port with the listen error', async () => {
    await expect(startSignalingServer({ port: -1 })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startSignalingServer({ port: 0, maxConnections: 0 })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startSignalingServer({ port: 0, pingInterval: 1.5 })).rejects.toBeInstanceOf(ArgumentError)
    const server = await start()
    await expect(startSignalingServer({ port: server.port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })
})

const WATCHED = ['TCPServerWrap', 'TCPSocketWrap']

function openSockets(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

function sameOrFewer(now: Map<string, number>, before: Map<string, number>): boolean {
  return WATCHED.every((kind) => (now.get(kind) ?? 0) <= (before.get(kind) ?? 0))
}

function withoutKeys(env: NodeJS.ProcessEnv, keys: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !keys.includes(key)))
}

describe('CLI', () => {
  function run(args: string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling-server/cli.ts', ...args], {
      cwd: ROOT,
      env: withoutKeys(process.env, ['PORT', 'DISTRIBUNATOR_SIGNAL_TOKEN']),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)))
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    return { child, exited, stdout: () => stdout, stderr: () => stderr }
  }

  it('serves on the printed URL and exits 0 on SIGTERM, closing its sockets', async () => {
    const cli = run(['--port', '0', '--token', 'secret'])
    await until(() => /listening on ws:\/\/\S+/.test(cli.stdout()), 10_000)
    const url = /listening on (ws:\/\/\S+)/.exec(cli.stdout())![1]!
    expect(await refused(url)).toBe(401)
    const a = await connect(`${url}/?token=secret`)
    await expectHealthy(a)
    cli.child.kill('SIGTERM')
    expect((await a.closed).code).toBe(1001)
    expect(await cli.exited).toBe(0)
  })

  it('--help prints usage and exits 0; a bad argument exits 2 with a message', async () => {
    const help = run(['--help'])
    const bad = run(['--port', 'abc'])
    expect(await help.exited).toBe(0)
    expect(help.stdout()).toMatch(/^Usage: distribunator-signal/)
    expect(await bad.exited).toBe(2)
    expect(bad.stderr()).toMatch(/--port expects an integer in 0\.\.65535, got 'abc'/)
    expect(bad.stdout()).toBe('')
  })

  it('parses options, the PORT and token environment variables, and refuses bad arguments', () => {
    expect(parseCommandLine(['-h'])).toBe('help')
    const options = parseCommandLine([
      '--port',
      '0',
      '--host',
      '0.0.0.0',
      '--max-connections',
      '5',
      '--max-message-bytes',
      '100',
      '--max-topics',
      '3',
      '--max-rate',
      '7',
      '--ping-interval',
      '1000',
    ])
    expect(options).toEqual({
      port: 0,
      host: '0.0.0.0',
      maxConnections: 5,
      maxMessageBytes: 100,
      maxTopicsPerSocket: 3,
      maxMessagesPerSecond: 7,
      pingInterval: 1000,
      verifyClient: undefined,
    })
    const fromEnv = parseCommandLine([], { PORT: '8080', [TOKEN_ENV]: 'secret' })
    if (fromEnv === 'help') throw new Error('unexpected help')
    expect(fromEnv.port).toBe(8080)
    const info = { url: '/', headers: {} }
    expect(fromEnv.verifyClient?.({ ...info, token: 'secret' })).toBe(true)
    expect(fromEnv.verifyClient?.({ ...info, token: 'secreT' })).toBe(false)
    expect(fromEnv.verifyClient?.(info)).toBe(false)
    expect(parseCommandLine(['--port', '9'], { PORT: '8080' })).toMatchObject({ port: 9 })
    expect(parseCommandLine([], { PORT: '', [TOKEN_ENV]: '' })).toMatchObject({ port: undefined, verifyClient: undefined })
    const bad: Array<[string[], RegExp]> = [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--port', '70000'], /--port expects an integer in 0\.\.65535/],
      [['--port', '-1'], /--port/],
      [['--port', '1e3'], /--port expects an integer/],
      [['--port'], /--port <value>' argument missing/],
      [['--max-rate', '0'], /--max-rate expects an integer ≥ 1, got '0'/],
      [['--ping-interval', '1.5'], /--ping-interval expects an integer/],
      [['--token', ''], /--token must not be empty/],
      [['stray'], /positional/],
    ]
    for (const [args, message] of bad) expect(() => parseCommandLine(args), args.join(' ')).toThrow(message)
    expect(() => parseCommandLine(['--bogus'])).toThrow(UsageError)
  })
})
