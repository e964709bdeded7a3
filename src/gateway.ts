/**
 * The middle of tunnels (wire.ts `TunnelFrame`, transport/relayed.ts): a page passes links
 * between its workers — its children, linked over MessagePorts — and every other node it
 * reaches, so a worker is addressable from the whole mesh though it cannot speak WebRTC.
 *
 * When a child comes up, the gateway opens a tunnel between it and each up node; when any
 * other node comes up, between it and each child; and again when an end asks (its tunnel
 * through another gateway ended). It passes Frame and Close on between the two ends, and
 * closes the tunnels of a node that goes down. It carries nothing that does
 * not start or end at one of its children: a room member cannot use it as an open relay.
 */
import { FrameType, TunnelOp, type TunnelFrame } from './wire.js'

/** What the gateway needs of its node. */
export interface GatewayHooks {
  /** Sends a Tunnel frame to a linked node; false if there is no link. */
  send(node: string, frame: TunnelFrame): boolean
  /** Ids of the nodes that are up. */
  upIds(): string[]
}

/** Opens, passes on and closes the tunnels of a node's children. */
export class Gateway {
  private readonly children = new Set<string>()

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

  /** A node went down: the tunnels to it close at their other ends. */
  peerDown(node: string): void {
    const ends = this.children.delete(node) ? this.hooks.upIds() : [...this.children]
    for (const end of ends) if (end !== node) this.deliver(end, node, TunnelOp.Close, null)
  }

  /** A Tunnel frame an end sent to be passed on; an Open asks for a tunnel (again). */
  forward(from: string, frame: TunnelFrame): void {
    const allowed = (this.children.has(from) || this.children.has(frame.node)) && this.hooks.upIds().includes(frame.node)
    if (allowed && frame.op === TunnelOp.Open) this.open(from, frame.node)
    else if (allowed) this.deliver(frame.node, from, frame.op, frame.data)
    // Nothing to pass a frame to: the sender's end of the tunnel must close.
    else if (frame.op === TunnelOp.Frame) this.deliver(from, frame.node, TunnelOp.Close, null)
  }

  private open(a: string, b: string): void {
    this.deliver(a, b, TunnelOp.Open, null)
    this.deliver(b, a, TunnelOp.Open, null)
  }

  /** Hands `to` a Tunnel frame whose far end is `far`. */
  private deliver(to: string, far: string, op: TunnelOp, data: Uint8Array | null): void {
    this.hooks.send(to, { type: FrameType.Tunnel, node: far, op, data, deliver: true })
  }
}
