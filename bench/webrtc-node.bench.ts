/**
 * Node ↔ Node over real WebRTC (node-datachannel): our library next to a bare RTCDataChannel
 * (the floor on this WebRTC stack) and PeerJS (a local PeerServer), every baseline measured
 * in the same run. Each endpoint runs in its own Node process, as in a deployment; this
 * script only forks them, relays the bare channels' negotiation, and collects times taken
 * on one machine-wide monotonic clock (stats.ts). Sections:
 *
 *   1. call round trip (p50, p99)          4. failure detection after kill -9
 *   2. one-way cast throughput             5. mesh formation of 4, 8, 16 processes
 *   3. registry propagation                6. 10k names registered at 1k per second
 *
 * Run: `npm run bench:node`. Prints one markdown table per section, for bench/RESULTS.md.
 */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { PeerServer } from 'peer'
import * as Y from 'yjs'
import { startSignalingServer } from '../signaling-server/index.js'
import { bareEntries, writeBareSubtree } from './bare-registry.js'
import type { EndpointSettings, Memory, Stack } from './webrtc-node/endpoint.js'
import { EndpointHandle } from './webrtc-node/endpoint-handle.js'
import { clock, fixed, median, mib, percentile, ratio, table } from './webrtc-node/stats.js'

/**
 * Section 1: round trips per stack in interleaved rounds, each after a settle; ours needs a
 * few thousand calls before V8 has optimized its whole path, hence the long first warm-up.
 */
const ROUND_TRIPS = { warmup: 3000, rounds: 10, perRound: 300, settle: 100 }
/** Section 1, second part: calls spaced out, as an app makes them. */
const SPORADIC = { count: 200, gapMs: 10, rounds: 4 }
/** Section 2: payload sizes and how many of each make one run; median of `runs`. */
const THROUGHPUT = {
  sizes: [
    { bytes: 1024, count: 20_000 },
    { bytes: 64 * 1024, count: 1000 },
  ],
  runs: 3,
}
/** Section 3: names registered one at a time, spaced out so none waits behind another. */
const PROPAGATION = { count: 200, perSecond: 100 }
/** Section 4: kill -9 runs, and how long to wait for a detection before calling it missed. */
const FAILURE = { runs: 5, oursCapMs: 10_000, rawCapMs: 45_000 }
/** Section 5: mesh sizes, and how long a mesh may take to form before it counts as failed. */
const MESH = {
  // `--mesh=16,32`: only these sizes (to repeat the ones that matter).
  sizes: process.argv
    .find((a) => a.startsWith('--mesh='))
    ?.slice('--mesh='.length)
    .split(',')
    .map(Number) ?? [4, 8, 16, 32],
  capMs: 60_000,
  /**
   * `--warm`: each group forms a mesh once, untimed, in another room, then rejoins and forms
   * the timed one: what a join costs once the processes' code is compiled and optimized, where
   * the default (cold) is what a fresh process pays.
   */
  warm: process.argv.includes('--warm'),
}
/** Section 6: names, their rate, and the observers (separate processes). */
const NAMES = { count: 10_000, perSecond: 1000, observers: 2 }

/** `--only=1,3` runs some sections (for working on one); by default all run. */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')

/** Targets of issue 5. */
const TARGETS = { rttRatio: 1.25, throughputRatio: 0.8, propagationSlackMs: 2, detectionMs: 2000 }

const signaling = await startSignalingServer({ port: 0 })
const peerServer = await new Promise<{ port: number; close: () => void }>((resolve) => {
  PeerServer({ port: 0, host: '127.0.0.1', path: '/' }, (server) => {
    resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() })
  })
})
process.on('exit', EndpointHandle.killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))

/** Every endpoint by id, to route the bare channels' negotiation between processes. */
const endpoints = new Map<string, EndpointHandle>()

function route(to: string, from: string, data: unknown): void {
  const target = endpoints.get(to)
  // A process that died meanwhile (a failed mesh) just misses it.
  if (target?.alive) target.command({ cmd: 'signal', from, data }).catch((error: Error) => target.alive && console.error(error.message))
}

/** Forks endpoints of one stack at once and waits until each has loaded its stack. */
async function fork(stack: Stack, ids: readonly string[], room: string): Promise<EndpointHandle[]> {
  const settings = (id: string): EndpointSettings => ({
    stack,
    id,
    room,
    signaling: signaling.url,
    peerServer: { host: '127.0.0.1', port: peerServer.port, path: '/' },
  })
  const handles = await Promise.all(ids.map((id) => EndpointHandle.fork(settings(id), route)))
  for (const handle of handles) endpoints.set(handle.id, handle)
  return handles
}

/** Endpoints already started (a node starts once; later meshes only add peers). */
const started = new WeakSet<EndpointHandle>()

/** Starts every endpoint not started yet and meshes it with all the others; resolves with each one's mesh time. */
async function mesh(handles: readonly EndpointHandle[]): Promise<number[]> {
  return Promise.all(
    handles.map(async (handle) => {
      if (!started.has(handle)) {
        started.add(handle)
        await handle.command({ cmd: 'start' })
      }
      return handle.command<number>({ cmd: 'mesh', peers: handles.filter((h) => h !== handle).map((h) => h.id) })
    }),
  )
}

/** Forks, starts and meshes a group of one stack. */
async function group(stack: Stack, ids: readonly string[], room: string): Promise<EndpointHandle[]> {
  const handles = await fork(stack, ids, room)
  await mesh(handles)
  return handles
}

/**
 * Forks one more endpoint into a formed mesh and meshes it with all: ms until every node has
 * it, and the CPU (ms, median) each node of the mesh spent meanwhile — a join's cost to warm
 * nodes, where the mesh's own formation runs every node's code cold.
 */
async function oneMore(stack: Stack, handles: readonly EndpointHandle[], room: string): Promise<[string, string]> {
  const [extra] = await fork(stack, [`${handles[0]!.id}-extra`], room)
  try {
    const before = await Promise.all(handles.map((h) => h.command<number>({ cmd: 'cpu' })))
    const t0 = clock()
    const joined = await within(
      mesh([...handles, extra!]).then(
        (times) => Math.max(...times),
        () => Number.NaN,
      ),
      MESH.capMs,
    )
    if (Number.isNaN(joined)) return ['**not joined**', '—']
    const after = await Promise.all(handles.map((h) => h.command<number>({ cmd: 'cpu' })))
    return [fixed(joined - t0, 0), fixed(median(after.map((cpu, i) => cpu - before[i]!)) / 1000, 1)]
  } finally {
    await extra!.close()
  }
}

/** CPU time (µs) the processes of `handles` have used so far. */
async function cpuOf(handles: readonly EndpointHandle[]): Promise<number> {
  let total = 0
  for (const handle of handles) total += await handle.command<number>({ cmd: 'cpu' })
  return total
}

/** `promise`, or NaN once `ms` have passed. */
async function within(promise: Promise<number>, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const result = await Promise.race([
    promise,
    new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(Number.NaN), ms)
    }),
  ])
  clearTimeout(timer)
  return result
}

function yesNo(ok: boolean): string {
  return ok ? 'yes' : '**NO**'
}

function section(title: string): void {
  console.log(`\n### ${title}\n`)
}
const note = (text: string): void => console.log(text)
const print = table

// ── The machine ──────────────────────────────────────────────────────────────────────────
const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
const versions = (name: string): string =>
  (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version
const gitHead = execSync('git rev-parse --short HEAD').toString().trim()
note(`Node ↔ Node over real WebRTC: each endpoint in its own Node process (child_process.fork), over loopback.`)
note(
  `Machine: ${availableParallelism()} cores (nproc), ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, commit ${gitHead}.`,
)
note(
  `Stacks: ours (signaling server in this process), raw RTCDataChannel (node-datachannel ${versions('node-datachannel')} polyfill; negotiation relayed by this script), PeerJS ${versions('peerjs')} (PeerServer from peer ${versions('peer')} in this process; node-datachannel polyfill and ws as globals).`,
)
note(`Command: npm run bench:node${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`)
note(
  `Load average at start (other work on the machine shows in wall-clock times, less in CPU times): ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}.`,
)

/** The three pairs of sections 1–4, forked on first use. */
interface Pairs {
  readonly ours: readonly [EndpointHandle, EndpointHandle]
  readonly raw: readonly [EndpointHandle, EndpointHandle]
  readonly peerjs: readonly [EndpointHandle, EndpointHandle]
}
let pairs: Pairs | undefined
async function pairsOf(): Promise<Pairs> {
  const pair = async (stack: Stack): Promise<[EndpointHandle, EndpointHandle]> => {
    const [a, b] = await group(stack, [`${stack}-a`, `${stack}-b`], 'pair')
    return [a!, b!]
  }
  pairs ??= { ours: await pair('ours'), raw: await pair('raw'), peerjs: await pair('peerjs') }
  return pairs
}

/** p50 of the raw round trip, from section 1 or measured here when section 1 is not run. */
let rawRoundTrip: number | undefined

/** Sends a series from `from`; per receiver, each item's delay (ms) from emission to arrival. */
async function series(
  from: EndpointHandle,
  to: readonly EndpointHandle[],
  tag: string,
  count: number,
  perSecond: number,
): Promise<number[][]> {
  await Promise.all(to.map((h) => h.command({ cmd: 'armSeries', tag, count })))
  const sent = await from.command<number[]>({ cmd: 'emit', tag, count, perSecond })
  const arrived = await Promise.all(to.map((h) => h.command<number[]>({ cmd: 'collected' })))
  return arrived.map((times) => times.map((t, i) => t - sent[i]!))
}

async function roundTrips(): Promise<void> {
  const { ours, raw, peerjs } = await pairsOf()
  section(
    `1. Call round trip, small message (${ROUND_TRIPS.rounds * ROUND_TRIPS.perRound} sequential per stack after ${ROUND_TRIPS.warmup} warm-up, in ${ROUND_TRIPS.rounds} interleaved rounds of ${ROUND_TRIPS.perRound}, each after ${ROUND_TRIPS.settle} uncounted)`,
  )
  const variants = [
    { label: 'raw RTCDataChannel ping-pong (5 bytes)', pair: raw, variant: undefined },
    { label: 'ours: `node.call(pid, i)` to an echo process', pair: ours, variant: 'pid' },
    { label: 'ours: `node.call(name, i)` (name lookup each call)', pair: ours, variant: 'name' },
    { label: 'PeerJS: `conn.send(i)`, echoed (BinaryPack)', pair: peerjs, variant: undefined },
  ]
  const pingPong = (v: (typeof variants)[number], count: number): Promise<number[]> =>
    v.pair[0].command<number[]>({ cmd: 'pingPong', peer: v.pair[1].id, count, variant: v.variant })
  const samples = variants.map(() => [] as number[])
  /** Each round's p50 per variant: how far one round's ratio strays shows the noise. */
  const roundP50 = variants.map(() => [] as number[])
  const cpu = variants.map(() => 0)
  for (const v of variants) await pingPong(v, ROUND_TRIPS.warmup)
  for (let round = 0; round < ROUND_TRIPS.rounds; round++) {
    for (const [i, v] of variants.entries()) {
      // Uncounted: after sitting idle while the others ran, a stack is slower for its first
      // hundred or so calls (threads asleep, caches cold); this measures the warm path.
      await pingPong(v, ROUND_TRIPS.settle)
      const before = await cpuOf(v.pair)
      const round = await pingPong(v, ROUND_TRIPS.perRound)
      samples[i]!.push(...round)
      roundP50[i]!.push(percentile(round, 50))
      cpu[i]! += (await cpuOf(v.pair)) - before
    }
  }
  const p = (i: number, q: number): number => percentile(samples[i]!, q)
  const cpuPerTrip = (i: number): number => cpu[i]! / samples[i]!.length
  const roundRatios = (i: number): number[] => roundP50[i]!.map((x, r) => x / roundP50[0]![r]!)
  const spread = (i: number): string => `${fixed(Math.min(...roundRatios(i)), 2)}–${fixed(Math.max(...roundRatios(i)), 2)}×`
  print(
    ['', 'p50 ms', 'p99 ms', 'p50 vs raw', 'p50 vs raw, range over rounds', 'p99 vs raw', 'CPU µs per round trip', 'CPU vs raw'],
    variants.map((v, i) => [
      v.label,
      fixed(p(i, 50), 3),
      fixed(p(i, 99), 3),
      ratio(p(i, 50), p(0, 50)),
      spread(i),
      ratio(p(i, 99), p(0, 99)),
      fixed(cpuPerTrip(i), 0),
      ratio(cpuPerTrip(i), cpuPerTrip(0)),
    ]),
  )
  note(
    '\nCPU: user + system time of both processes, all their threads (libdatachannel sends and receives on its own), per round trip. ' +
      "The range is each round's p50 over the raw p50 of the same round: where it spans 1×, the difference is below what this machine can tell apart.",
  )
  rawRoundTrip = p(0, 50)
  note(
    `\nTarget ours ≤ ${TARGETS.rttRatio}× raw (p50): ${yesNo(p(1, 50) <= TARGETS.rttRatio * p(0, 50))} (${ratio(p(1, 50), p(0, 50))}); ` +
      `faster than PeerJS: p50 ${yesNo(p(1, 50) < p(3, 50))}, p99 ${yesNo(p(1, 99) < p(3, 99))}.`,
  )

  // Calls in an app are mostly sporadic: each finds the threads asleep and the caches cold.
  note(`\nSporadic calls: ${SPORADIC.count} per stack, one every ${SPORADIC.gapMs} ms (interleaved in ${SPORADIC.rounds} rounds):\n`)
  const sporadic = variants.map(() => [] as number[])
  for (let round = 0; round < SPORADIC.rounds; round++) {
    for (const [i, v] of variants.entries()) {
      sporadic[i]!.push(
        ...(await v.pair[0].command<number[]>({
          cmd: 'pingPong',
          peer: v.pair[1].id,
          count: SPORADIC.count / SPORADIC.rounds,
          variant: v.variant,
          gapMs: SPORADIC.gapMs,
        })),
      )
    }
  }
  const q = (i: number, k: number): number => percentile(sporadic[i]!, k)
  print(
    ['', 'p50 ms', 'p99 ms', 'p50 vs raw', 'p99 vs raw'],
    variants.map((v, i) => [v.label, fixed(q(i, 50), 3), fixed(q(i, 99), 3), ratio(q(i, 50), q(0, 50)), ratio(q(i, 99), q(0, 99))]),
  )
}

async function throughput(): Promise<void> {
  const { ours, raw, peerjs } = await pairsOf()
  section(`2. One-way throughput: payloads sent back to back until the receiver has counted them all (median of ${THROUGHPUT.runs} runs)`)
  const stacks = [
    { label: 'raw RTCDataChannel (sender waits while > 1 MiB is buffered)', pair: raw },
    { label: 'ours: `node.cast(pid, bytes)`', pair: ours },
    { label: 'PeerJS: `conn.send(bytes)`', pair: peerjs },
  ]
  const rows: string[][] = []
  let met = true
  for (const { bytes, count } of THROUGHPUT.sizes) {
    /** One run: its time, and the CPU µs each side spent per payload. */
    const blast = async ({ pair: [from, to] }: (typeof stacks)[number], n: number): Promise<[number, number, number]> => {
      await to.command({ cmd: 'arm', count: n })
      const [sender, receiver] = [await cpuOf([from]), await cpuOf([to])]
      const start = await from.command<number>({ cmd: 'blast', peer: to.id, count: n, bytes })
      const ms = (await to.command<number>({ cmd: 'received' })) - start
      return [ms, ((await cpuOf([from])) - sender) / n, ((await cpuOf([to])) - receiver) / n]
    }
    for (const s of stacks) await blast(s, Math.ceil(count / 10))
    const runs = stacks.map(() => [] as [number, number, number][])
    for (let run = 0; run < THROUGHPUT.runs; run++) for (const [i, s] of stacks.entries()) runs[i]!.push(await blast(s, count))
    const perSecond = runs.map((r) => (count / median(r.map(([ms]) => ms))) * 1000)
    for (const [i, s] of stacks.entries()) {
      const [sender, receiver] = [median(runs[i]!.map((r) => r[1])), median(runs[i]!.map((r) => r[2]))]
      rows.push([
        `${bytes / 1024} KiB × ${count}: ${s.label}`,
        fixed(perSecond[i]!, 0),
        fixed((perSecond[i]! * bytes) / 1e6, 1),
        ratio(perSecond[i]!, perSecond[0]!),
        fixed(sender, 1),
        fixed(receiver, 1),
      ])
    }
    met &&= perSecond[1]! >= TARGETS.throughputRatio * perSecond[0]!
  }
  print(['', 'messages/s', 'MB/s', 'vs raw', 'sender CPU µs/msg', 'receiver CPU µs/msg'], rows)
  note(`\nTarget ours ≥ ${TARGETS.throughputRatio}× raw at both sizes: ${yesNo(met)}. (MB = 10⁶ bytes of payload.)`)
}

async function propagation(): Promise<void> {
  const { ours, raw } = await pairsOf()
  rawRoundTrip ??= median(await raw[0].command<number[]>({ cmd: 'pingPong', peer: raw[1].id, count: 500 }))
  section(`3. Registry propagation: \`register\` on A until B's \`watch\` sees it (${PROPAGATION.count} names, ${PROPAGATION.perSecond}/s)`)
  const [oursDelays] = await series(ours[0], [ours[1]], 'prop', PROPAGATION.count, PROPAGATION.perSecond)
  const [rawDelays] = await series(raw[0], [raw[1]], 'prop', PROPAGATION.count, PROPAGATION.perSecond)
  const oursP50 = percentile(oursDelays!, 50)
  const rawOneWay = percentile(rawDelays!, 50)
  print(
    ['', 'p50 ms', 'p99 ms', 'p50 vs raw one-way'],
    [
      ['raw one-way message (5 bytes), same schedule', fixed(rawOneWay, 3), fixed(percentile(rawDelays!, 99), 3), '1.00×'],
      ['ours: register on A → join on B', fixed(oursP50, 3), fixed(percentile(oursDelays!, 99), 3), ratio(oursP50, rawOneWay)],
    ],
  )
  const bound = rawRoundTrip + TARGETS.propagationSlackMs
  note(
    `\nTimes are taken in A and in B on CLOCK_MONOTONIC, which all processes of a machine share. ` +
      `Target p50 ≤ 1 raw round trip (${fixed(rawRoundTrip, 3)} ms) + ${TARGETS.propagationSlackMs} ms = ${fixed(bound, 3)} ms: ${yesNo(oursP50 <= bound)}.`,
  )
}

async function failureDetection(): Promise<void> {
  const {
    ours: [oursA, oursB],
    raw: [rawA],
  } = await pairsOf()
  section(
    `4. Failure detection: kill -9 a peer process → its names gone on the others (${FAILURE.runs} runs, default heartbeats 500 ms / 1500 ms)`,
  )
  const rows: string[][] = []
  const detections: number[] = []
  let rawDetection: Promise<number> | undefined
  for (let run = 1; run <= FAILURE.runs; run++) {
    const [victim] = await fork('ours', [`victim-${run}`], 'pair')
    await mesh([victim!, oursA, oursB])
    const seen = [oursA, oursB].map((o) => within(o.command<number>({ cmd: 'gone', peer: victim!.id }), FAILURE.oursCapMs))
    let rawVictim: EndpointHandle | undefined
    if (run === 1) {
      // The floor: what a bare data channel (and so PeerJS, which has no heartbeat) reports.
      ;[rawVictim] = await fork('raw', ['raw-victim'], 'pair')
      await mesh([rawVictim!, rawA])
      rawDetection = within(rawA.command<number>({ cmd: 'gone', peer: rawVictim!.id }), FAILURE.rawCapMs)
    }
    const killedAt = clock()
    await Promise.all([victim!.kill(), rawVictim?.kill()])
    const times = (await Promise.all(seen)).map((t) => t - killedAt)
    detections.push(...times)
    rows.push([`run ${run}`, ...times.map((t) => fixed(t / 1000, 3))])
    if (run === 1) rawDetection = rawDetection!.then((t) => t - killedAt)
  }
  print(['', 'seen on A, s', 'seen on B, s'], rows)
  const rawSeen = await rawDetection!
  note(
    `\nours: p50 ${fixed(median(detections) / 1000, 3)} s, max ${fixed(Math.max(...detections) / 1000, 3)} s. ` +
      `Bare data channel (run 1, its own close or connection-state event): ${Number.isNaN(rawSeen) ? `nothing within ${FAILURE.rawCapMs / 1000} s` : `${fixed(rawSeen / 1000, 1)} s`}. ` +
      `Target ≤ ${TARGETS.detectionMs / 1000} s: ${yesNo(detections.every((t) => t <= TARGETS.detectionMs))}.`,
  )
}

async function meshFormation(): Promise<void> {
  section('5. Mesh formation: N processes told to join at once → every pair connected and (ours) every registry holding every member')
  if (MESH.warm) {
    note(
      '--warm: each process formed a mesh of the same size once before, untimed, and rejoined: its code is warm. The memory columns count what the first mesh left too.',
    )
  }
  const rows: string[][] = []
  const perPeer = new Map<string, number>()
  const heapPerPeer = new Map<string, number>()
  const payloads: string[][] = []
  const joins: string[][] = []
  const failures: string[] = []
  for (const n of MESH.sizes) {
    for (const stack of ['raw', 'ours'] as const) {
      const forkedAt = clock()
      const handles = await fork(
        stack,
        Array.from({ length: n }, (_, i) => `${stack}-m${n}-${String(i).padStart(2, '0')}`),
        `mesh-${n}`,
      )
      const loadMs = clock() - forkedAt
      if (MESH.warm) {
        await within(
          mesh(handles).then(() => 0),
          MESH.capMs,
        )
        await Promise.all(handles.map((h) => h.command({ cmd: 'rejoin', room: `mesh-${n}-warm` })))
      }
      const cpuBefore = await Promise.all(handles.map((h) => h.command<number>({ cmd: 'cpu' })))
      const t0 = clock()
      const formed = await within(
        mesh(handles).then(
          (times) => Math.max(...times),
          () => Number.NaN,
        ),
        MESH.capMs,
      )
      if (Number.isNaN(formed)) {
        // Wait a moment for the report of processes that died (they all had a command pending).
        await within(
          Promise.all(
            handles.map((h) =>
              h.command({ cmd: 'memory' }).then(
                () => 0,
                () => 0,
              ),
            ),
          ).then(() => 0),
          5000,
        )
        const died = handles.filter((h) => !h.alive).map((h) => h.exitedWith)
        const why =
          died.length === 0
            ? `not formed in ${MESH.capMs / 1000} s`
            : `failed: ${died.length} processes died (${[...new Set(died)].join(', ')})`
        failures.push(`N = ${n}, ${stack}: ${why}`)
        rows.push([`${n}`, stack, fixed(loadMs / 1000, 1), `**${why}**`, '—', '—', '—', '—'])
      } else {
        const cpuAfter = await Promise.all(handles.map((h) => h.command<number>({ cmd: 'cpu' })))
        const cpuMs = median(cpuAfter.map((after, i) => after - cpuBefore[i]!)) / 1000
        if (stack === 'ours') {
          const received = await Promise.all(handles.map((h) => h.command<number>({ cmd: 'signalingPayloads' })))
          const p50 = median(received)
          payloads.push([`${n}`, fixed(p50, 0), fixed(Math.max(...received), 0), fixed(p50 / (n - 1), 1)])
        }
        const after = await Promise.all(handles.map((h) => h.command<Memory>({ cmd: 'memory' })))
        const growth = (key: keyof Memory): number => median(handles.map((h, i) => (after[i]![key] - h.loaded![key]) / (n - 1)))
        perPeer.set(`${stack}-${n}`, growth('rss'))
        heapPerPeer.set(`${stack}-${n}`, growth('heapUsed'))
        rows.push([
          `${n}`,
          stack,
          fixed(loadMs / 1000, 1),
          fixed(formed - t0, 0),
          fixed(cpuMs, 0),
          mib(median(after.map((m) => m.rss))),
          mib(growth('rss')),
          fixed(growth('heapUsed') / 1024, 0),
        ])
        joins.push([`${n}`, stack, ...(await oneMore(stack, handles, `mesh-${n}`))])
      }
      await Promise.all(handles.map((h) => h.close()))
    }
  }
  print(
    [
      'N',
      'stack',
      'fork + load s',
      'formed in ms',
      'CPU per process while forming, ms',
      'RSS per process MiB',
      'RSS growth per connected peer MiB',
      'JS heap per connected peer KiB',
    ],
    rows,
  )
  const [small, large] = [MESH.sizes[0]!, MESH.sizes.at(-1)!]
  /** What one more peer costs, from the growth at the smallest and the largest mesh: a node's fixed costs cancel out. */
  const slope = (growths: Map<string, number>, stack: string): number => {
    const [at, from] = [growths.get(`${stack}-${large}`), growths.get(`${stack}-${small}`)]
    return at === undefined || from === undefined ? Number.NaN : (at * (large - 1) - from * (small - 1)) / (large - small)
  }
  note(
    `\n"fork + load": Node start, tsx and the stack's modules, before the clock starts. Growth per peer is (RSS after the mesh formed − RSS after load) / (N − 1), median over the processes, after a full GC; ` +
      `it counts a node's own start-up once per peer it has. From N = ${small} to ${large}, each extra peer costs ours ${mib(slope(perPeer, 'ours'))} MiB and raw ${mib(slope(perPeer, 'raw'))} MiB of RSS, ` +
      `and ours ${fixed(slope(heapPerPeer, 'ours') / 1024, 0)} KiB and raw ${fixed(slope(heapPerPeer, 'raw') / 1024, 0)} KiB of JS heap (target of issue 13: ≤ 64 KiB). This machine has ${availableParallelism()} cores for all N processes.`,
  )
  if (failures.length > 0) note(`\nFailed meshes: ${failures.join('; ')}. See RESULTS.md for what kills them.`)
  note(
    '\nOne more process joins the formed mesh: until every node has it (ours: and its names), and the CPU each node of the mesh spent meanwhile:\n',
  )
  print(['N', 'stack', 'joined in ms', 'CPU per node of the mesh, ms (median)'], joins)
  note('\nSignaling payloads each of our nodes received while its mesh formed (announces, its own negotiation, and copies):\n')
  print(['N', 'per node, median', 'per node, max', 'per node per peer, median'], payloads)
  note(
    '\nNegotiation goes only to the node it is for (its direct topic), so what a node receives grows with its peers (N − 1), not with every pair of the room (N²). What still grows per peer is announces: they go to the whole room, and a node announces again after each try that failed.',
  )
}

async function manyNames(): Promise<void> {
  section(
    `6. ${NAMES.count / 1000}k names registered at ${NAMES.perSecond}/s on one node, seen by ${NAMES.observers} others (separate processes)`,
  )
  const observerIds = Array.from({ length: NAMES.observers }, (_, i) => `obs-${i}`)
  const ours = await group('ours', ['names-a', ...observerIds.map((id) => `names-${id}`)], 'names')
  const raw = await group('raw', ['rawnames-a', ...observerIds.map((id) => `rawnames-${id}`)], 'names')
  const before = await Promise.all(ours.map((h) => h.command<Memory>({ cmd: 'memory' })))
  const oursDelays = (await series(ours[0]!, ours.slice(1), 'n', NAMES.count, NAMES.perSecond)).flat()
  const after = await Promise.all(ours.map((h) => h.command<Memory>({ cmd: 'memory' })))
  const rawDelays = (await series(raw[0]!, raw.slice(1), 'n', NAMES.count, NAMES.perSecond)).flat()
  const heapPerNode = median(after.map((m, i) => m.heapUsed - before[i]!.heapUsed))
  const rssPerNode = median(after.map((m, i) => m.rss - before[i]!.rss))
  const p = (d: number[], q: number): number => percentile(d, q)
  print(
    ['', 'p50 ms', 'p99 ms', 'max ms', 'p50 vs raw', 'p99 vs raw'],
    [
      [
        'raw: 5-byte message to each observer, same rate',
        fixed(p(rawDelays, 50), 3),
        fixed(p(rawDelays, 99), 3),
        fixed(Math.max(...rawDelays), 1),
        '1.00×',
        '1.00×',
      ],
      [
        'ours: register → join on each observer',
        fixed(p(oursDelays, 50), 3),
        fixed(p(oursDelays, 99), 3),
        fixed(Math.max(...oursDelays), 1),
        ratio(p(oursDelays, 50), p(rawDelays, 50)),
        ratio(p(oursDelays, 99), p(rawDelays, 99)),
      ],
    ],
  )
  const bareYjs = bareYjsHeap(NAMES.count)
  note(
    `\nRegistry memory with ${NAMES.count / 1000}k names, per node (median of the ${NAMES.observers + 1}, JS heap after GC): ours ${mib(heapPerNode)} MiB ` +
      `(${fixed(heapPerNode / NAMES.count, 0)} B per name; RSS grew ${mib(rssPerNode)} MiB); a bare Y.Doc with the same ${NAMES.count / 1000}k entries: ${mib(bareYjs)} MiB (${ratio(heapPerNode, bareYjs)}).`,
  )
  for (const h of [...ours, ...raw]) await h.close()
}

/** Sections by number. */
const SECTIONS: Record<string, () => Promise<void>> = {
  1: roundTrips,
  2: throughput,
  3: propagation,
  4: failureDetection,
  5: meshFormation,
  6: manyNames,
}
try {
  for (const [key, run] of Object.entries(SECTIONS)) if (only === undefined || only.includes(key)) await run()
  note(
    `\nLoad average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.`,
  )
} finally {
  await EndpointHandle.closeAll()
  await signaling.close()
  peerServer.close()
}
// The PeerServer keeps interval timers it offers no way to stop.
process.exit()

/** Heap held by a bare Y.Doc with `count` entries in one owner's subtree, as the registry lays them out. */
function bareYjsHeap(count: number): number {
  const gc = (globalThis as { gc?: () => void }).gc
  const entries = bareEntries(count, 'n-')
  gc?.()
  const before = process.memoryUsage().heapUsed
  const doc = new Y.Doc()
  const subtree = writeBareSubtree(doc, 'names-a@1', entries)
  gc?.()
  const bytes = process.memoryUsage().heapUsed - before
  if (subtree.length !== count) throw new Error('bare Y.Doc lost entries')
  return bytes
}
