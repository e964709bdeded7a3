/**
 * The ends of tunnels (wire.ts `TunnelFrame`): links to nodes this node cannot reach itself,
 * carried by a gateway both can reach — a Web Worker reaches the mesh through its page, and
 * the mesh reaches the worker. The gateway opens a tunnel at both ends (gateway.ts); each end
 * then has an ordinary link, with its own Hello, sync and heartbeats, whose frames travel
 * inside Tunnel frames on the links to the gateway.
 */
import { logger } from '../log.js'
import { FrameType, TunnelOp, type TunnelFrame } from '../wire.js'
import {
  gatewayDown,
  isFinal,
  type CloseReason,
  type Link,
  type LocalEndpoint,
  type Route,
  type Transport,
  type TransportHooks,
  type TransportSession,
} from './transport.js'

/** What the tunnel ends need of their node. */
export interface RelayedHooks {
  /** Sends a Tunnel frame to a gateway; false when the node has no link to it. */
  send(gateway: string, frame: TunnelFrame): boolean
  /** The largest frame that can go to a gateway now, bytes; undefined if there is no link to it. */
  frameLimit(gateway: string): number | undefined
}

const log = logger('relayed')

/** Tunnels through one gateway at most: each is a full link, and a gateway opens them on its own say. */
const MAX_TUNNELS_PER_GATEWAY = 256

/**
 * Bytes a Tunnel frame adds around the frame it carries, at most: its type, op, tunnel number
 * and direction, a bin header, and a node id (256 UTF-16 units, so at most 768 UTF-8 bytes).
 */
const TUNNEL_OVERHEAD = 1024

/** Links through gateways; the node feeds it the Tunnel frames gateways deliver. */
export class RelayedTransport implements Transport {
  private session: RelayedSession | undefined

  constructor(private readonly relayedHooks: RelayedHooks) {}

  open(self: LocalEndpoint, hooks: TransportHooks): TransportSession {
    this.session = new RelayedSession(self, hooks, this.relayedHooks)
    return this.session
  }

  /** A Tunnel frame a gateway delivered to this node. */
  delivered(gateway: string, frame: TunnelFrame): void {
    this.session?.delivered(gateway, frame)
  }

  /** The link to a gateway is gone, and with it every tunnel through it. */
  gatewayDown(gateway: string): void {
    this.session?.gatewayDown(gateway)
  }

  /** Asks `gateways` for a tunnel to `far` (a relay: this node's direct link to it failed). */
  ask(far: string, gateways: readonly string[]): void {
    this.session?.ask(far, gateways)
  }
}

class TunnelLink implements Link {
  readonly route: Route
  open = true

  constructor(
    readonly remoteNodeId: string,
    readonly gateway: string,
    /** The number its gateway gave it. */
    readonly tunnel: number,
    private readonly session: RelayedSession,
  ) {
    this.route = Object.freeze({ kind: 'tunnel', gateway })
  }

  send(frame: Uint8Array): void {
    if (this.open) this.session.forward(this, TunnelOp.Frame, frame)
  }

  close(reason: CloseReason = 'closed'): void {
    if (this.open) this.session.end(this, reason, true)
  }

  /** Wrapped, a frame must fit both the far end's limit and the gateway's, on the way in and on the way out. */
  frameLimit(farEndLimit: number): number {
    return Math.max(0, Math.min(farEndLimit, this.session.gatewayLimit(this.gateway) ?? farEndLimit) - TUNNEL_OVERHEAD)
  }
}

class RelayedSession implements TransportSession {
  /** Tunnels by `tunnelKey`. */
  private readonly links = new Map<string, TunnelLink>()
  /**
   * Gateways that offered a tunnel to each far node, taken or not (a SharedWorker has one
   * per page): when the tunnel in use ends, another of them is asked for a new one.
   */
  private readonly offers = new Map<string, Set<string>>()
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: TransportHooks,
    private readonly relayedHooks: RelayedHooks,
  ) {}

  /** Asks the gateways that offered a tunnel to `nodeId` for one (nothing if a tunnel is open). */
  connect(nodeId: string): void {
    if ([...this.links.values()].some((link) => link.remoteNodeId === nodeId)) return
    this.ask(nodeId, [...(this.offers.get(nodeId) ?? [])])
  }

  /**
   * Asks `gateways` for a tunnel to `far` (not those it has one through). Linked already, the
   * tunnel it gets is refused, but the offer is kept: should the tunnel in use end, that
   * gateway is asked again at once.
   */
  ask(far: string, gateways: readonly string[]): void {
    if (this.closed) return
    const through = new Set([...this.links.values()].filter((link) => link.remoteNodeId === far).map((link) => link.gateway))
    for (const gateway of gateways) if (!through.has(gateway)) this.send(gateway, far, TunnelOp.Open, 0, null)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const link of this.links.values()) {
      link.open = false
      this.forward(link, TunnelOp.Refuse, null)
    }
    this.links.clear()
  }

  delivered(gateway: string, frame: TunnelFrame): void {
    if (this.closed) return
    if (frame.op === TunnelOp.Open) return this.offered(gateway, frame.node, frame.tunnel)
    const link = this.links.get(tunnelKey(gateway, frame.tunnel))
    if (link === undefined || link.remoteNodeId !== frame.node) {
      // A tunnel we closed (or never had): make the other end close its side too.
      if (frame.op === TunnelOp.Frame) this.send(gateway, frame.node, TunnelOp.Close, frame.tunnel, null)
    } else if (frame.op === TunnelOp.Frame) {
      this.hooks.frameReceived(link, frame.data as Uint8Array)
    } else {
      this.end(link, frame.op === TunnelOp.Refuse ? 'refused' : 'closed', false)
    }
  }

  gatewayDown(gateway: string): void {
    for (const [far, gateways] of this.offers) if (gateways.delete(gateway) && gateways.size === 0) this.offers.delete(far)
    for (const link of [...this.links.values()]) if (link.gateway === gateway) this.end(link, gatewayDown(gateway), false)
  }

  forward(link: TunnelLink, op: TunnelOp, data: Uint8Array | null): void {
    // Not sent only once the gateway is gone: gatewayDown() is then on its way to close the link.
    if (!this.send(link.gateway, link.remoteNodeId, op, link.tunnel, data)) {
      log('%s: gateway %s is gone; a frame for %s dropped', this.self.nodeId, link.gateway, link.remoteNodeId)
    }
  }

  /**
   * Ends a tunnel, telling the other end (through the gateway) unless it told us. A final
   * reason goes as Refuse: the other end should not ask for another tunnel.
   */
  end(link: TunnelLink, reason: CloseReason, tellPeer: boolean): void {
    link.open = false
    this.links.delete(tunnelKey(link.gateway, link.tunnel))
    if (tellPeer) this.forward(link, isFinal(reason) ? TunnelOp.Refuse : TunnelOp.Close, null)
    if (this.closed) return
    // It left: no gateway will have it again.
    if (reason === 'stop') this.offers.delete(link.remoteNodeId)
    // The gateway went, not the far node: another that offered a tunnel is asked at once,
    // and the node may wait for it rather than lose the far node.
    const replacing = reason === gatewayDown(link.gateway) && (this.offers.get(link.remoteNodeId)?.size ?? 0) > 0
    log(
      '%s: tunnel %d to %s through %s ended (%s)%s',
      this.self.nodeId,
      link.tunnel,
      link.remoteNodeId,
      link.gateway,
      reason,
      replacing ? '; asking another' : '',
    )
    this.hooks.linkClosed(link, reason, replacing)
    // The far node may still be reachable through another of its gateways.
    if (!isFinal(reason)) this.connect(link.remoteNodeId)
  }

  /** A gateway opened a tunnel to `far`: take it, or refuse it if `far` is reached already. */
  private offered(gateway: string, far: string, tunnel: number): void {
    if (this.links.has(tunnelKey(gateway, tunnel))) return
    const refuse = (): void => void this.send(gateway, far, TunnelOp.Refuse, tunnel, null)
    if (far === this.self.nodeId) return refuse()
    if ([...this.links.values()].filter((l) => l.gateway === gateway).length >= MAX_TUNNELS_PER_GATEWAY) {
      log('%s: %s opens more than %d tunnels; refused', this.self.nodeId, gateway, MAX_TUNNELS_PER_GATEWAY)
      return refuse()
    }
    this.offers.set(far, (this.offers.get(far) ?? new Set()).add(gateway))
    // Reached already (over BroadcastChannel, or another gateway): one link is enough. Should
    // that link end, this node asks its gateways for a tunnel itself. The servers' link is
    // not enough: a tunnel is better.
    if (this.hooks.linkedTo?.(far, 0, 'tunnel') === true) {
      log('%s: tunnel %d to %s through %s refused: reached already', this.self.nodeId, tunnel, far, gateway)
      return refuse()
    }
    const opened = new TunnelLink(far, gateway, tunnel, this)
    this.links.set(tunnelKey(gateway, tunnel), opened)
    this.hooks.linkOpened(opened)
  }

  private send(gateway: string, node: string, op: TunnelOp, tunnel: number, data: Uint8Array | null): boolean {
    return this.relayedHooks.send(gateway, { type: FrameType.Tunnel, node, op, tunnel, data, deliver: false })
  }

  /** The largest frame that can go to a gateway now. */
  gatewayLimit(gateway: string): number | undefined {
    return this.relayedHooks.frameLimit(gateway)
  }
}

/** A tunnel's key at an end: numbers are unique per gateway. */
function tunnelKey(gateway: string, tunnel: number): string {
  return `${gateway}/${tunnel}`
}
