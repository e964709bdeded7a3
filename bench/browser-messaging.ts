/**
 * Sections 1 and 2 of the browser benchmark (bench/webrtc-browser.bench.ts): the per-message
 * cost. Sequential call round trips and one-way cast throughput of ours, each against the raw
 * pipe of its kind (and PeerJS over WebRTC), every row in the same rotation.
 */
import { fixed, median, percentile, table, times, verdict } from './browser-stats.js'
import { relinking, type Pair, type Pairs } from './browser-pairs.js'
import type { Tab } from './browser-harness.js'

/** Sequential calls per row (after WARMUP), in ROUNDS blocks whose order rotates. */
const CALLS = 2000
const WARMUP = 200
const ROUNDS = 4
/** The small message, bytes. */
const SMALL = 32
/** One-way transfers: payload size and count per run; median of THROUGHPUT_ROUNDS runs. */
const TRANSFERS = [
  { size: 1024, count: 4000 },
  { size: 64 * 1024, count: 320 },
]
const THROUGHPUT_ROUNDS = 3
/** Issue 5's targets for these sections. */
const TARGETS = { callVsRaw: 1.25, castVsRaw: 0.8 }

/** A measured row: its label, and a function running `n` of it. */
interface Contender<T> {
  readonly label: string
  readonly run: (n: number) => Promise<T>
}

/** Runs every contender's `total` in `rounds` blocks, rotating the order each round, after a warm-up. */
async function interleaved<T>(
  contenders: readonly Contender<T[]>[],
  total: number,
  rounds: number,
  warmup: number,
): Promise<Map<string, T[]>> {
  const out = new Map(contenders.map((c) => [c.label, [] as T[]]))
  for (const c of contenders) await c.run(warmup)
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length]!
      out.get(c.label)!.push(...(await c.run(total / rounds)))
    }
  }
  return out
}

/** Section 1: sequential round trips of a small message. */
export async function callRoundTrips(pairs: Pairs): Promise<{ text: string; rawP50: number; oursP50: number }> {
  await pairs.raw.b.run(() => window.bench.serveEcho('raw'), undefined)
  await pairs.peerjs.b.run(() => window.bench.serveEcho('peerjs'), undefined)
  await pairs.rawBc.b.run(() => window.bench.serveEcho('broadcast'), undefined)
  // The control rows: the raw pipe between ours' own two tabs, beside the node.
  await pairs.ours.b.run(() => window.bench.serveEcho('raw'), undefined)
  await pairs.bc.b.run(() => window.bench.serveEcho('broadcast'), undefined)
  await pairs.worker.run(() => window.bench.workerServe('echo'), undefined)
  const loop = (tab: Tab, kind: 'raw' | 'peerjs' | 'broadcast' | 'port') => (n: number) =>
    tab.run(([k, count, size]) => window.bench.pingLoop(k, count, size), [kind, n, SMALL] as const)
  const ours = (pair: Pair) => (n: number) =>
    relinking(pair, () => pair.a.run(([count, size]) => window.bench.ours.callLoop('echo', count, size), [n, SMALL] as const))

  const measure = (contenders: readonly Contender<number[]>[]) => interleaved(contenders, CALLS, ROUNDS, WARMUP)

  const webrtc = await measure([
    { label: 'ours', run: ours(pairs.ours) },
    { label: 'raw', run: loop(pairs.raw.a, 'raw') },
    { label: 'peerjs', run: loop(pairs.peerjs.a, 'peerjs') },
    { label: 'raw in ours', run: loop(pairs.ours.a, 'raw') },
  ])
  const bc = await measure([
    { label: 'ours', run: ours(pairs.bc) },
    { label: 'raw', run: loop(pairs.rawBc.a, 'broadcast') },
    { label: 'raw in ours', run: loop(pairs.bc.a, 'broadcast') },
  ])
  const port = await measure([
    {
      label: 'ours',
      run: (n: number) => pairs.worker.run(([count, size]) => window.bench.ours.callLoop('echo', count, size), [n, SMALL] as const),
    },
    { label: 'raw', run: loop(pairs.worker, 'port') },
  ])

  const p = (samples: number[] | undefined, q: number): number => percentile(samples ?? [], q)
  const rawP50 = p(webrtc.get('raw'), 50)
  const rawP99 = p(webrtc.get('raw'), 99)
  const row = (what: string, s: number[] | undefined, base50: number, base99: number): string[] => [
    what,
    fixed(p(s, 50), 3),
    fixed(p(s, 99), 3),
    times(p(s, 50) / base50),
    times(p(s, 99) / base99),
  ]
  const bcRaw50 = p(bc.get('raw'), 50)
  const bcRaw99 = p(bc.get('raw'), 99)
  const portRaw50 = p(port.get('raw'), 50)
  const portRaw99 = p(port.get('raw'), 99)
  const oursP50 = p(webrtc.get('ours'), 50)
  const peerjsP50 = p(webrtc.get('peerjs'), 50)
  const text =
    table(
      ['two profiles, WebRTC', 'p50 ms', 'p99 ms', 'p50 / raw', 'p99 / raw'],
      [
        row('ours `node.call`', webrtc.get('ours'), rawP50, rawP99),
        row('raw RTCDataChannel ping-pong', webrtc.get('raw'), rawP50, rawP99),
        row('PeerJS request/response', webrtc.get('peerjs'), rawP50, rawP99),
        row("raw RTCDataChannel ping-pong, in ours' two tabs", webrtc.get('raw in ours'), rawP50, rawP99),
        row('one profile: ours `node.call` over BroadcastChannel', bc.get('ours'), bcRaw50, bcRaw99),
        row('one profile: raw BroadcastChannel ping-pong', bc.get('raw'), bcRaw50, bcRaw99),
        row("one profile: raw BroadcastChannel ping-pong, in ours' two tabs", bc.get('raw in ours'), bcRaw50, bcRaw99),
        row('page → its worker: ours `node.call` over a MessagePort', port.get('ours'), portRaw50, portRaw99),
        row('page → its worker: raw MessagePort ping-pong', port.get('raw'), portRaw50, portRaw99),
      ],
    ) +
    `\n\n${CALLS} sequential round trips per row after ${WARMUP} of warm-up, ${SMALL}-byte payload, in ${ROUNDS} rotating blocks.` +
    `\nThe rows "in ours' two tabs" run the raw pipe between the two tabs of ours' row, beside the node; ours / that pipe, p50: ` +
    `WebRTC ${times(oursP50 / p(webrtc.get('raw in ours'), 50))}, BroadcastChannel ${times(p(bc.get('ours'), 50) / p(bc.get('raw in ours'), 50))}.` +
    `\nTarget ours ≤ ${TARGETS.callVsRaw}× raw (p50): ${verdict(oursP50 / rawP50 <= TARGETS.callVsRaw)} (${times(oursP50 / rawP50)}); ` +
    `faster than PeerJS: ${verdict(oursP50 < peerjsP50)} (ours / PeerJS = ${times(oursP50 / peerjsP50)}).`
  return { text, rawP50, oursP50 }
}

/** Section 2: one-way transfer rate, median of rounds. */
export async function castThroughput(pairs: Pairs): Promise<string> {
  const rows: string[][] = []
  const verdicts: string[] = []
  for (const { size, count } of TRANSFERS) {
    const pipe =
      (pair: Pair, kind: 'raw' | 'peerjs' | 'broadcast') =>
      async (n: number): Promise<number[]> => {
        await pair.b.run(([k, c]) => window.bench.serveSink(k, c), [kind, n] as const)
        return [await pair.a.run(([k, c, s]) => window.bench.throughput(k, c, s), [kind, n, size] as const)]
      }
    const ours =
      (pair: Pair) =>
      async (n: number): Promise<number[]> => [
        await relinking(pair, () => pair.a.run(([c, s]) => window.bench.ours.castThroughput('sink', c, s), [n, size] as const)),
      ]
    const measure = (contenders: readonly Contender<number[]>[]) =>
      interleaved(contenders, count * THROUGHPUT_ROUNDS, THROUGHPUT_ROUNDS, count / 4)
    const webrtc = await measure([
      { label: 'ours', run: ours(pairs.ours) },
      { label: 'raw', run: pipe(pairs.raw, 'raw') },
      { label: 'peerjs', run: pipe(pairs.peerjs, 'peerjs') },
    ])
    const bc = await measure([
      { label: 'ours', run: ours(pairs.bc) },
      { label: 'raw', run: pipe(pairs.rawBc, 'broadcast') },
    ])
    const port = await measure([
      {
        label: 'ours',
        run: async (n: number) => [await pairs.worker.run(([c, s]) => window.bench.ours.castThroughput('sink', c, s), [n, size] as const)],
      },
      {
        label: 'raw',
        run: async (n: number) => {
          await pairs.worker.run((c) => window.bench.workerServe('sink', c), n)
          return [await pairs.worker.run(([c, s]) => window.bench.throughput('port', c, s), [n, size] as const)]
        },
      },
    ])
    const rate = (ms: number[] | undefined): number => (count * size) / (median(ms ?? []) / 1000) / 2 ** 20
    const rateOf = (label: string, m: Map<string, number[]>): number => rate(m.get(label))
    const kib = `${size / 1024} KiB`
    const raw = rateOf('raw', webrtc)
    const bcRaw = rateOf('raw', bc)
    const portRaw = rateOf('raw', port)
    /** A row of `what`: the contender `label` of `m`, against `base` MiB/s. */
    const row = (what: string, m: Map<string, number[]>, label: string, base: number): string[] => [
      kib,
      what,
      fixed(rateOf(label, m), 1),
      fixed((count * 1000) / median(m.get(label)!), 0),
      times(rateOf(label, m) / base),
    ]
    rows.push(
      row('ours `node.cast`', webrtc, 'ours', raw),
      row('raw RTCDataChannel', webrtc, 'raw', raw),
      row('PeerJS `send`', webrtc, 'peerjs', raw),
      row('one profile: ours `node.cast` over BroadcastChannel', bc, 'ours', bcRaw),
      row('one profile: raw BroadcastChannel', bc, 'raw', bcRaw),
      row('page → its worker: ours `node.cast` over a MessagePort', port, 'ours', portRaw),
      row('page → its worker: raw MessagePort', port, 'raw', portRaw),
    )
    const ratio = rateOf('ours', webrtc) / raw
    verdicts.push(`${kib}: ${verdict(ratio >= TARGETS.castVsRaw)} (${times(ratio)})`)
  }
  return (
    table(['payload', 'one way', 'MiB/s', 'msg/s', 'vs raw'], rows, ['l', 'l', 'r', 'r', 'r']) +
    `\n\n${TRANSFERS.map((t) => `${t.count} × ${t.size / 1024} KiB`).join(', ')} per run, median of ${THROUGHPUT_ROUNDS} runs (rotating order) after a warm-up run; ` +
    'timed from the first send until the receiver has counted them all (ours: a call to the sink, which the ordered link delivers after the casts; the others: a "done" message). ' +
    'Raw sends with bufferedAmountLowThreshold backpressure (1 MiB high, 256 KiB low); ours and PeerJS queue inside the library.' +
    `\nTarget ours ≥ ${TARGETS.castVsRaw}× raw: ${verdicts.join('; ')}.`
  )
}
