/**
 * The middle of tunnels (wire.ts `TunnelFrame`, transport/relayed.ts): a page passes links
 * between its workers — its children, linked over MessagePorts — and every other node it
 * reaches, so a worker is addressable from the whole mesh though it cannot speak WebRTC.
 *
 * When a child comes up, the gateway opens a tunnel between it and each up node; when any
 * other node comes up, between it and each child; and again when an end asks (its tunnel
 * through another gateway ended). Each tunnel gets a number of its own, which every frame
 * on it names: a Close or a frame still in flight from a tunnel that ended cannot reach the
 * next tunnel between the same two nodes. A pair has one tunnel here at most, so an end
 * that asks while one is being opened (both ends lost their old one at once) gets that one.
 *
 * It passes Frame, Close and Refuse on between the two ends of a tunnel it opened, and
 * closes the tunnels of a node that goes down. It carries nothing that does not start or
 * end at one of its children: a room member cannot use it as an open relay.
 */
import { FrameType, TunnelOp, type TunnelFrame } from './wire.js'

/** What the gateway needs of its node. */
export interface GatewayHooks {
  /** Sends a Tunnel frame to a linked node; false if there is no link. */
  send(node: string, frame: TunnelFrame): boolean
  /** Ids of the nodes that are up. */
  upIds(): string[]
}

/** The two ends of an open tunnel. */
type Ends = readonly [string, string]

/** Opens, passes on and closes the tunnels of a node's children. */
export class Gateway {
  private readonly children = new Set<string>()
  /** Open tunnels by number. */
  private readonly tunnels = new Map<number, Ends>()
  private lastTunnel = 0

  constructor(private readonly hooks: GatewayHooks) {}

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
    for (const [tunnel, ends] of [...this.tunnels]) {
      const other = farEnd(ends, node)
      if (other === undefined) continue
      this.tunnels.delete(tunnel)
      this.deliver(other, node, TunnelOp.Close, tunnel, null)
    }
  }

  /** A Tunnel frame an end sent to be passed on; an Open asks for a tunnel (again). */
  forward(from: string, frame: TunnelFrame): void {
    if (frame.op === TunnelOp.Open) {
      const allowed =
        frame.node !== from && (this.children.has(from) || this.children.has(frame.node)) && this.hooks.upIds().includes(frame.node)
      if (allowed) this.open(from, frame.node)
      return
    }
    const ends = this.tunnels.get(frame.tunnel)
    if (ends !== undefined && farEnd(ends, from) === frame.node) {
      if (frame.op !== TunnelOp.Frame) this.tunnels.delete(frame.tunnel)
      this.deliver(frame.node, from, frame.op, frame.tunnel, frame.data)
    } else if (frame.op === TunnelOp.Frame) {
      // Not a tunnel (any more): the sender's end of it must close.
      this.deliver(from, frame.node, TunnelOp.Close, frame.tunnel, null)
    }
  }

  /** Opens a tunnel between two nodes, unless they have one here already. */
  private open(a: string, b: string): void {
    for (const ends of this.tunnels.values()) if (farEnd(ends, a) === b) return
    const tunnel = ++this.lastTunnel
    this.tunnels.set(tunnel, [a, b])
    this.deliver(a, b, TunnelOp.Open, tunnel, null)
    this.deliver(b, a, TunnelOp.Open, tunnel, null)
  }

  /** Hands `to` a Tunnel frame whose far end is `far`. */
  private deliver(to: string, far: string, op: TunnelOp, tunnel: number, data: Uint8Array | null): void {
    this.hooks.send(to, { type: FrameType.Tunnel, node: far, op, tunnel, data, deliver: true })
  }
}

/** The end of a tunnel across from `node`, or undefined if `node` is not one of its ends. */
function farEnd([a, b]: Ends, node: string): string | undefined {
  return node === a ? b : node === b ? a : undefined
}
