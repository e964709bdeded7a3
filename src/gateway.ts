/**
 * The middle of tunnels (wire.ts `TunnelFrame`, transport/relayed.ts): a node passes links
 * between two nodes it reaches that cannot reach each other —
 *
 * - a page between its workers (its children, linked over MessagePorts, which have no WebRTC)
 *   and every other node it reaches: when a child comes up, a tunnel between it and each up
 *   node; when any other node comes up, between it and each child;
 * - any member between two nodes it is up with whose direct link failed (a relay of the mesh:
 *   symmetric NATs, a blocked path): when one of them asks, within `RelayLimits`, and only
 *   if it reaches both directly — a tunnel inside a tunnel, or through the servers, would
 *   cost more than the servers alone.
 *
 * Each tunnel gets a number of its own, which every frame on it names: a Close or a frame
 * still in flight from a tunnel that ended cannot reach the next tunnel between the same two
 * nodes. A pair has one tunnel here at most, so an end that asks while one is being opened
 * (both ends lost their old one at once) gets that one.
 *
 * It passes Frame, Close and Refuse on between the two ends of a tunnel it opened, and closes
 * the tunnels of a node that goes down. It relays nothing it did not open, only between nodes
 * that are up with it, and for members of the mesh within its limits: a number of pairs, and
 * bytes per second per tunnel (a tunnel that goes over is closed at both ends).
 */
import { logger } from './log.js'
import { TokenBucket } from './token-bucket.js'
import { FrameType, TunnelOp, type TunnelFrame } from './wire.js'

/** What the gateway needs of its node. */
export interface GatewayHooks {
  /** Sends a Tunnel frame to a linked node; false if there is no link. */
  send(node: string, frame: TunnelFrame): boolean
  /** Ids of the nodes that are up. */
  upIds(): string[]
  /** True for a node linked without a tunnel or the servers: the only kind a relay of the mesh passes between. */
  reachedDirectly(node: string): boolean
}

/** How much a node relays for other members of the mesh (its workers are not counted). */
export interface RelayLimits {
  /** Pairs of nodes it carries a tunnel between at once; 0 relays for none. @default 16 */
  readonly maxPairs?: number
  /** Bytes per second through one such tunnel, both ways; beyond, the tunnel is closed. @default 1 MiB */
  readonly maxBytesPerSecond?: number
}

/** The defaults of `RelayLimits`. */
export const RELAY_DEFAULTS = { maxPairs: 16, maxBytesPerSecond: 1024 * 1024 } as const

/** An open tunnel: its two ends, and for a relay of the mesh, its byte allowance. */
interface Tunnel {
  readonly ends: readonly [string, string]
  readonly budget: TokenBucket | undefined
}

const log = logger('gateway')

/** ms a pair whose tunnel went over its byte allowance is refused another: asking again must not reset it. */
const OVER_BUDGET_COOLDOWN = 30_000

/** Opens, passes on and closes the tunnels a node carries. */
export class Gateway {
  private readonly children = new Set<string>()
  /** Open tunnels by number. */
  private readonly tunnels = new Map<number, Tunnel>()
  private lastTunnel = 0
  private readonly limits: Required<RelayLimits>
  /** Pairs (by `pairKey`) refused a relay until then, for going over their allowance. */
  private readonly cooling = new Map<string, number>()

  constructor(
    private readonly hooks: GatewayHooks,
    limits: RelayLimits = {},
  ) {
    this.limits = { ...RELAY_DEFAULTS, ...limits }
  }

  /** A node came up; `child` when it is linked over a MessagePort (a worker of this page). */
  peerUp(node: string, child: boolean): void {
    if (child) {
      this.children.add(node)
      for (const other of this.hooks.upIds()) if (other !== node) this.open(other, node)
    } else {
      for (const worker of this.children) this.open(node, worker)
    }
  }

  /** A node went down: its tunnels close at their other ends. */
  peerDown(node: string): void {
    this.children.delete(node)
    for (const [number, { ends }] of [...this.tunnels]) {
      const other = farEnd(ends, node)
      if (other === undefined) continue
      this.tunnels.delete(number)
      this.deliver(other, node, TunnelOp.Close, number, null)
    }
  }

  /** A Tunnel frame an end sent to be passed on; an Open asks for a tunnel (again). */
  forward(from: string, frame: TunnelFrame): void {
    if (frame.op === TunnelOp.Open) {
      if (frame.node !== from && this.hooks.upIds().includes(frame.node) && this.mayOpen(from, frame.node)) this.open(from, frame.node)
      return
    }
    const tunnel = this.tunnels.get(frame.tunnel)
    if (tunnel === undefined || farEnd(tunnel.ends, from) !== frame.node) {
      // Not a tunnel (any more): the sender's end of it must close.
      if (frame.op === TunnelOp.Frame) this.deliver(from, frame.node, TunnelOp.Close, frame.tunnel, null)
      return
    }
    if (frame.op === TunnelOp.Frame && tunnel.budget?.take(frame.data?.byteLength ?? 0) === false) {
      log('tunnel %d between %s and %s went over %d bytes/s: closed', frame.tunnel, from, frame.node, this.limits.maxBytesPerSecond)
      this.tunnels.delete(frame.tunnel)
      this.cooling.set(pairKey(from, frame.node), performance.now() + OVER_BUDGET_COOLDOWN)
      this.deliver(from, frame.node, TunnelOp.Close, frame.tunnel, null)
      this.deliver(frame.node, from, TunnelOp.Close, frame.tunnel, null)
      return
    }
    if (frame.op !== TunnelOp.Frame) this.tunnels.delete(frame.tunnel)
    this.deliver(frame.node, from, frame.op, frame.tunnel, frame.data)
  }

  /** A tunnel for a child, or a relay of the mesh between nodes reached directly while fewer than `maxPairs` are open. */
  private mayOpen(a: string, b: string): boolean {
    if (this.children.has(a) || this.children.has(b) || this.existing(a, b) !== undefined) return true
    if (!this.hooks.reachedDirectly(a) || !this.hooks.reachedDirectly(b)) return false
    const until = this.cooling.get(pairKey(a, b))
    if (until !== undefined && performance.now() < until) return false
    this.cooling.delete(pairKey(a, b))
    let relayed = 0
    for (const { budget } of this.tunnels.values()) if (budget !== undefined) relayed++
    return relayed < this.limits.maxPairs
  }

  /** The number of the tunnel between two nodes here, if any. */
  private existing(a: string, b: string): number | undefined {
    for (const [number, { ends }] of this.tunnels) if (farEnd(ends, a) === b) return number
    return undefined
  }

  /** Opens a tunnel between two nodes, unless they have one here already. */
  private open(a: string, b: string): void {
    if (this.existing(a, b) !== undefined) return
    const number = ++this.lastTunnel
    const relay = !this.children.has(a) && !this.children.has(b)
    // Up to a second's worth at once; the tunnel's own Hello and sync fit in any sane allowance.
    const rate = this.limits.maxBytesPerSecond
    this.tunnels.set(number, { ends: [a, b], budget: relay ? new TokenBucket(rate, rate) : undefined })
    if (relay) log('relaying between %s and %s (tunnel %d)', a, b, number)
    this.deliver(a, b, TunnelOp.Open, number, null)
    this.deliver(b, a, TunnelOp.Open, number, null)
  }

  /** Hands `to` a Tunnel frame whose far end is `far`. */
  private deliver(to: string, far: string, op: TunnelOp, tunnel: number, data: Uint8Array | null): void {
    this.hooks.send(to, { type: FrameType.Tunnel, node: far, op, tunnel, data, deliver: true })
  }
}

/** An unambiguous key for an unordered pair of node ids. */
function pairKey(a: string, b: string): string {
  return JSON.stringify(a < b ? [a, b] : [b, a])
}

/** The end of a tunnel across from `node`, or undefined if `node` is not one of its ends. */
function farEnd([a, b]: readonly [string, string], node: string): string | undefined {
  return node === a ? b : node === b ? a : undefined
}
