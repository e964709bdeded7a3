/**
 * Relays for real: Node processes in network namespaces of their own (real WebRTC, a real
 * signaling server process), where the only path between A and B is through the node H (a
 * relay of the mesh), and W has no WebRTC (`webrtc: false`) and so reaches everyone through
 * the signaling server (`--relay`). Every route is measured against the direct one, A ↔ H,
 * in the same run:
 *
 *   S (signaling, --relay) ── each of A, B, H, W
 *   A ── H ── B            (no route joins A and B; W has only its link to S)
 *
 *   1. call round trip (p50, p99): direct A → H, through H A → B, through S A → W; and the
 *      floor of one hop on this WebRTC stack: bare data channels A ↔ H ↔ B, H passing bytes on
 *   2. one-way cast throughput, and the CPU each process spends per message, the relay's too
 *
 * The relay limits are lifted for the measurement (H: `relay.maxBytesPerSecond`; S:
 * `--max-rate`, `--max-bytes-per-second`): this measures the path, not the defaults, which
 * cap a relayed pair at 1 MiB/s on purpose. Needs root (network namespaces), as the
 * integration tests do. Run: `npm run bench:relay`.
 */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { startSignalProcess, type SignalProcess } from '../test/fixtures/signal-process.js'
import { Topology } from '../test/fixtures/netns.js'
import type { EndpointSettings } from './webrtc-node/endpoint.js'
import { EndpointHandle } from './webrtc-node/endpoint-handle.js'
import { fixed, median, percentile, ratio, table } from './webrtc-node/stats.js'

/** Section 1: sequential calls per route, in interleaved rounds, each after a settle. */
const ROUND_TRIPS = { warmup: 2000, rounds: 10, perRound: 300, settle: 100 }
/** Section 2: casts of `bytes` per run; median of `runs`. */
const THROUGHPUT = { bytes: 1024, count: 5000, runs: 3 }
/** Target of issue 12: one relay hop's round trip against the direct one. */
const TARGET_RELAY_RTT = 2.2
const PORT = 4444
/** A WebRTC try that cannot connect (A ↔ B) gives up after this long, and asks for a relay. */
const CONNECT_TIMEOUT = 2500
const UNLIMITED = 1 << 30
/** Clock ticks per second, the unit of /proc's CPU times. */
const CLOCK_TICKS = Number(execSync('getconf CLK_TCK').toString().trim())

if (process.getuid?.() !== 0) {
  console.error('bench:relay builds network namespaces: run it as root (CI and these machines do).')
  process.exit(1)
}

const topology = Topology.create(`rb${process.pid % 1000}`)
let server: SignalProcess | undefined
const cleanUp = async (): Promise<void> => {
  await EndpointHandle.killAll()
  await server?.kill()
  await topology.destroy()
}
process.on('exit', EndpointHandle.killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cleanUp().finally(() => process.exit(130)))

const note = (text: string): void => console.log(text)
const section = (title: string): void => console.log(`\n### ${title}\n`)

try {
  await run()
} finally {
  await cleanUp()
}

async function run(): Promise<void> {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
  note('Relays: A, B, H, W and the signaling server S each in a network namespace of its own, over veth pairs.')
  note(
    `Machine: ${availableParallelism()} cores (nproc), ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, commit ${execSync('git rev-parse --short HEAD').toString().trim()}.`,
  )
  note(
    `Command: npm run bench:relay. Load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.`,
  )

  await topology.add('s', 'a', 'b', 'h', 'w')
  const toServer = new Map<string, string>()
  for (const host of ['a', 'b', 'h', 'w']) toServer.set(host, (await topology.link('s', host)).s!)
  await topology.link('a', 'h')
  await topology.link('b', 'h')
  server = await startSignalProcess(
    ['--port', String(PORT), '--host', '0.0.0.0', '--relay', '--max-rate', String(UNLIMITED), '--max-bytes-per-second', String(UNLIMITED)],
    topology.ns('s'),
  )

  const start = async (host: string, node: EndpointSettings['node']): Promise<EndpointHandle> => {
    const settings: EndpointSettings = {
      stack: 'ours',
      id: host,
      room: 'relay-bench',
      signaling: `ws://${toServer.get(host)}:${PORT}`,
      node,
    }
    const handle = await EndpointHandle.fork(settings, undefined, topology.ns(host))
    await handle.command({ cmd: 'start' })
    return handle
  }
  const h = await start('h', { relay: { maxBytesPerSecond: UNLIMITED } })
  const a = await start('a', { connectTimeout: CONNECT_TIMEOUT })
  const b = await start('b', { connectTimeout: CONNECT_TIMEOUT })
  const w = await start('w', { webrtc: false })
  const all = [a, b, h, w]
  await Promise.all(all.map((e) => e.command({ cmd: 'mesh', peers: all.filter((o) => o !== e).map((o) => o.id) })))
  // A ↔ B may go through the servers for a moment (their WebRTC fails at once) before H's tunnel takes over.
  await until(
    async () => (await a.command({ cmd: 'via', peer: 'b' })) === 'relay:h' && (await b.command({ cmd: 'via', peer: 'a' })) === 'relay:h',
  )
  note(
    `Routes: ${(await Promise.all([h, b, w].map(async (to) => `A → ${to.id} ${await a.command({ cmd: 'via', peer: to.id })}`))).join(', ')}.`,
  )

  // The floor of one relay hop on this WebRTC stack: bare data channels A ↔ H ↔ B in the same
  // namespaces, H passing the bytes on as they come (no protocol, no codec).
  /** Bare endpoints by id, so their negotiation can be handed on. */
  const raws = new Map<string, EndpointHandle>()
  const routeRaw = (to: string, from: string, data: unknown): void => void raws.get(to)?.command({ cmd: 'signal', from, data })
  const rawIn = async (host: string): Promise<EndpointHandle> => {
    const handle = await EndpointHandle.fork({ stack: 'raw', id: `raw-${host}`, room: 'relay-bench' }, routeRaw, topology.ns(host))
    raws.set(handle.id, handle)
    return handle
  }
  const [rawA, rawH, rawB] = [await rawIn('a'), await rawIn('h'), await rawIn('b')]
  await Promise.all([
    rawA.command({ cmd: 'mesh', peers: [rawH.id] }),
    rawB.command({ cmd: 'mesh', peers: [rawH.id] }),
    rawH.command({ cmd: 'mesh', peers: [rawA.id, rawB.id] }),
  ])
  await rawH.command({ cmd: 'forward', between: [rawA.id, rawB.id] })

  /** A route of section 1: pings from `from` to `to` (through `variant` 'via:<id>' for raw), against the direct route `baseline`. */
  interface RouteOf {
    readonly label: string
    readonly from: EndpointHandle
    readonly to: EndpointHandle
    readonly relay: EndpointHandle | 'server' | undefined
    readonly baseline: number
    readonly variant?: string
  }
  const routes: RouteOf[] = [
    { label: 'direct: A → H (WebRTC)', from: a, to: h, relay: undefined, baseline: 0 },
    { label: 'relay of the mesh: A → B through H', from: a, to: b, relay: h, baseline: 0 },
    { label: 'server relay: A → W (no WebRTC) through S', from: a, to: w, relay: 'server', baseline: 0 },
    { label: 'raw RTCDataChannel, direct: A → H', from: rawA, to: rawH, relay: undefined, baseline: 3 },
    {
      label: 'raw RTCDataChannel, A → B with H passing bytes on',
      from: rawA,
      to: rawB,
      relay: rawH,
      baseline: 3,
      variant: `via:${rawH.id}`,
    },
  ]
  /** Section 2 compares ours only (a raw relay has no flow control to blast through). */
  const castRoutes = routes.slice(0, 3)

  /** CPU µs a route's relay has used so far: H's, or the server process's. */
  const relayCpu = async (relay: EndpointHandle | 'server' | undefined): Promise<number> =>
    relay === undefined ? 0 : relay === 'server' ? processCpu(server!.pid) : relay.command<number>({ cmd: 'cpu' })
  const cpuOf = async (e: EndpointHandle): Promise<number> => e.command<number>({ cmd: 'cpu' })

  section(
    `1. Call round trip, small message (${ROUND_TRIPS.rounds * ROUND_TRIPS.perRound} sequential per route after ${ROUND_TRIPS.warmup} warm-up, in ${ROUND_TRIPS.rounds} interleaved rounds of ${ROUND_TRIPS.perRound}, each after ${ROUND_TRIPS.settle} uncounted)`,
  )
  const pingPong = (r: RouteOf, count: number): Promise<number[]> =>
    r.from.command<number[]>({ cmd: 'pingPong', peer: r.to.id, count, ...(r.variant === undefined ? {} : { variant: r.variant }) })
  for (const r of routes) await pingPong(r, ROUND_TRIPS.warmup)
  const samples = routes.map(() => [] as number[])
  const roundP50 = routes.map(() => [] as number[])
  const cpu1 = routes.map(() => ({ ends: 0, relay: 0 }))
  for (let round = 0; round < ROUND_TRIPS.rounds; round++) {
    for (const [i, r] of routes.entries()) {
      await pingPong(r, ROUND_TRIPS.settle)
      const [ends, relay] = [(await cpuOf(r.from)) + (await cpuOf(r.to)), await relayCpu(r.relay)]
      const got = await pingPong(r, ROUND_TRIPS.perRound)
      cpu1[i]!.ends += (await cpuOf(r.from)) + (await cpuOf(r.to)) - ends
      cpu1[i]!.relay += (await relayCpu(r.relay)) - relay
      samples[i]!.push(...got)
      roundP50[i]!.push(percentile(got, 50))
    }
  }
  const p = (i: number, q: number): number => percentile(samples[i]!, q)
  const spread = (i: number): string => {
    const ratios = roundP50[i]!.map((x, round) => x / roundP50[routes[i]!.baseline]![round]!)
    return `${fixed(Math.min(...ratios), 2)}–${fixed(Math.max(...ratios), 2)}×`
  }
  table(
    ['', 'p50 ms', 'p99 ms', 'p50 vs direct', 'range over rounds', 'p99 vs direct', 'CPU µs per call, both ends', 'CPU µs per call, relay'],
    routes.map((r, i) => [
      r.label,
      fixed(p(i, 50), 3),
      fixed(p(i, 99), 3),
      ratio(p(i, 50), p(r.baseline, 50)),
      spread(i),
      ratio(p(i, 99), p(r.baseline, 99)),
      fixed(cpu1[i]!.ends / samples[i]!.length, 0),
      r.relay === undefined ? '—' : fixed(cpu1[i]!.relay / samples[i]!.length, 0),
    ]),
  )
  const meshRatio = p(1, 50) / p(0, 50)
  note(
    `\nTarget: one relay hop ≤ ${TARGET_RELAY_RTT}× the direct round trip (p50): ${meshRatio <= TARGET_RELAY_RTT ? 'yes' : '**NO**'} (${ratio(p(1, 50), p(0, 50))} through H; ` +
      `the floor, bare data channels with H passing bytes on: ${ratio(p(4, 50), p(3, 50))}). ` +
      "The range is each round's p50 over the direct p50 of the same round. CPU: user + system time, all threads; the server's from /proc (10 ms ticks).",
  )

  section(
    `2. One-way throughput: ${THROUGHPUT.count} casts of ${THROUGHPUT.bytes / 1024} KiB back to back until the receiver has counted them all (median of ${THROUGHPUT.runs} runs)`,
  )
  const blast = async (r: RouteOf, count: number): Promise<[number, number, number, number]> => {
    await r.to.command({ cmd: 'arm', count })
    const [sender, receiver, relay] = [await cpuOf(a), await cpuOf(r.to), await relayCpu(r.relay)]
    const started = await a.command<number>({ cmd: 'blast', peer: r.to.id, count, bytes: THROUGHPUT.bytes })
    const ms = (await r.to.command<number>({ cmd: 'received' })) - started
    return [ms, ((await cpuOf(a)) - sender) / count, ((await cpuOf(r.to)) - receiver) / count, ((await relayCpu(r.relay)) - relay) / count]
  }
  for (const r of castRoutes) await blast(r, THROUGHPUT.count / 10)
  const runs = castRoutes.map(() => [] as [number, number, number, number][])
  for (let n = 0; n < THROUGHPUT.runs; n++) for (const [i, r] of castRoutes.entries()) runs[i]!.push(await blast(r, THROUGHPUT.count))
  const perSecond = runs.map((rs) => (THROUGHPUT.count / median(rs.map(([ms]) => ms))) * 1000)
  const spreadOf = (i: number): string => {
    const rates = runs[i]!.map(([ms]) => (THROUGHPUT.count / ms) * 1000)
    return `${fixed(Math.min(...rates), 0)}–${fixed(Math.max(...rates), 0)}`
  }
  table(
    ['', 'messages/s', 'range over runs', 'MB/s', 'vs direct', 'sender CPU µs/msg', 'receiver CPU µs/msg', 'relay CPU µs/msg'],
    castRoutes.map((r, i) => [
      r.label,
      fixed(perSecond[i]!, 0),
      spreadOf(i),
      fixed((perSecond[i]! * THROUGHPUT.bytes) / 1e6, 1),
      ratio(perSecond[i]!, perSecond[0]!),
      fixed(median(runs[i]!.map((x) => x[1])), 1),
      fixed(median(runs[i]!.map((x) => x[2])), 1),
      r.relay === undefined ? '—' : fixed(median(runs[i]!.map((x) => x[3])), 1),
    ]),
  )
  note('\n(MB = 10⁶ bytes of payload.)')
  for (const e of [...all, rawA, rawH, rawB]) await e.close()
}

/** CPU µs a process has used, user + system, from /proc (clock ticks of 1/CLK_TCK s). */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1e6
}
async function until(condition: () => Promise<boolean>, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the relays to settle')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
