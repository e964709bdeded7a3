/**
 * WebRTC in Chromium: ours against a raw RTCDataChannel (the physical limit) and PeerJS
 * (what users pick today), each measured in the same run, between two tabs of two browser
 * contexts (two profiles, so they link over WebRTC). One same-profile pair adds the
 * BroadcastChannel rows, against a raw BroadcastChannel, and a tab with a dedicated worker
 * attached adds the MessagePort rows (page ↔ worker), against a raw MessagePort between them.
 *
 *   1. call round trip, small message, p50 / p99 (and each raw pipe again between ours' own
 *      two tabs, beside the node: a control for what the tabs themselves cost)
 *   2. cast throughput one way, 1 KiB and 64 KiB
 *   3. registry propagation: register on A until B's pidOf sees it
 *   4. failure detection: a crashed tab's names gone on the others
 *   5. mesh formation with 8 tabs, and JS heap per connected peer (and what one more costs)
 *
 * Prints a markdown table per section, with ratios and targets (issue 5). Never part of
 * `npm test`. Run: `npm run bench:browser` (`-- --only=5`: section 5 alone).
 */
import os from 'node:os'
import type { BrowserContext } from '@playwright/test'
import { Harness, type Tab } from './browser-harness.js'
import { fixed, median, percentile, table, times } from './browser-stats.js'

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
const PROPAGATIONS = 200
const CRASHES = 5
const MESH_TABS = 8
/** `--only=5`: the mesh section alone (to repeat it). */
const MESH_ONLY = process.argv.includes('--only=5')
/** Issue 5's targets. */
const TARGETS = { callVsRaw: 1.25, castVsRaw: 0.8, propagationSlackMs: 2, failureMs: 2000 }
const WAIT = { timeout: 60_000 }

/** Two tabs, a in one profile and b in another (or both in one, for BroadcastChannel). */
interface Pair {
  readonly a: Tab
  readonly b: Tab
}

/**
 * The contenders, each on a pair of tabs of its own. Sharing tabs skews them: while PeerJS
 * sends 64 KiB payloads from a tab, that tab's other connections go silent for seconds,
 * long enough for our heartbeats to time out (see RESULTS.md).
 */
interface Pairs {
  /** Ours over WebRTC, plus an idle raw data channel that carries section 3's acks. */
  readonly ours: Pair
  readonly raw: Pair
  readonly peerjs: Pair
  /** One profile: ours over BroadcastChannel. */
  readonly bc: Pair
  /** Another profile: a raw BroadcastChannel. */
  readonly rawBc: Pair
  /** A tab whose node has a worker's node attached (`worker`), and a raw MessagePort to it. */
  readonly worker: Tab
}

const say = (line: string): void => console.log(line)

async function openPairs(h: Harness, room: string): Promise<Pairs> {
  const ours = await oursPair(h, room, ['a', 'b'], [h.signalingUrl])
  await connectRaw(ours)
  await expectVia(ours.a, 'b', 'webrtc')
  const raw = { a: await h.openTab(), b: await h.openTab() }
  await connectRaw(raw)
  const peerjs = { a: await h.openTab(), b: await h.openTab() }
  await connectPeerjs(peerjs, h, room)
  const bc = await oursPair(h, `${room}-bc`, ['c', 'd'], undefined, await h.newContext())
  await expectVia(bc.a, 'd', 'broadcast-channel')
  // A raw BroadcastChannel in ours' own tabs too: section 1's control row.
  for (const t of [bc.a, bc.b]) await t.run((name) => window.bench.broadcastJoin(name), `${room}-bc-raw`)
  const profile = await h.newContext()
  const rawBc = { a: await h.openTab(profile), b: await h.openTab(profile) }
  for (const t of [rawBc.a, rawBc.b]) await t.run((name) => window.bench.broadcastJoin(name), `${room}-raw`)
  const worker = await h.openTab()
  await worker.run((o) => window.bench.ours.start(o), { room: `${room}-worker`, nodeId: 'page' })
  await worker.run((r) => window.bench.workerStart(r), `${room}-worker`)
  await expectVia(worker, 'worker', 'message-port')
  return { ours, raw, peerjs, bc, rawBc, worker }
}

/** Two nodes `ids` (over WebRTC with `signaling`, else over BroadcastChannel in one `context`); b serves 'echo' and 'sink'. */
async function oursPair(
  h: Harness,
  room: string,
  ids: readonly [string, string],
  signaling?: string[],
  context?: BrowserContext,
): Promise<Pair> {
  const [a, b] = [await h.openTab(context), await h.openTab(context)]
  await Promise.all([
    a.run((o) => window.bench.ours.start(o), { room, nodeId: ids[0], signaling }),
    b.run((o) => window.bench.ours.start(o), { room, nodeId: ids[1], signaling }),
  ])
  await a.page.waitForFunction((peer) => window.bench.ours.nodes().includes(peer), ids[1], WAIT)
  await b.page.waitForFunction((peer) => window.bench.ours.nodes().includes(peer), ids[0], WAIT)
  await b.run(() => {
    window.bench.ours.serveEcho('echo')
    window.bench.ours.serveSink('sink')
  }, undefined)
  await a.page.waitForFunction(() => window.bench.ours.registryView().length === 2, undefined, WAIT)
  return { a, b }
}

/** A raw data channel a → b, the SDP handed over here. */
async function connectRaw({ a, b }: Pair): Promise<void> {
  const offer = await a.run(() => window.bench.rawOffer(), undefined)
  const answer = await b.run((sdp) => window.bench.rawAnswer(sdp), offer)
  await a.run((sdp) => window.bench.rawAccept(sdp), answer)
  await Promise.all([a.run(() => window.bench.rawOpened(), undefined), b.run(() => window.bench.rawOpened(), undefined)])
}

/** A PeerJS DataConnection a → b through the PeerServer. */
async function connectPeerjs({ a, b }: Pair, h: Harness, room: string): Promise<void> {
  const [idA, idB] = [`${room}-pj-a`, `${room}-pj-b`]
  await a.run(([id, server]) => window.bench.peerjsOpen(id, server), [idA, h.peerServer] as const)
  await b.run(([id, server]) => window.bench.peerjsOpen(id, server), [idB, h.peerServer] as const)
  await a.run((id) => window.bench.peerjsConnect(id), idB)
  await Promise.all([a.run(() => window.bench.peerjsOpened(), undefined), b.run(() => window.bench.peerjsOpened(), undefined)])
}

/** Every nodedown our nodes saw so far ('peer down (reason) at ms'): each is a link that dropped. */
async function linkDrops(pairs: Pairs): Promise<string[]> {
  const tabs = [pairs.ours.a, pairs.ours.b, pairs.bc.a, pairs.bc.b, pairs.worker]
  return (await Promise.all(tabs.map((t) => t.run(() => window.bench.ours.nodedowns(), undefined)))).flat()
}

/** Throws if a node of ours reported an `error` event (a bad frame, a throwing handler). */
async function expectNoErrors(pairs: Pairs): Promise<void> {
  for (const t of [pairs.ours.a, pairs.ours.b, pairs.bc.a, pairs.bc.b, pairs.worker]) {
    const errors = await t.run(() => window.bench.ours.errorsSeen(), undefined)
    if (errors.length > 0) throw new Error(`errors in a node: ${errors.join('; ')}`)
  }
}

/**
 * Runs `fn` on ours. Should the pair's link drop meanwhile (a heartbeat timeout on a starved
 * machine), waits until the nodes link again and retries, up to 3 times; the drop itself
 * is reported with the section (linkDrops).
 */
async function relinking<T>({ a, b }: Pair, fn: () => Promise<T>): Promise<T> {
  const downs = (): Promise<number> => a.run(() => window.bench.ours.nodedowns().length, undefined)
  for (let attempt = 1; ; attempt++) {
    const before = await downs()
    try {
      return await fn()
    } catch (error) {
      if (attempt === 3 || (await downs()) === before) throw error
      await b.page.waitForFunction(() => window.bench.ours.nodes().length === 1, undefined, WAIT)
      await a.page.waitForFunction(
        () => window.bench.ours.nodes().length === 1 && window.bench.ours.registryView().length === 2,
        undefined,
        WAIT,
      )
      // The sink counted the casts that made it before the drop.
      await a.run(() => window.bench.ours.resetSink('sink'), undefined)
    }
  }
}

async function expectVia(tab: Tab, peer: string, via: string): Promise<void> {
  const links = await tab.run(() => window.bench.ours.links(), undefined)
  const used = links.filter((l) => l.node === peer && l.up).map((l) => l.via)
  if (!used.includes(via)) throw new Error(`expected a ${via} link to ${peer}, have ${JSON.stringify(links)}`)
}

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
async function callRoundTrips(pairs: Pairs): Promise<{ text: string; rawP50: number; oursP50: number }> {
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

  const webrtc = await interleaved(
    [
      { label: 'ours', run: ours(pairs.ours) },
      { label: 'raw', run: loop(pairs.raw.a, 'raw') },
      { label: 'peerjs', run: loop(pairs.peerjs.a, 'peerjs') },
      { label: 'raw in ours', run: loop(pairs.ours.a, 'raw') },
    ],
    CALLS,
    ROUNDS,
    WARMUP,
  )
  const bc = await interleaved(
    [
      { label: 'ours', run: ours(pairs.bc) },
      { label: 'raw', run: loop(pairs.rawBc.a, 'broadcast') },
      { label: 'raw in ours', run: loop(pairs.bc.a, 'broadcast') },
    ],
    CALLS,
    ROUNDS,
    WARMUP,
  )
  const port = await interleaved(
    [
      {
        label: 'ours',
        run: (n: number) => pairs.worker.run(([count, size]) => window.bench.ours.callLoop('echo', count, size), [n, SMALL] as const),
      },
      { label: 'raw', run: loop(pairs.worker, 'port') },
    ],
    CALLS,
    ROUNDS,
    WARMUP,
  )

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
async function castThroughput(pairs: Pairs): Promise<string> {
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
    const total = count * THROUGHPUT_ROUNDS
    const webrtc = await interleaved(
      [
        { label: 'ours', run: ours(pairs.ours) },
        { label: 'raw', run: pipe(pairs.raw, 'raw') },
        { label: 'peerjs', run: pipe(pairs.peerjs, 'peerjs') },
      ],
      total,
      THROUGHPUT_ROUNDS,
      count / 4,
    )
    const bc = await interleaved(
      [
        { label: 'ours', run: ours(pairs.bc) },
        { label: 'raw', run: pipe(pairs.rawBc, 'broadcast') },
      ],
      total,
      THROUGHPUT_ROUNDS,
      count / 4,
    )
    const port = await interleaved(
      [
        {
          label: 'ours',
          run: async (n: number) => [
            await pairs.worker.run(([c, s]) => window.bench.ours.castThroughput('sink', c, s), [n, size] as const),
          ],
        },
        {
          label: 'raw',
          run: async (n: number) => {
            await pairs.worker.run((c) => window.bench.workerServe('sink', c), n)
            return [await pairs.worker.run(([c, s]) => window.bench.throughput('port', c, s), [n, size] as const)]
          },
        },
      ],
      total,
      THROUGHPUT_ROUNDS,
      count / 4,
    )
    const rate = (ms: number[] | undefined): number => (count * size) / (median(ms ?? []) / 1000) / 2 ** 20
    const rateOf = (label: string, m: Map<string, number[]>): number => rate(m.get(label))
    const kib = `${size / 1024} KiB`
    const raw = rateOf('raw', webrtc)
    const bcRaw = rateOf('raw', bc)
    const portRaw = rateOf('raw', port)
    rows.push(
      [
        kib,
        'ours `node.cast`',
        fixed(rateOf('ours', webrtc), 1),
        fixed((count * 1000) / median(webrtc.get('ours')!), 0),
        times(rateOf('ours', webrtc) / raw),
      ],
      [kib, 'raw RTCDataChannel', fixed(raw, 1), fixed((count * 1000) / median(webrtc.get('raw')!), 0), times(1)],
      [
        kib,
        'PeerJS `send`',
        fixed(rateOf('peerjs', webrtc), 1),
        fixed((count * 1000) / median(webrtc.get('peerjs')!), 0),
        times(rateOf('peerjs', webrtc) / raw),
      ],
      [
        kib,
        'one profile: ours `node.cast` over BroadcastChannel',
        fixed(rateOf('ours', bc), 1),
        fixed((count * 1000) / median(bc.get('ours')!), 0),
        times(rateOf('ours', bc) / bcRaw),
      ],
      [kib, 'one profile: raw BroadcastChannel', fixed(bcRaw, 1), fixed((count * 1000) / median(bc.get('raw')!), 0), times(1)],
      [
        kib,
        'page → its worker: ours `node.cast` over a MessagePort',
        fixed(rateOf('ours', port), 1),
        fixed((count * 1000) / median(port.get('ours')!), 0),
        times(rateOf('ours', port) / portRaw),
      ],
      [kib, 'page → its worker: raw MessagePort', fixed(portRaw, 1), fixed((count * 1000) / median(port.get('raw')!), 0), times(1)],
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

/** Section 3: register on a until b's pidOf sees it, acked back over the raw data channel. */
async function registryPropagation(web: Pair, rawRtt: number, oursRtt: number): Promise<string> {
  await web.b.run(() => window.bench.ackJoins('prop-'), undefined)
  for (let i = 0; i < 20; i++) await web.a.run((name) => window.bench.registerUntilAcked(name), `prop-warm-${i}`)
  const samples: number[] = []
  for (let i = 0; i < PROPAGATIONS; i++) samples.push(await web.a.run((name) => window.bench.registerUntilAcked(name), `prop-${i}`))
  const p50 = median(samples)
  const oneWay = p50 - rawRtt / 2
  const bound = rawRtt + TARGETS.propagationSlackMs
  return (
    table(
      ['registry propagation a → b', 'ms'],
      [
        ["register on a → b's watch fires with pidOf set → ack back over the raw channel, p50", fixed(p50, 3)],
        ['… p99', fixed(percentile(samples, 99), 3)],
        ['propagation a → b, p50 (the above minus half the raw round trip)', fixed(oneWay, 3)],
        ['raw RTCDataChannel round trip, p50 (section 1)', fixed(rawRtt, 3)],
        ['ours `node.call` round trip, p50 (section 1)', fixed(oursRtt, 3)],
      ],
      ['l', 'r'],
    ) +
    `\n\n${PROPAGATIONS} registrations after 20 of warm-up, each unregistered before the next.` +
    `\nTarget ≤ 1 round trip + ${TARGETS.propagationSlackMs} ms = ${fixed(bound, 3)} ms: ${verdict(oneWay <= bound)}.`
  )
}

/** Section 4: crash a third tab (CDP Page.crash); when do a and b drop its name? */
async function failureDetection(h: Harness, web: Pair, room: string): Promise<string> {
  const samples: number[] = []
  for (let i = 0; i < CRASHES; i++) {
    const id = `victim-${i}`
    const victim = await h.openTab()
    await victim.run((o) => window.bench.ours.start(o), { room, nodeId: id, signaling: [h.signalingUrl] })
    await victim.run((name) => window.bench.ours.register(name), id)
    for (const t of [web.a, web.b]) await t.run(([peer, names]) => window.bench.ours.meshed([peer], names), [id, { [id]: [id] }] as const)
    await victim.run((peers) => window.bench.ours.meshed(peers, {}), ['a', 'b'])
    for (const t of [web.a, web.b]) await t.run((name) => window.bench.ours.armLeave(name), id)
    const crashed = victim.page.waitForEvent('crash')
    const t0 = Date.now()
    void victim.cdp.send('Page.crash').catch(() => 'no answer: the renderer died, as asked')
    await crashed
    for (const t of [web.a, web.b]) samples.push((await t.run(() => window.bench.ours.leftAt(), undefined)) - t0)
    await h.closeContext(victim.context)
  }
  const worst = Math.max(...samples)
  return (
    table(
      ["a crashed tab's names gone on the others", 'ms'],
      [
        ['min', fixed(Math.min(...samples), 0)],
        ['p50', fixed(median(samples), 0)],
        ['max', fixed(worst, 0)],
        ['every sample', samples.join(', ')],
      ],
      ['l', 'r'],
    ) +
    `\n\n${CRASHES} crashes (CDP \`Page.crash\`), seen by 2 tabs each, defaults (heartbeatInterval 500 ms, heartbeatTimeout 1500 ms); ` +
    "wall clock from the crash command to the watch's leave event." +
    `\nTarget ≤ ${TARGETS.failureMs} ms: ${verdict(worst <= TARGETS.failureMs)} (max ${worst} ms).`
  )
}

/** Section 5: MESH_TABS tabs (profiles) start at once; until all are connected and agree. */
async function meshFormation(h: Harness, room: string): Promise<string> {
  const tabs: Tab[] = []
  for (let i = 0; i < MESH_TABS; i++) tabs.push(await h.openTab())
  const lone = await h.openTab()
  const ids = tabs.map((_, i) => `m${i}`)
  const names: Record<string, string[]> = { shared: ids, ...Object.fromEntries(ids.map((id) => [`svc-${id}`, [id]])) }
  const heapBefore = await Promise.all(tabs.map((t) => t.heapUsed()))

  const loneBefore = await lone.heapUsed()
  await lone.run((o) => window.bench.ours.start(o), { room: `${room}-lone`, nodeId: 'lone', signaling: [h.signalingUrl] })
  await lone.run(() => {
    window.bench.ours.register('shared')
    window.bench.ours.register('svc-lone')
  }, undefined)
  const loneDelta = (await lone.heapUsed()) - loneBefore

  const t0 = Date.now()
  const doneAt = await Promise.all(
    tabs.map((t, i) =>
      t.run(
        async ([o, peers, expected]) => {
          await window.bench.ours.start(o)
          window.bench.ours.register('shared')
          window.bench.ours.register(`svc-${o.nodeId}`)
          return window.bench.ours.meshed(peers, expected)
        },
        [{ room, nodeId: ids[i]!, signaling: [h.signalingUrl] }, ids.filter((id) => id !== ids[i]), names] as const,
      ),
    ),
  )
  const each = doneAt.map((at) => at - t0)
  const views = await Promise.all(tabs.map((t) => t.run(() => JSON.stringify(window.bench.ours.registryView()), undefined)))
  const agree = new Set(views).size === 1
  const links = await Promise.all(tabs.map((t) => t.run(() => window.bench.ours.links(), undefined)))
  const vias = [
    ...new Set(
      links
        .flat()
        .filter((l) => l.up)
        .map((l) => l.via),
    ),
  ].join(', ')
  const heapMeshed = await Promise.all(tabs.map((t) => t.heapUsed()))
  const deltas = heapMeshed.map((heap, i) => heap - heapBefore[i]!)
  const perPeer = (median(deltas) - loneDelta) / (MESH_TABS - 1)

  // One more tab joins, then another: each tab of the mesh gains exactly one peer each time.
  // Its heap also grows by the code V8 compiles as paths turn hot, at times of V8's choosing
  // (a snapshot diff of one tab: ~130 KiB of code and ~10 KiB of data for one join, ~9 KiB of
  // code for the next), so the data alone is read too, from heap snapshots.
  let all = ids
  const onePeerMore: { heap: number; data: number }[] = []
  for (const extraId of ['extra', 'extra2']) {
    const heapThen = await Promise.all(tabs.map((t) => t.heapUsed()))
    const dataThen = await Promise.all(tabs.map((t) => t.dataHeapBytes()))
    const extra = await h.openTab()
    all = [...all, extraId]
    const grown = { shared: all, ...Object.fromEntries(all.map((id) => [`svc-${id}`, [id]])) }
    await extra.run(
      async (o) => {
        await window.bench.ours.start(o)
        window.bench.ours.register('shared')
        window.bench.ours.register(`svc-${o.nodeId}`)
      },
      { room, nodeId: extraId, signaling: [h.signalingUrl] },
    )
    await Promise.all(
      tabs.map((t, i) =>
        t.run(([peers, expected]) => window.bench.ours.meshed(peers, expected), [all.filter((id) => id !== ids[i]), grown] as const),
      ),
    )
    onePeerMore.push({
      heap: median(await Promise.all(tabs.map(async (t, i) => (await t.heapUsed()) - heapThen[i]!))),
      data: median(await Promise.all(tabs.map(async (t, i) => (await t.dataHeapBytes()) - dataThen[i]!))),
    })
  }
  const kib = (bytes: number): string => fixed(bytes / 1024, 0)
  return (
    table(
      [`mesh of ${MESH_TABS} tabs (${MESH_TABS} profiles)`, 'value'],
      [
        ['start → every tab connected to all and holding every name, ms (slowest tab)', fixed(Math.max(...each), 0)],
        ['… fastest tab, median tab, ms', `${fixed(Math.min(...each), 0)}, ${fixed(median(each), 0)}`],
        ['registries identical on every tab (names and agreed order)', agree ? 'yes' : 'NO'],
        ['links carried by', vias],
        ['JS heap of a tab: node + links, median, KiB', kib(median(deltas))],
        ['JS heap of a lone node (no peers), KiB', kib(loneDelta)],
        ['JS heap per connected peer, KiB', kib(perPeer)],
        [
          `JS heap one more peer costs a tab of the mesh, median, KiB: tab ${MESH_TABS + 1}, tab ${MESH_TABS + 2}`,
          onePeerMore.map((m) => kib(m.heap)).join(', '),
        ],
        ['… of it data (no code), KiB', onePeerMore.map((m) => kib(m.data)).join(', ')],
      ],
      ['l', 'r'],
    ) +
    `\n\nAll ${MESH_TABS} nodes started at once, each registering \`svc-<id>\` and \`shared\`; each tab records when it has its ${MESH_TABS - 1} peers up ` +
    `and all ${MESH_TABS + 1} names with their owners. Heap: CDP Runtime.getHeapUsage after HeapProfiler.collectGarbage, ` +
    "before the node started and after the mesh formed; the WebRTC stacks' native memory is not in the JS heap. " +
    `"Per connected peer" is (a tab's growth − a lone node's) / ${MESH_TABS - 1}: it carries code warming up with the traffic, which a lone node never does. ` +
    `"One more peer" is each tab's growth (after GC) once a ${MESH_TABS + 1}th tab joined and every tab holds its names, then a ${MESH_TABS + 2}th: what a peer costs a warm node; the heap also holds code V8 compiles when it chooses, so the data alone (a heap snapshot without code) is the peer's own cost.`
  )
}

function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED'
}

async function main(): Promise<void> {
  const started = Date.now()
  const room = `bench-${process.pid}`
  const h = await Harness.start()
  const section = (title: string, text: string): void => say(`\n### ${title}\n\n${text}\n`)
  let reported = 0
  /** The links of ours that dropped since the last call, for the section's notes. */
  const dropsNote = async (pairs: Pairs): Promise<string> => {
    const drops = await linkDrops(pairs)
    const fresh = drops.slice(reported)
    reported = drops.length
    return fresh.length === 0
      ? ''
      : `\nLinks of ours that dropped during this section, the run retried after they linked again: ${fresh.join('; ')}.`
  }
  try {
    say(
      `Chromium ${h.browser.version()}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${new Date().toISOString()}`,
    )
    if (!MESH_ONLY) {
      const pairs = await openPairs(h, room)
      if (!(await pairs.ours.a.run(() => window.bench.isolated(), undefined)))
        say('(warning: not cross-origin isolated: performance.now() is coarse)')

      const calls = await callRoundTrips(pairs)
      section('1. Call round trip, small message', calls.text + (await dropsNote(pairs)))
      section('2. Cast throughput, one way', (await castThroughput(pairs)) + (await dropsNote(pairs)))
      section('3. Registry propagation', (await registryPropagation(pairs.ours, calls.rawP50, calls.oursP50)) + (await dropsNote(pairs)))
      await expectNoErrors(pairs)
      section('4. Failure detection: a crashed tab', await failureDetection(h, pairs.ours, room))
      const { worker, ...twoTabs } = pairs
      for (const { a, b } of Object.values(twoTabs))
        await Promise.all([h.closeContext(a.context), b.context !== a.context ? h.closeContext(b.context) : undefined])
      await h.closeContext(worker.context)
    }
    section(`5. Mesh formation: ${MESH_TABS} tabs, and one more`, await meshFormation(h, `${room}-mesh`))
  } finally {
    await h.close()
  }
  say(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`)
}

await main()
// The PeerServer keeps interval timers it offers no way to stop (as in bench:node).
process.exit()
