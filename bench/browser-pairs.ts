/**
 * The tabs the browser benchmark's rows run on (bench/webrtc-browser.bench.ts): ours over
 * WebRTC and over BroadcastChannel, a raw data channel, PeerJS, a raw BroadcastChannel and a
 * page with a worker, each set up and checked before anything is measured; and what a
 * section needs to know of them afterwards (dropped links, errors).
 */
import type { BrowserContext } from '@playwright/test'
import type { Harness, Tab } from './browser-harness.js'

const WAIT = { timeout: 60_000 }

/** Two tabs, a in one profile and b in another (or both in one, for BroadcastChannel). */
export interface Pair {
  readonly a: Tab
  readonly b: Tab
}

/**
 * The contenders, each on a pair of tabs of its own. Sharing tabs skews them: while PeerJS
 * sends 64 KiB payloads from a tab, that tab's other connections go silent for seconds,
 * long enough for our heartbeats to time out (see RESULTS.md).
 */
export interface Pairs {
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

export async function openPairs(h: Harness, room: string): Promise<Pairs> {
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
export async function linkDrops(pairs: Pairs): Promise<string[]> {
  const tabs = [pairs.ours.a, pairs.ours.b, pairs.bc.a, pairs.bc.b, pairs.worker]
  return (await Promise.all(tabs.map((t) => t.run(() => window.bench.ours.nodedowns(), undefined)))).flat()
}

/** Throws if a node of ours reported an `error` event (a bad frame, a throwing handler). */
export async function expectNoErrors(pairs: Pairs): Promise<void> {
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
export async function relinking<T>({ a, b }: Pair, fn: () => Promise<T>): Promise<T> {
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

export async function expectVia(tab: Tab, peer: string, via: string): Promise<void> {
  const links = await tab.run(() => window.bench.ours.links(), undefined)
  const used = links.filter((l) => l.node === peer && l.up).map((l) => l.via)
  if (!used.includes(via)) throw new Error(`expected a ${via} link to ${peer}, have ${JSON.stringify(links)}`)
}
