/**
 * Signaling servers as one cluster, through a real Redis (test/fixtures/redis-server.ts), over
 * real sockets: publishes cross servers once each; a server holds a topic's channel only while
 * it has subscribers of it; Redis outages (served locally meanwhile, reported, and made up for
 * once Redis is back); per-address connection limits from several loopback addresses; idle
 * sockets; /metrics. (Whole nodes on server processes: signaling-cluster.integration.test.ts.)
 */
import { once } from 'node:events'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startSignalingServer, type SignalingServer, type SignalingServerOptions } from '../signaling-server/index.js'
import { REDIS_ENV, UsageError, parseCommandLine } from '../signaling-server/cli-args.js'
import { ProtocolClient as Client } from './fixtures/protocol-client.js'
import { startRedis, type RedisServer } from './fixtures/redis-server.js'
import { recordUncaught, until, untilAsync } from './helpers.js'

const uncaught = recordUncaught()
let redis: RedisServer
const servers: SignalingServer[] = []
const clients: Client[] = []

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  if (!redis.running) await redis.restart()
  expect(uncaught).toEqual([])
})

/** A server of the cluster on the test's Redis. */
async function member(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const server = await startSignalingServer({ port: 0, redis: redis.url, ...options })
  servers.push(server)
  await until(() => server.health().redis === 'up', 10_000)
  return server
}

async function connect(server: SignalingServer, localAddress?: string): Promise<Client> {
  const client = await Client.connect(server.url, localAddress === undefined ? undefined : { localAddress })
  clients.push(client)
  return client
}

/** Connects and expects the upgrade to be refused; returns the HTTP status and text. */
async function refused(server: SignalingServer, localAddress?: string, headers?: Record<string, string>): Promise<string> {
  const socket = new WebSocket(server.url, { localAddress, headers })
  const [error] = (await once(socket, 'error')) as [Error]
  return error.message
}

const publishes = (client: Client, topic: string): unknown[] => client.of('publish').filter((m) => m.topic === topic)

describe('a cluster of servers on one Redis', () => {
  it('a publish on one server reaches the subscribers on every other, once, each with its own server’s count', async () => {
    const [one, two, three] = [await member(), await member(), await member()]
    const [a, b, b2, c, outsider] = [await connect(one), await connect(two), await connect(two), await connect(three), await connect(three)]
    await Promise.all([a, b, b2, c].map((x) => x.subscribe('room')))
    await outsider.subscribe('other room')
    // Every server holds the channel before anyone publishes.
    await untilAsync(async () => (await redis.subscribers('distribunator:signal:room'))['distribunator:signal:room'] === 3, 5000)
    a.send({ type: 'publish', topic: 'room', data: { n: 1 } })
    for (const x of [a, b, b2, c]) await until(() => publishes(x, 'room').length === 1)
    expect(publishes(a, 'room')).toEqual([{ type: 'publish', topic: 'room', data: { n: 1 }, clients: 1 }])
    expect(publishes(b, 'room')).toEqual([{ type: 'publish', topic: 'room', data: { n: 1 }, clients: 2 }])
    expect(publishes(c, 'room')).toEqual([{ type: 'publish', topic: 'room', data: { n: 1 }, clients: 1 }])
    // Nothing twice, nothing elsewhere: a second publish comes after the first everywhere.
    b.send({ type: 'publish', topic: 'room', data: { n: 2 } })
    for (const x of [a, b, b2, c]) await until(() => publishes(x, 'room').length === 2)
    await Promise.all([a, b, b2, c, outsider].map((x) => x.sync()))
    for (const x of [a, b, b2, c]) expect(publishes(x, 'room').map((m) => (m as { data: { n: number } }).data.n)).toEqual([1, 2])
    expect(outsider.of('publish')).toEqual([])
  })

  it('a client that is not subscribed anywhere can still publish to the cluster (a newcomer’s announce)', async () => {
    const [one, two] = [await member(), await member()]
    const listener = await connect(two)
    await listener.subscribe('room')
    await untilAsync(async () => (await redis.subscribers('distribunator:signal:room'))['distribunator:signal:room'] === 1, 5000)
    const newcomer = await connect(one)
    newcomer.send({ type: 'publish', topic: 'room', data: 'hello' })
    await until(() => publishes(listener, 'room').length === 1)
  })

  it('holds a topic’s channel only while the server has a subscriber of it', async () => {
    const one = await member()
    const channel = 'distribunator:signal:room'
    const count = async (): Promise<number> => (await redis.subscribers(channel))[channel] ?? 0
    const [a, b] = [await connect(one), await connect(one)]
    await a.subscribe('room')
    await b.subscribe('room')
    await untilAsync(async () => (await count()) === 1, 5000)
    a.send({ type: 'unsubscribe', topics: ['room'] })
    await a.sync()
    expect(await count()).toBe(1)
    b.socket.close()
    await untilAsync(async () => (await count()) === 0, 5000)
  })

  it('serves its own sockets while Redis is down, says so, and counts what it could not send to the cluster', async () => {
    const [one, two] = [await member(), await member()]
    const [a, a2, b] = [await connect(one), await connect(one), await connect(two)]
    await Promise.all([a, a2, b].map((x) => x.subscribe('room')))
    await redis.kill()
    await until(() => one.health().redis === 'down' && two.health().redis === 'down', 10_000)
    a.send({ type: 'publish', topic: 'room', data: 'local' })
    await until(() => publishes(a2, 'room').length === 1)
    await b.sync()
    expect(publishes(b, 'room')).toEqual([])
    const health = await (await fetch(`${httpOf(one)}/health`)).json()
    expect(health).toEqual({ status: 'ok', connections: 2, topics: 1, redis: 'down' })
    const metrics = await (await fetch(`${httpOf(one)}/metrics`)).text()
    expect(metrics).toMatch(/^distribunator_signal_redis_up 0$/m)
    expect(metrics).toMatch(/^distribunator_signal_dropped_total\{reason="redis down: not sent to the cluster"\} 1$/m)
  })

  it('once Redis is back: subscribes again, and asks its clients to reconnect (1012) so they announce again', async () => {
    const [one, two] = [await member(), await member()]
    const [a, b] = [await connect(one), await connect(two)]
    await Promise.all([a, b].map((x) => x.subscribe('room')))
    await redis.kill()
    await until(() => one.health().redis === 'down' && two.health().redis === 'down', 10_000)
    await redis.restart()
    // Both servers' clients are told: what was published meanwhile is lost.
    expect(await a.closed).toEqual({ code: 1012, reason: 'cluster link restored: reconnect' })
    expect(await b.closed).toEqual({ code: 1012, reason: 'cluster link restored: reconnect' })
    await until(() => one.health().redis === 'up' && two.health().redis === 'up', 10_000)
    // Those that reconnect meet across servers again.
    const [a2, b2] = [await connect(one), await connect(two)]
    await Promise.all([a2, b2].map((x) => x.subscribe('room')))
    await untilAsync(async () => (await redis.subscribers('distribunator:signal:room'))['distribunator:signal:room'] === 2, 5000)
    a2.send({ type: 'publish', topic: 'room', data: 'again' })
    await until(() => publishes(b2, 'room').length === 1)
  })

  it('starts while Redis is unreachable, serves locally, and joins the cluster once Redis is up', async () => {
    await redis.kill()
    const one = await startSignalingServer({ port: 0, redis: redis.url })
    servers.push(one)
    expect(one.health()).toMatchObject({ redis: 'down' })
    const [a, a2] = [await connect(one), await connect(one)]
    await Promise.all([a, a2].map((x) => x.subscribe('room')))
    a.send({ type: 'publish', topic: 'room', data: 'local' })
    await until(() => publishes(a2, 'room').length === 1)
    await redis.restart()
    await until(() => one.health().redis === 'up', 10_000)
    const two = await member()
    const [c, b] = [await connect(one), await connect(two)]
    await Promise.all([c, b].map((x) => x.subscribe('room')))
    await untilAsync(async () => (await redis.subscribers('distribunator:signal:room'))['distribunator:signal:room'] === 2, 5000)
    b.send({ type: 'publish', topic: 'room', data: 'cluster' })
    await until(() => publishes(c, 'room').length === 1)
  })
})

describe('limits no single address can exhaust', () => {
  it('one address at its limit is refused (503); another address still joins; slots come back on close', async () => {
    const server = await startSignalingServer({ port: 0, maxConnectionsPerAddress: 3 })
    servers.push(server)
    const held = await Promise.all([1, 2, 3].map(() => connect(server, '127.0.0.2')))
    expect(await refused(server, '127.0.0.2')).toBe('Unexpected server response: 503')
    const other = await connect(server, '127.0.0.3')
    await other.subscribe('room')
    const third = await connect(server, '127.0.0.4')
    await third.subscribe('room')
    expect(server.connections()).toBe(5)
    held[0]!.socket.close()
    await until(() => server.connections() === 4)
    await connect(server, '127.0.0.2')
    const metrics = await (await fetch(`${httpOf(server)}/metrics`)).text()
    expect(metrics).toMatch(/^distribunator_signal_dropped_total\{reason="too many connections from one address"\} 1$/m)
  })

  it('behind a trusted proxy the address is the last X-Forwarded-For entry; otherwise the header is ignored', async () => {
    const trusting = await startSignalingServer({ port: 0, maxConnectionsPerAddress: 1, trustProxy: true })
    const plain = await startSignalingServer({ port: 0, maxConnectionsPerAddress: 1 })
    servers.push(trusting, plain)
    const forwarded = (address: string): Record<string, string> => ({ 'X-Forwarded-For': `10.9.9.9, ${address}` })
    // Through the proxy (all from 127.0.0.1): one per forwarded address.
    clients.push(await Client.connect(trusting.url, { headers: forwarded('192.0.2.1') }))
    clients.push(await Client.connect(trusting.url, { headers: forwarded('192.0.2.2') }))
    expect(await refused(trusting, undefined, forwarded('192.0.2.1'))).toBe('Unexpected server response: 503')
    // Not trusted: a forged header gives no extra slot.
    clients.push(await Client.connect(plain.url, { headers: forwarded('192.0.2.1') }))
    expect(await refused(plain, undefined, forwarded('192.0.2.2'))).toBe('Unexpected server response: 503')
  })

  it('closes a socket subscribed to nothing after subscribeTimeout (1008); a subscribed one stays', async () => {
    const server = await startSignalingServer({ port: 0, subscribeTimeout: 200 })
    servers.push(server)
    const [idle, busy, leaver] = [await connect(server), await connect(server), await connect(server)]
    await busy.subscribe('room')
    await leaver.subscribe('room')
    leaver.send({ type: 'unsubscribe', topics: ['room'] })
    expect(await idle.closed).toEqual({ code: 1008, reason: 'subscribed to no topic' })
    expect(await leaver.closed).toEqual({ code: 1008, reason: 'subscribed to no topic' })
    await busy.sync()
    expect(busy.isClosed).toBe(false)
  })
})

describe('/metrics', () => {
  it('serves Prometheus text: connections, topics, messages and bytes in and out, cluster publishes, drops by reason', async () => {
    const server = await member()
    const [a, b] = [await connect(server), await connect(server)]
    await Promise.all([a, b].map((x) => x.subscribe('room')))
    a.send({ type: 'publish', topic: 'room', data: 1 })
    await until(() => publishes(b, 'room').length === 1)
    a.socket.send('not json')
    await a.closed
    const res = await fetch(`${httpOf(server)}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    for (const line of [
      /^distribunator_signal_connections 1$/m,
      /^distribunator_signal_topics 1$/m,
      /^distribunator_signal_redis_up 1$/m,
      /^distribunator_signal_messages_received_total\{type="publish"\} 1$/m,
      /^distribunator_signal_messages_received_total\{type="subscribe"\} 2$/m,
      /^distribunator_signal_cluster_publishes_total\{direction="out"\} 1$/m,
      /^distribunator_signal_dropped_total\{reason="malformed JSON"\} 1$/m,
    ])
      expect(text).toMatch(line)
    // Two publishes to the sender's pongs and the fan-out: sent counts every frame.
    expect(Number(/^distribunator_signal_messages_sent_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(2)
    // Bytes: at least the publish and the bad message came in, and the publish went out to b.
    const published = JSON.stringify({ type: 'publish', topic: 'room', data: 1 }).length
    expect(Number(/^distribunator_signal_bytes_total\{direction="in"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(
      published + 'not json'.length,
    )
    expect(Number(/^distribunator_signal_bytes_total\{direction="out"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(published)
  })
})

describe('command line', () => {
  it('takes the cluster and the limits; the Redis URL also from the environment', () => {
    expect(
      parseCommandLine(['--redis', 'rediss://u:p@r.example:6380/1', '--max-connections-per-address', '8', '--trust-proxy']),
    ).toMatchObject({
      redis: 'rediss://u:p@r.example:6380/1',
      maxConnectionsPerAddress: 8,
      trustProxy: true,
    })
    expect(parseCommandLine([], { [REDIS_ENV]: 'redis://r:6379' })).toMatchObject({ redis: 'redis://r:6379' })
    expect(parseCommandLine(['--subscribe-timeout', '2500', '--redis-prefix', 'team-a:'])).toMatchObject({
      subscribeTimeout: 2500,
      redisPrefix: 'team-a:',
    })
    expect(() => parseCommandLine(['--redis', 'http://r'])).toThrow(UsageError)
    expect(() => parseCommandLine(['--redis', ''])).toThrow(UsageError)
    expect(() => parseCommandLine(['--max-connections-per-address', '0'])).toThrow(UsageError)
  })
})

function httpOf(server: SignalingServer): string {
  return server.url.replace(/^ws:/, 'http:')
}
