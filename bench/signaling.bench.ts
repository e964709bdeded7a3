/**
 * The signaling server's capacity, next to y-webrtc's own server (`y-webrtc/bin/server.js`)
 * and PeerServer (`peer`), each in a process of its own, loaded over loopback from this one:
 *
 *   1. sockets held: 10,000 WebSockets, each subscribed to a room (PeerServer: registered
 *      under an id) — how long they take to open, and the server's memory per socket;
 *   2. publish fan-out: one publisher, 2, 16 and 64 subscribers of its topic — deliveries per
 *      second with the publisher sending back to back, and relay latency p50 / p99 with it
 *      sending every 2 ms (PeerServer relays to one peer only: its row is 1 subscriber);
 *   3. our cluster: two servers on one Redis, the publisher on one and the subscribers on
 *      the other, against both on one server — what crossing servers costs.
 *
 * Our server runs with its limits raised for the load (connections, rate, per address): the
 * defaults protect a public server from one address, which this bench is.
 * Run: `npm run bench:signaling`. Prints markdown tables, for bench/RESULTS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { availableParallelism, cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { execSync } from 'node:child_process'
import { WebSocket } from 'ws'
import { startRedis, type RedisServer } from '../test/fixtures/redis-server.js'
import { freePort } from '../test/fixtures/y-webrtc-server.js'
import { fixed, median, percentile, table } from './webrtc-node/stats.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = 'dist/signaling-server/cli.js'
const SOCKETS = { count: Number(process.env.SOCKETS ?? 10_000), rooms: 100, concurrency: 500 }
const FANOUT = { subscribers: [2, 16, 64], deliveries: 100_000, latencyMessages: 1000, gapMs: 2, rounds: 5 }

/** A server under test, in its own process. */
interface Server {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  /** PeerServer speaks its own protocol. */
  readonly peerjs: boolean
}

const ourArgs = [
  '--max-connections',
  '30000',
  '--max-connections-per-address',
  '30000',
  '--max-rate',
  '10000000',
  '--subscribe-timeout',
  '60000',
]

async function startOurs(name: string, extra: string[] = []): Promise<Server> {
  // The built CLI, as `npx distribunator-signal` runs it (package.json builds first).
  if (!existsSync(join(ROOT, CLI))) throw new Error(`${CLI} is missing: run npm run build first`)
  const child = spawn(process.execPath, [CLI, '--port', '0', ...ourArgs, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d)
      const match = /listening on (ws:\/\/\S+)/.exec(out)
      if (match !== null) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`${name} exited (${code})`)))
  })
  return { name, url, child, peerjs: false }
}

async function startYWebrtc(): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, ['node_modules/y-webrtc/bin/server.js'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  })
  const url = `ws://127.0.0.1:${port}`
  await listening(url)
  return { name: "y-webrtc's server", url, child, peerjs: false }
}

async function startPeerServer(): Promise<Server> {
  const port = await freePort()
  const script = `import('peer').then(({ PeerServer }) => PeerServer({ port: ${port}, host: '127.0.0.1', path: '/', concurrent_limit: 1000000 }))`
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: 'ignore' })
  const url = `ws://127.0.0.1:${port}/peerjs`
  await listening(`ws://127.0.0.1:${port}`)
  return { name: 'PeerServer', url, child, peerjs: true }
}

/** Resolves once something accepts TCP on the URL's port. */
async function listening(url: string): Promise<void> {
  const { port } = new URL(url)
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/probe`)
      socket.on('error', () => resolve(false))
      socket.on('unexpected-response', () => resolve(true))
      socket.on('open', () => {
        socket.terminate()
        resolve(true)
      })
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`nothing listens on ${url}`)
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGKILL')
  await exited
}

/** The server process's resident memory, bytes (Linux). */
function rss(server: Server): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024
}

/** A client socket: subscribed to `topics` (or, on PeerServer, registered as `id`), open and confirmed. */
async function client(server: Server, id: string, topics: readonly string[], onMessage?: (data: string) => void): Promise<WebSocket> {
  const url = server.peerjs ? `${server.url}?key=peerjs&id=${id}&token=t${id}` : server.url
  const socket = new WebSocket(url, { perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('close', (code) => reject(new Error(`closed (${code})`)))
    socket.on('message', (raw) => {
      const text = String(raw)
      if (text.includes('"pong"') || text.includes('"OPEN"')) resolve()
      onMessage?.(text)
    })
    socket.once('open', () => {
      if (server.peerjs) return
      socket.send(JSON.stringify({ type: 'subscribe', topics }))
      socket.send(JSON.stringify({ type: 'ping' }))
    })
  })
  return socket
}

async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.readyState === WebSocket.CLOSED) return resolve()
          s.once('close', () => resolve())
          s.terminate()
        }),
    ),
  )
}

/** 1. Opens SOCKETS.count sockets, SOCKETS.concurrency at a time. */
async function holdSockets(server: Server): Promise<string[]> {
  const before = rss(server)
  const sockets: WebSocket[] = []
  const t0 = performance.now()
  let failed = 0
  for (let i = 0; i < SOCKETS.count; i += SOCKETS.concurrency) {
    const batch = Array.from({ length: Math.min(SOCKETS.concurrency, SOCKETS.count - i) }, (_, j) =>
      client(server, `s${i + j}`, [`room-${(i + j) % SOCKETS.rooms}`]).then(
        (s) => void sockets.push(s),
        () => void failed++,
      ),
    )
    await Promise.all(batch)
  }
  const openMs = performance.now() - t0
  await new Promise((r) => setTimeout(r, 1000))
  const after = rss(server)
  const held = sockets.filter((s) => s.readyState === WebSocket.OPEN).length
  await closeAll(sockets)
  return [server.name, `${held}`, `${failed}`, fixed(openMs / 1000, 1), fixed(after / 2 ** 20, 0), fixed((after - before) / held / 1024, 1)]
}

interface FanoutResult {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
}

/** 2. One publisher on `publishOn`, `k` subscribers on `subscribeOn`. */
async function fanout(publishOn: Server, subscribeOn: Server, k: number): Promise<FanoutResult> {
  const topic = `fan-${k}-${Math.random().toString(36).slice(2)}`
  let delivered = 0
  let waiting: { target: number; resolve: () => void } | undefined
  const latencies: number[] = []
  let measuring = false
  const onMessage = (text: string): void => {
    delivered++
    if (measuring) {
      const t = Number(/"t":([\d.]+)/.exec(text)?.[1])
      if (Number.isFinite(t)) latencies.push(performance.now() - t)
    }
    if (waiting !== undefined && delivered >= waiting.target) waiting.resolve()
  }
  const subscribers = await Promise.all(Array.from({ length: k }, (_, i) => client(subscribeOn, `sub${i}`, [topic], onMessage)))
  const publisher = await client(publishOn, 'pub', [])
  const frame = (t: number, i: number): string =>
    publishOn.peerjs
      ? JSON.stringify({ type: 'OFFER', dst: 'sub0', payload: { t, i } })
      : JSON.stringify({ type: 'publish', topic, data: { t, i } })
  const until = (target: number): Promise<void> =>
    delivered >= target ? Promise.resolve() : new Promise((resolve) => (waiting = { target, resolve }))
  // A cluster: the other server must hold the topic before anything is published.
  if (publishOn !== subscribeOn) {
    for (let tries = 0; delivered < k && tries < 500; tries++) {
      publisher.send(frame(0, -1))
      await Promise.race([until(k), new Promise((r) => setTimeout(r, 10))])
    }
  }
  // Throughput: back to back, until every subscriber has every message.
  const count = Math.ceil(FANOUT.deliveries / k)
  delivered = 0
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    publisher.send(frame(0, i))
    if (i % 500 === 499) await new Promise((r) => setImmediate(r))
  }
  await until(count * k)
  const perSecond = (count * k) / ((performance.now() - t0) / 1000)
  // Latency: paced.
  delivered = 0
  measuring = true
  for (let i = 0; i < FANOUT.latencyMessages; i++) {
    publisher.send(frame(performance.now(), i))
    await new Promise((r) => setTimeout(r, FANOUT.gapMs))
  }
  await until(FANOUT.latencyMessages * k)
  measuring = false
  await closeAll([...subscribers, publisher])
  return { perSecond, p50: median(latencies), p99: percentile(latencies, 99) }
}

function commit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim()
  } catch {
    return '?'
  }
}

const say = (text: string): void => console.log(text)
say(`Signaling servers under load, each server in its own process, loaded from one Node process over loopback.`)
say(
  `Machine: ${availableParallelism()} cores, ${cpus()[0]?.model ?? '?'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, commit ${commit()}.`,
)
say('Command: npm run bench:signaling\n')

const ours = await startOurs('ours')
const yWebrtc = await startYWebrtc()
const peerServer = await startPeerServer()
try {
  say(
    `### 1. Sockets held: ${SOCKETS.count.toLocaleString('en')} WebSockets, ${SOCKETS.concurrency} opening at a time, each in one of ${SOCKETS.rooms} rooms\n`,
  )
  const rows: string[][] = []
  for (const server of [ours, yWebrtc, peerServer]) rows.push(await holdSockets(server))
  table(['server', 'held', 'failed', 'opened in s', 'server RSS MiB', 'server RSS per socket KiB'], rows)

  say(
    `\n### 2. Publish fan-out: one publisher, k subscribers of its topic (median of ${FANOUT.rounds} interleaved rounds, spread in brackets)\n`,
  )
  const fanRows: string[][] = []
  const spread = (values: readonly number[], digits: number): string =>
    `${fixed(median(values), digits)} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`
  for (const k of FANOUT.subscribers) {
    const rounds = new Map<Server, FanoutResult[]>([
      [ours, []],
      [yWebrtc, []],
    ])
    for (let round = 0; round < FANOUT.rounds; round++) {
      for (const [server, results] of rounds) results.push(await fanout(server, server, k))
    }
    const base = rounds.get(yWebrtc)!
    for (const [server, results] of rounds) {
      fanRows.push([
        `${k}`,
        server.name,
        spread(
          results.map((r) => r.perSecond),
          0,
        ),
        `${fixed(median(results.map((r) => r.perSecond)) / median(base.map((r) => r.perSecond)), 2)}×`,
        spread(
          results.map((r) => r.p50),
          3,
        ),
        spread(
          results.map((r) => r.p99),
          3,
        ),
        `${fixed(median(results.map((r) => r.p99)) / median(base.map((r) => r.p99)), 2)}×`,
      ])
    }
  }
  const peer: FanoutResult[] = []
  for (let round = 0; round < FANOUT.rounds; round++) peer.push(await fanout(peerServer, peerServer, 1))
  fanRows.push([
    '1',
    'PeerServer (one peer)',
    spread(
      peer.map((r) => r.perSecond),
      0,
    ),
    '—',
    spread(
      peer.map((r) => r.p50),
      3,
    ),
    spread(
      peer.map((r) => r.p99),
      3,
    ),
    '—',
  ])
  table(['subscribers', 'server', 'deliveries per s', 'vs y-webrtc', 'latency p50 ms', 'latency p99 ms', 'p99 vs y-webrtc'], fanRows)
  say(
    `\nThroughput: ${FANOUT.deliveries.toLocaleString('en')} deliveries (messages × subscribers), sent back to back; latency: ${FANOUT.latencyMessages} messages ${FANOUT.gapMs} ms apart, publish to arrival at each subscriber, one clock.`,
  )
} finally {
  await Promise.all([ours, yWebrtc, peerServer].map(stop))
}

let redis: RedisServer | undefined
const members: Server[] = []
try {
  redis = await startRedis()
  members.push(await startOurs('ours A', ['--redis', redis.url]), await startOurs('ours B', ['--redis', redis.url]))
  const [a, b] = members as [Server, Server]
  say(
    `\n### 3. Our cluster: two servers on one Redis (redis-server on loopback, no persistence; median of ${FANOUT.rounds} interleaved rounds)\n`,
  )
  const rows: string[][] = []
  for (const k of [2, 16]) {
    const one = await fanout(a, a, k)
    const across = await fanout(a, b, k)
    rows.push([`${k}`, 'one server', fixed(one.perSecond, 0), fixed(one.p50, 3), fixed(one.p99, 3), '—'])
    rows.push([
      `${k}`,
      'publisher on A, subscribers on B',
      fixed(across.perSecond, 0),
      fixed(across.p50, 3),
      fixed(across.p99, 3),
      fixed(across.p50 - one.p50, 3),
    ])
  }
  table(['subscribers', 'path', 'deliveries per s', 'latency p50 ms', 'latency p99 ms', 'added p50 ms'], rows)
} finally {
  await Promise.all(members.map(stop))
  await redis?.stop()
}
