/**
 * The in-memory network: many nodes in one process, so distributed logic can be tested
 * without sockets. It keeps the transport contract (reliable, ordered, framed links) and
 * lets a test make the network unpleasant within it.
 *
 * Model. Every `transport.open()` is an endpoint (one node incarnation). Two endpoints of the
 * same room have at most one link, made of two one-way pipes (rooms never link to each other;
 * partition and kill act by node id, whatever the room). A pipe delivers frames in send order, each
 * after a delay:
 *
 * - latency: the one-way delay of a frame, fixed or uniform in [min, max]. A frame never
 *   overtakes the one ahead of it (it waits for it), so jitter changes timing, never order.
 * - loss: a reliable transport (SCTP under WebRTC data channels) does not lose frames on a
 *   live path, it resends them, and being ordered it holds back the frames behind. So a lost
 *   frame here arrives `retransmitDelay` ms late and blocks its pipe meanwhile: the bursty
 *   delays the core must cope with, without ever breaking the contract.
 * - partition: a cut between node ids (every incarnation). Links across it close at once
 *   ('partition') and drop their frames in flight, as when ICE gives up on a path; no link
 *   forms across it until `heal()`.
 * - unreachable (with `reportUnreachable`): a dial across a cut, and a link a partition
 *   cuts, tell the node that the far node is unreachable, as a failed WebRTC negotiation
 *   does — so that a node both reach can relay between them.
 * - kill: a crash. The node's links close ('killed') and its endpoint stays dead; a restart
 *   is a new `open()` with the same node id, which is a fresh endpoint.
 *
 * `linkOpened` and `frameReceived` always run from a timer, never inside `open`, `connect`
 * or `send`. `linkClosed` is reported synchronously to both sides by whatever closed the
 * link, so nothing can arrive after it. Each pipe holds at most one timer and each endpoint
 * one dial timer; closing a link or a session clears them, so nothing outlives the sessions.
 */
import { ArgumentError } from '../errors.js'
import { logger } from '../log.js'
import type { CloseReason, Link, LocalEndpoint, Route, Transport, TransportHooks } from './transport.js'

const log = logger('memory')

const MEMORY_ROUTE: Route = Object.freeze({ kind: 'direct', transport: 'memory' })

/** How the in-memory network delays frames and forms links. */
export interface MemoryNetworkOptions {
  /** One-way delay of every frame, ms: a number, or [min, max] for uniform jitter. Order per link direction is always kept. @default 0 */
  latency?: number | readonly [number, number]
  /** Probability (0..1) that a frame is "lost" once and retransmitted: it arrives `retransmitDelay` ms later and later frames on that link direction wait behind it (head-of-line blocking, like SCTP on a lossy path). Nothing is ever dropped on a live link. @default 0 */
  loss?: number
  /** Extra delay of a "lost" frame, ms. @default 50 */
  retransmitDelay?: number
  /** Nodes link to every reachable node when they join and again on heal(), like peers of one room. When false, only session.connect(nodeId) makes links. @default true */
  autoConnect?: boolean
  /** Random source, for reproducible jitter and loss. @default Math.random */
  random?: () => number
  /**
   * Tell a node when a partition keeps it from a node it dialled or was linked to (the
   * transport's `unreachable`), as a failed WebRTC negotiation does: nodes then relay through
   * a node both reach. Off, a partition stays a partition. @default false
   */
  reportUnreachable?: boolean
}

/** A simulated network of nodes in one process, with partitions and crashes on demand. */
export interface MemoryNetwork {
  /** A Transport for one node; each open() of it is one endpoint (one node incarnation). */
  transport(): Transport
  /** Cuts every node listed in one group off from every node listed in another group (by node id, all incarnations). Nodes not listed keep their links. Cumulative with earlier partitions. Existing links across the cut close on both sides with reason 'partition'; frames in flight across it are dropped. */
  partition(...groups: readonly (readonly string[])[]): void
  /** Removes every cut; with autoConnect, links every reachable unlinked pair again. */
  heal(): void
  /** Crashes a node: all its endpoints' links close on both sides with reason 'killed'; the killed endpoint can never link again (its sends are dropped, connect is a no-op, it is left out of discovery). A new open() with the same node id (a restart) is a fresh endpoint and works. */
  kill(nodeId: string): void
  /** Ids of nodes with a live (not killed, not closed) endpoint, sorted, each once. */
  nodes(): string[]
  /** Pairs of node ids currently linked, each pair sorted, list sorted, each pair once. */
  links(): [string, string][]
}

type Timer = ReturnType<typeof setTimeout>

/** One `open()`: a node incarnation and its links. */
interface Endpoint {
  readonly self: LocalEndpoint
  readonly hooks: TransportHooks
  state: 'live' | 'killed' | 'closed'
  /** This endpoint's side of each of its links, by the endpoint at the other end. */
  readonly links: Map<Endpoint, Side>
  /** Dials are batched into one timer so open/connect never call hooks re-entrantly. */
  dialTimer: Timer | undefined
  dialAll: boolean
  readonly dialIds: Set<string>
}

/** One endpoint's side of a link: the Link its hooks see and the pipe flowing into it. */
class Side {
  peer!: Side
  open = true
  /** linkOpened was reported, so linkClosed is owed. */
  reported = false
  /** Frames in flight towards `owner`, first in first out. */
  readonly inbox: { due: number; frame: Uint8Array }[] = []
  timer: Timer | undefined
  readonly link: Link

  constructor(
    readonly owner: Endpoint,
    remoteNodeId: string,
    send: (from: Side, frame: Uint8Array) => void,
    close: (side: Side, reason: CloseReason) => void,
  ) {
    // A plain frozen object, so hooks see nothing of the pipe's internals.
    this.link = Object.freeze({
      remoteNodeId,
      route: MEMORY_ROUTE,
      send: (frame: Uint8Array) => send(this, frame),
      close: (reason: CloseReason = 'closed') => close(this, reason),
    })
  }
}

/** Creates an empty in-memory network; see the module header for its model. */
export function createMemoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  const { latency = 0, loss = 0, retransmitDelay = 50, autoConnect = true, random = Math.random, reportUnreachable = false } = options
  validate(latency, loss, retransmitDelay, random)

  const endpoints = new Set<Endpoint>()
  /** Cut pairs of node ids, as `pairKey`. */
  const cuts = new Set<string>()
  const isCut = (a: string, b: string) => cuts.has(pairKey(a, b))

  function delay(): number {
    const base = typeof latency === 'number' ? latency : latency[0] + random() * (latency[1] - latency[0])
    return loss > 0 && random() < loss ? base + retransmitDelay : base
  }

  function send(from: Side, frame: Uint8Array): void {
    if (!from.open) return // the contract forbids throwing on a closed link
    const to = from.peer
    // The inbox is FIFO and only its head has a timer, so a frame due early still waits for
    // the ones ahead: order under jitter, head-of-line blocking under loss.
    const due = performance.now() + delay()
    // A copy the sender cannot touch. Not frame.slice(): on a Node Buffer that is a view.
    to.inbox.push({ due, frame: new Uint8Array(frame) })
    if (to.timer === undefined) arm(to)
  }

  function arm(side: Side): void {
    const head = side.inbox[0]
    if (head) side.timer = setTimeout(() => deliver(side), Math.max(0, head.due - performance.now()))
  }

  function deliver(side: Side): void {
    side.timer = undefined
    try {
      // The timer was set for the head; frames behind it that are due by now go in the same turn.
      let first = true
      while (side.open) {
        const next = side.inbox[0]
        if (!next || (!first && next.due > performance.now())) break
        side.inbox.shift()
        first = false
        side.owner.hooks.frameReceived(side.link, next.frame)
      }
    } finally {
      // A throwing handler is a bug to surface, but must not stall the pipe.
      if (side.open && side.timer === undefined) arm(side)
    }
  }

  function closeLink(side: Side, reason: CloseReason): void {
    if (!side.open) return
    const peer = side.peer
    for (const s of [side, peer]) {
      s.open = false
      clearTimeout(s.timer)
      s.timer = undefined
      s.inbox.length = 0
    }
    side.owner.links.delete(peer.owner)
    peer.owner.links.delete(side.owner)
    log('link %s-%s closed: %s', side.owner.self.nodeId, peer.owner.self.nodeId, reason)
    try {
      if (side.reported) side.owner.hooks.linkClosed(side.link, reason)
    } finally {
      if (peer.reported) peer.owner.hooks.linkClosed(peer.link, reason)
    }
  }

  /** Tells `ep` (on a later turn) that `far` cannot be reached, if the network reports it. */
  function unreachable(ep: Endpoint, far: Endpoint): void {
    if (!reportUnreachable) return
    setTimeout(() => {
      if (ep.state === 'live') ep.hooks.unreachable?.(far.self.nodeId, far.self.incarnation)
    }, 0)
  }

  function tryLink(a: Endpoint, b: Endpoint): void {
    const [idA, idB] = [a.self.nodeId, b.self.nodeId]
    if (a.state !== 'live' || b.state !== 'live' || a.self.room !== b.self.room) return
    if (idA !== idB && isCut(idA, idB)) return unreachable(a, b)
    if (idA === idB || a.links.has(b)) return
    const sa = new Side(a, idB, send, closeLink)
    const sb = new Side(b, idA, send, closeLink)
    sa.peer = sb
    sb.peer = sa
    a.links.set(b, sa)
    b.links.set(a, sb)
    log('link %s-%s opened', idA, idB)
    // A handler may close the link in linkOpened; the other side then never hears of it.
    const report = (s: Side) => {
      if (!s.open) return
      s.reported = true
      s.owner.hooks.linkOpened(s.link)
    }
    try {
      report(sa)
    } finally {
      report(sb)
    }
  }

  /** Asks for links from `ep` to `nodeId`, or to every node, on the next turn. */
  function dial(ep: Endpoint, nodeId?: string): void {
    if (ep.state !== 'live') return
    if (nodeId === undefined) ep.dialAll = true
    else ep.dialIds.add(nodeId)
    ep.dialTimer ??= setTimeout(() => {
      ep.dialTimer = undefined
      const all = ep.dialAll
      const ids = [...ep.dialIds]
      ep.dialAll = false
      ep.dialIds.clear()
      for (const other of [...endpoints]) {
        if (all || ids.includes(other.self.nodeId)) tryLink(ep, other)
      }
    }, 0)
  }

  /** Takes an endpoint out of the network for good (session closed or node killed). */
  function retire(ep: Endpoint, state: 'killed' | 'closed', reason: CloseReason): void {
    if (ep.state !== 'live') {
      ep.state = 'closed' // closing a killed endpoint: its links are already gone
      return
    }
    ep.state = state
    endpoints.delete(ep)
    clearTimeout(ep.dialTimer)
    ep.dialTimer = undefined
    for (const side of [...ep.links.values()]) closeLink(side, reason)
  }

  const transport: Transport = {
    open(self, hooks) {
      if (typeof self.nodeId !== 'string' || self.nodeId === '') {
        throw new ArgumentError('memory network: nodeId must be a non-empty string')
      }
      const ep: Endpoint = {
        self,
        hooks,
        state: 'live',
        links: new Map(),
        dialTimer: undefined,
        dialAll: false,
        dialIds: new Set(),
      }
      endpoints.add(ep)
      log('%s (incarnation %d) joined room %s', self.nodeId, self.incarnation, self.room)
      if (autoConnect) dial(ep)
      return {
        connect: (nodeId) => dial(ep, nodeId),
        close: () => retire(ep, 'closed', 'closed'),
      }
    },
  }

  return {
    transport: () => transport,
    partition(...groups) {
      groups.forEach((group, i) => {
        for (const other of groups.slice(i + 1)) {
          for (const a of group) for (const b of other) if (a !== b) cuts.add(pairKey(a, b))
        }
      })
      log('partition %o', groups)
      for (const ep of [...endpoints]) {
        for (const [far, side] of [...ep.links]) {
          if (!isCut(ep.self.nodeId, side.link.remoteNodeId)) continue
          closeLink(side, 'partition')
          unreachable(ep, far)
          unreachable(far, ep)
        }
      }
    },
    heal() {
      cuts.clear()
      log('healed')
      if (autoConnect) for (const ep of endpoints) dial(ep)
    },
    kill(nodeId) {
      log('kill %s', nodeId)
      for (const ep of [...endpoints]) if (ep.self.nodeId === nodeId) retire(ep, 'killed', 'killed')
    },
    nodes: () => [...new Set([...endpoints].map((ep) => ep.self.nodeId))].sort(),
    links() {
      const pairs = new Map<string, [string, string]>()
      for (const ep of endpoints) {
        for (const side of ep.links.values()) {
          const [a, b] = [ep.self.nodeId, side.link.remoteNodeId]
          pairs.set(pairKey(a, b), a < b ? [a, b] : [b, a])
        }
      }
      return [...pairs.values()].sort(([a1, b1], [a2, b2]) => compare(a1, a2) || compare(b1, b2))
    },
  }
}

function validate(latency: number | readonly [number, number], loss: number, retransmitDelay: number, random: unknown): void {
  const isDelay = (ms: unknown) => typeof ms === 'number' && Number.isFinite(ms) && ms >= 0
  const latencyOk = Array.isArray(latency)
    ? latency.length === 2 && isDelay(latency[0]) && isDelay(latency[1]) && latency[0] <= latency[1]
    : isDelay(latency)
  if (!latencyOk) throw new ArgumentError(`memory network: latency must be ms >= 0 or [min, max], got ${String(latency)}`)
  if (typeof loss !== 'number' || !(loss >= 0 && loss <= 1)) throw new ArgumentError(`memory network: loss must be in 0..1, got ${loss}`)
  if (!isDelay(retransmitDelay)) throw new ArgumentError(`memory network: retransmitDelay must be ms >= 0, got ${retransmitDelay}`)
  if (typeof random !== 'function') throw new ArgumentError('memory network: random must be a function')
}

/** An unambiguous key for an unordered pair of node ids (ids may hold any character). */
function pairKey(a: string, b: string): string {
  return JSON.stringify(a < b ? [a, b] : [b, a])
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
