/**
 * The links of a node and their handshake. A link is anonymous until the peer's Hello
 * names its node id and incarnation; only then do its frames reach the node. Per node id
 * one peer is current:
 *
 * - a Hello from a newer incarnation replaces the current peer at once (it restarted: its
 *   old processes are dead, whatever its old link still says);
 * - a Hello from the same or an older incarnation, from this node's own id, from another
 *   room or protocol version is refused by closing that link.
 *
 * A second link to the same incarnation (two transports met it at once, or a worker is
 * reached through two pages) is kept, not refused: both ends pick the same one to send on
 * by a rule (`preferred`), and the other, still read, closes once it has been quiet for
 * the heartbeat timeout — so nothing in flight on it is lost and neither end sees the
 * peer go down. If the link in use closes, a remaining one takes over.
 *
 * Every frame is decoded and checked here first; a bad one is reported as a
 * `ProtocolError` and dropped, and the link, the peer and the node carry on. Heartbeats
 * (Ping/Pong) are answered here too, and a link silent for the heartbeat timeout is closed.
 */
import { DistribunatorError, ProtocolError } from './errors.js'
import { logger } from './log.js'
import {
  describeRoute,
  preferred,
  ROUTE_RANK,
  type CloseReason,
  type Link,
  type LocalEndpoint,
  type TransportHooks,
} from './transport/transport.js'
import { Peer, type LinkInfo } from './peer.js'
import { FrameType, PROTOCOL_VERSION, decodeFrame, encodeFrame, type Frame, type HelloFrame } from './wire.js'

/** What the peer table tells its node. */
export interface PeerHooks {
  /** A link completed its Hello. */
  identified(peer: Peer): void
  /** A well-formed frame from an identified peer; may throw to report it as bad. */
  frame(peer: Peer, frame: Frame): void
  /** The current peer of a node id is gone. */
  down(peer: Peer, reason: CloseReason): void
  /** The peer was replaced by a newer incarnation of its node. */
  replaced(peer: Peer): void
  /** The peer's frames now go out on another link (`peer.link`). */
  switched(peer: Peer): void
  /** A peer says a newer incarnation of this node's own id holds it now. */
  superseded(): void
  error(error: DistribunatorError): void
}

const log = logger('peers')

/** Heartbeat rounds per interval (see `beat`): a dead peer is seen within timeout + interval / 4, 1.625 s at the defaults. */
const CHECKS_PER_INTERVAL = 4
/** Each end pings a peer at least this many intervals apart: only its own Pings measure its round trip. */
const RTT_EVERY_INTERVALS = 4

/** Heartbeat timing: see wire.ts. */
export interface Heartbeat {
  /** ms between Pings. */
  readonly interval: number
  /** ms of silence after which a link is closed. */
  readonly timeout: number
}

/** Every link of a node, by link and by node id. */
export class Peers {
  /** Links in handshake map to null. */
  private readonly byLink = new Map<Link, Peer | null>()
  private readonly byNode = new Map<string, Peer>()
  /** When each link last delivered a frame (performance.now()). */
  private readonly lastHeard = new Map<Link, number>()
  /** Runs only while there are links. */
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  /** When the last heartbeat round ran (performance.now()). */
  private lastBeat = 0
  /** Set while `sayGoodbye` waits for the last link to close. */
  private allClosed: (() => void) | undefined
  /** Peers waiting for a new link, and when they give up. */
  private readonly waits = new Map<Peer, ReturnType<typeof setTimeout>>()
  /** Set by `sayGoodbye`: links that open now are closed at once. */
  private leaving = false
  /** The callbacks to give the transport. */
  readonly transportHooks: TransportHooks

  constructor(
    private readonly self: LocalEndpoint,
    private readonly maxFrameBytes: number,
    private readonly heartbeat: Heartbeat,
    private readonly hooks: PeerHooks,
  ) {
    this.transportHooks = {
      linkOpened: (link) => this.opened(link),
      frameReceived: (link, bytes) => this.received(link, bytes),
      linkClosed: (link, reason, replacing) => this.closed(link, reason, replacing === true),
      // A long frame on its way: its pieces count as life, or the heartbeat behind it would time out.
      linkActive: (link) => {
        if (this.byLink.get(link) != null) this.lastHeard.set(link, performance.now())
      },
      linkedTo: (nodeId, incarnation, atLeast) => {
        const peer = this.byNode.get(nodeId)
        // A peer waiting for a new link has none: the link it waits for must not be refused.
        if (peer === undefined || peer.incarnation < incarnation || peer.waiting) return false
        if (atLeast === undefined) return true
        for (const [link, owner] of this.byLink) if (owner === peer && ROUTE_RANK[link.route.kind] <= ROUTE_RANK[atLeast]) return true
        return false
      },
    }
  }

  /** The current peer of a node id, up or not. */
  get(nodeId: string): Peer | undefined {
    return this.byNode.get(nodeId)
  }

  /** The current peer of a node id if it is up. */
  up(nodeId: string): Peer | undefined {
    const peer = this.byNode.get(nodeId)
    return peer?.up === true ? peer : undefined
  }

  /** Every identified peer's link in use, for inspectors (`node.links()`). */
  links(): LinkInfo[] {
    return [...this.byNode.values()].map((peer) => ({
      node: peer.nodeId,
      incarnation: peer.incarnation,
      up: peer.up,
      rtt: peer.rtt,
      via: describeRoute(peer.link.route),
    }))
  }

  /** Ids of the peers that are up. */
  upIds(): string[] {
    const ids: string[] = []
    for (const peer of this.byNode.values()) if (peer.up) ids.push(peer.nodeId)
    return ids
  }

  /**
   * Leaves gracefully: sends Bye to every identified peer and resolves once each has closed
   * its link in answer (so the Bye was not lost in flight), or after `timeout` ms.
   * Links still in handshake are closed at once.
   */
  async sayGoodbye(timeout: number): Promise<void> {
    this.leaving = true
    // Byes through a gateway first: once the gateway has its own Bye it drops our tunnels,
    // and a Bye still queued behind it would be lost (the peer would see 'closed', not 'stop').
    const links = [...this.byLink].sort(([a], [b]) => Number(isTunnel(b)) - Number(isTunnel(a)))
    for (const [link, peer] of links) {
      if (peer === null || peer.link !== link) link.close('stop')
      else peer.send({ type: FrameType.Bye })
    }
    if (this.byLink.size === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeout)
      this.allClosed = done
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
    })
    this.allClosed = undefined
  }

  /** Closes every link to a peer (the spare ones first, so none takes over): it goes down. */
  hangUp(peer: Peer, reason: CloseReason): void {
    if (peer.waiting) return this.giveUp(peer, reason)
    for (const [link, owner] of [...this.byLink]) if (owner === peer && link !== peer.link) link.close(reason)
    peer.link.close(reason)
  }

  /** Forgets every link without reporting anything (the node stopped). */
  clear(): void {
    for (const timer of this.waits.values()) clearTimeout(timer)
    this.waits.clear()
    this.byLink.clear()
    this.byNode.clear()
    this.lastHeard.clear()
    this.stopHeartbeat()
  }

  private opened(link: Link): void {
    if (this.leaving) return link.close('stop')
    this.byLink.set(link, null)
    this.lastHeard.set(link, performance.now())
    if (this.heartbeatTimer === undefined) {
      this.lastBeat = performance.now()
      this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeat.interval / CHECKS_PER_INTERVAL)
    }
    const { nodeId, incarnation, room } = this.self
    link.send(
      encodeFrame({ type: FrameType.Hello, version: PROTOCOL_VERSION, room, nodeId, incarnation, maxFrameBytes: this.maxFrameBytes }),
    )
  }

  private received(link: Link, bytes: Uint8Array): void {
    const peer = this.byLink.get(link)
    if (peer === undefined) return
    // Before its Hello, a link earns no time by sending: junk cannot keep it open.
    if (peer !== null) this.lastHeard.set(link, performance.now())
    const from = peer?.nodeId ?? link.remoteNodeId
    try {
      const frame = decodeFrame(bytes, this.maxFrameBytes)
      // Whether or not the peer's own Hello came first: our id belongs to a newer node now.
      if (frame.type === FrameType.Superseded) {
        if (frame.incarnation > this.self.incarnation) this.hooks.superseded()
        return
      }
      if (peer !== null && frame.type === FrameType.Ping) peer.send({ type: FrameType.Pong, time: frame.time })
      else if (peer !== null && frame.type === FrameType.Pong) peer.rtt = Math.max(0, performance.now() - frame.time)
      else if (peer !== null) this.hooks.frame(peer, frame)
      else if (frame.type === FrameType.Hello) this.hello(link, frame)
      else throw new ProtocolError(`frame type ${frame.type} before Hello (over ${describeRoute(link.route)})`)
    } catch (error) {
      this.hooks.error(
        error instanceof ProtocolError && error.peer === undefined
          ? new ProtocolError(error.message, from, { cause: error.cause })
          : error instanceof DistribunatorError
            ? error
            : new ProtocolError(`handling a frame from ${from} failed`, from, { cause: error }),
      )
    }
  }

  private closed(link: Link, reason: CloseReason, replacing: boolean): void {
    const peer = this.byLink.get(link)
    this.byLink.delete(link)
    this.lastHeard.delete(link)
    if (this.byLink.size === 0) {
      this.stopHeartbeat()
      this.allClosed?.()
    }
    if (peer === null || peer === undefined || this.byNode.get(peer.nodeId) !== peer || peer.link !== link) return
    // The link in use is gone, but another one to the same incarnation may remain.
    const spare = [...this.byLink]
      .filter(([, p]) => p === peer)
      .map(([l]) => l)
      .sort(preferred)[0]
    if (spare !== undefined) {
      log('%s: %s continues over %s', this.self.nodeId, peer.nodeId, describeRoute(spare.route))
      peer.link = spare
      // A spare was quiet on purpose (nothing is sent on it): its silence counts from now.
      this.lastHeard.set(spare, performance.now())
      this.hooks.switched(peer)
      return
    }
    if (replacing && !this.leaving) {
      // Its relay went and another is opening a tunnel: wait for it (a heartbeat timeout at
      // most), holding what is sent, rather than lose the node and its names.
      log('%s: %s waits for a new link (%s)', this.self.nodeId, peer.nodeId, reason)
      peer.hold()
      this.waits.set(
        peer,
        setTimeout(() => this.giveUp(peer, reason), this.heartbeat.timeout),
      )
      return
    }
    this.byNode.delete(peer.nodeId)
    this.hooks.down(peer, reason)
  }

  /** A peer that waited for a new link in vain is down. */
  private giveUp(peer: Peer, reason: CloseReason): void {
    log('%s: %s: no new link came (%s)', this.self.nodeId, peer.nodeId, reason)
    clearTimeout(this.waits.get(peer))
    this.waits.delete(peer)
    if (this.byNode.get(peer.nodeId) !== peer) return
    this.byNode.delete(peer.nodeId)
    this.hooks.down(peer, reason)
  }

  /**
   * One heartbeat round, CHECKS_PER_INTERVAL of them per interval: closes links silent for
   * the timeout (and links whose Hello did not come within it), and pings a peer whose link
   * has been silent for three quarters of an interval (no more than once in that long), or
   * that this end has not pinged for RTT_EVERY_INTERVALS. Silence is what asks for a Ping:
   * one end's Ping and its Pong show both ends alive, so where both ends listen, only the
   * first to find the link silent pings, and any other frame spares a Ping. Pings go by the
   * clock, not by counting rounds: where timers run less often (a hidden tab's, once a
   * second), every round pings the links that fell silent since the last.
   *
   * A round that runs a timeout late closes nothing: this node was not running (an event
   * loop stall, a hidden tab's throttled timers), so the silence is its own, and what peers
   * sent meanwhile may still be queued behind this round. Silence counts from this round
   * on, and it pings every peer at once.
   */
  private beat(): void {
    const now = performance.now()
    const { interval, timeout } = this.heartbeat
    const late = now - this.lastBeat > timeout
    this.lastBeat = now
    if (late) for (const link of this.lastHeard.keys()) this.lastHeard.set(link, now)
    // Three quarters: a quarter-interval round sees it, and pings, before a whole interval passes.
    const due = interval * 0.75
    for (const [link, peer] of [...this.byLink]) {
      const spare = peer !== null && peer.link !== link
      const silent = now - (this.lastHeard.get(link) ?? now)
      if (silent > timeout) {
        // Its gateway fell silent too: the gateway's own timeout ends the tunnel with a reason
        // that asks another gateway for one (relayed.ts), where this would lose the far node.
        if (this.gatewayInDoubt(link, now, due)) continue
        log('%s: %s silent for %d ms', this.self.nodeId, peer?.nodeId ?? link.remoteNodeId, timeout)
        // A spare link falls quiet once both ends send on the preferred one.
        link.close(spare ? 'duplicate' : 'heartbeat timeout')
        continue
      }
      if (peer === null || spare) continue
      const sincePing = now - peer.pingedAt
      if (late || (silent >= due && sincePing >= due) || sincePing >= interval * RTT_EVERY_INTERVALS) {
        peer.pingedAt = now
        peer.send({ type: FrameType.Ping, time: now })
      }
    }
  }

  /** True for a tunnel whose gateway's link has been silent for `due` ms or more. */
  private gatewayInDoubt(link: Link, now: number, due: number): boolean {
    if (link.route.kind !== 'tunnel') return false
    const gateway = this.byNode.get(link.route.gateway)
    const heard = gateway === undefined ? undefined : this.lastHeard.get(gateway.link)
    return heard !== undefined && now - heard >= due
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
  }

  private hello(link: Link, hello: HelloFrame): void {
    const refuse = (why: string): void => {
      log('%s refuses %s: %s', this.self.nodeId, hello.nodeId, why)
      this.byLink.delete(link)
      link.close(why)
      throw new ProtocolError(`refused a link from ${hello.nodeId}: ${why}`, hello.nodeId)
    }
    if (hello.version !== PROTOCOL_VERSION) refuse(`protocol version ${hello.version}, expected ${PROTOCOL_VERSION}`)
    if (hello.room !== this.self.room) refuse(`it is in room ${JSON.stringify(hello.room)}`)
    if (hello.nodeId === this.self.nodeId) refuse("it has this node's id")
    // A tunnel's far end is named by its gateway; a Hello naming another node (a real one,
    // to take its place) comes from a lying gateway or a lying end.
    if (isTunnel(link) && hello.nodeId !== link.remoteNodeId) refuse(`it came through a tunnel to ${link.remoteNodeId}`)
    const existing = this.byNode.get(hello.nodeId)
    if (existing !== undefined) {
      if (hello.incarnation < existing.incarnation) {
        // A zombie of a restarted node (or a second node with the same id): it would
        // re-announce and be refused forever. Tell it, and leave the link for it to close
        // (closing here could drop the frame); the heartbeat closes it otherwise.
        link.send(encodeFrame({ type: FrameType.Superseded, incarnation: existing.incarnation }))
        throw new ProtocolError(`refused ${hello.nodeId}: a newer incarnation is linked`, hello.nodeId)
      }
      if (hello.incarnation === existing.incarnation) {
        this.byLink.set(link, existing)
        this.lastHeard.set(link, performance.now())
        if (existing.waiting) {
          // The link it waited for.
          clearTimeout(this.waits.get(existing))
          this.waits.delete(existing)
          existing.resume(link)
          this.hooks.switched(existing)
          log('%s: %s continues over %s', this.self.nodeId, hello.nodeId, describeRoute(link.route))
          return
        }
        if (preferred(link, existing.link) < 0) {
          existing.link = link
          this.hooks.switched(existing)
        }
        log(
          '%s: a second link to %s (%s); sending over %s',
          this.self.nodeId,
          hello.nodeId,
          describeRoute(link.route),
          describeRoute(existing.link.route),
        )
        return
      }
      this.byNode.delete(existing.nodeId)
      this.hooks.down(existing, 'restarted')
      this.hooks.replaced(existing)
      this.hangUp(existing, 'restarted')
    }
    const peer = new Peer(hello.nodeId, hello.incarnation, link, hello.maxFrameBytes)
    this.byLink.set(link, peer)
    this.lastHeard.set(link, performance.now())
    this.byNode.set(peer.nodeId, peer)
    this.hooks.identified(peer)
  }
}

function isTunnel(link: Link): boolean {
  return link.route.kind === 'tunnel'
}
