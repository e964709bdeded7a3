/**
 * A node's part in tunnels (wire.ts `TunnelFrame`): the tunnel ends it holds — links to nodes
 * it reaches only through a gateway (transport/relayed.ts) — and the gateway it is, for its
 * workers and as a relay of the mesh (gateway.ts). All ride on the node's links to its peers.
 *
 * A relay is asked for when a direct link to a node failed (`requestRelay`): every peer this
 * node reaches directly is asked, up to `RELAY_CANDIDATES`, and each that is up with the far
 * node opens a tunnel. The ends take one and remember the others' offers, so when the relay
 * in use goes, they ask another (transport/relayed.ts) instead of losing the node.
 */
import { ProtocolError } from './errors.js'
import { Gateway, type RelayLimits } from './gateway.js'
import type { Peer } from './peer.js'
import type { Peers } from './peers.js'
import type { MessagePortTransport } from './transport/message-port.js'
import { RelayedTransport } from './transport/relayed.js'
import type { TunnelFrame } from './wire.js'

/**
 * Tunnels accepted from a gateway at most this deep: 1 lets the workers of two pages reach
 * each other (one page's tunnel runs inside the other's); more only costs a wrapping per
 * level on every frame, which a hostile member could stack up.
 */
const MAX_TUNNEL_DEPTH = 1
/** Peers asked for a relay at once: enough for a second to take over, few enough to bound the asking. */
const RELAY_CANDIDATES = 4
/** Far nodes remembered as relayed, for peers that come up later; the oldest go first. */
const MAX_RELAYED = 256

/** The tunnels of one node. */
export class Tunnels {
  /** The tunnel ends, as a transport of the node. */
  readonly transport: RelayedTransport
  private readonly gateway: Gateway
  /**
   * Far nodes whose direct link failed (relayed, or wanting a relay): a peer that comes up
   * later is asked too — for a tunnel, or for an offer to stand by should the relay in use go.
   */
  private readonly relayed = new Set<string>()

  constructor(
    private readonly peers: Peers,
    /** The node's links to its workers and pages: a peer linked over one of its ports to a worker is a child. */
    private readonly ports: MessagePortTransport,
    relay: RelayLimits,
  ) {
    const send = (node: string, frame: TunnelFrame): boolean => {
      const peer = peers.get(node)
      peer?.send(frame)
      return peer !== undefined
    }
    this.transport = new RelayedTransport({ send, frameLimit: (gateway) => peers.get(gateway)?.frameLimit() })
    this.gateway = new Gateway({ send, upIds: () => peers.upIds(), reachedDirectly: (node) => this.isDirect(node) }, relay)
  }

  /** A Tunnel frame from a peer: one to pass on as its gateway, or one for a tunnel end of ours. */
  receive(peer: Peer, frame: TunnelFrame): void {
    if (!frame.deliver) this.gateway.forward(peer.nodeId, frame)
    else if (this.depth(peer) <= MAX_TUNNEL_DEPTH) this.transport.delivered(peer.nodeId, frame)
    else throw new ProtocolError(`a tunnel through ${peer.nodeId}, itself ${MAX_TUNNEL_DEPTH + 1} tunnels deep, refused`, peer.nodeId)
  }

  /**
   * A direct link to `node` failed: asks the peers this node reaches directly to relay
   * (nothing, if `node` is reached already, or no peer can be asked).
   */
  requestRelay(node: string): void {
    if (this.isDirect(node) || (this.relayed.has(node) && this.peers.get(node) !== undefined)) return
    this.relayed.add(node)
    if (this.relayed.size > MAX_RELAYED) this.relayed.delete(this.relayed.values().next().value as string)
    const candidates = this.peers
      .upIds()
      .filter((id) => id !== node && this.isDirect(id))
      .slice(0, RELAY_CANDIDATES)
    this.transport.ask(node, candidates)
  }

  /**
   * A peer came up: a child gets tunnels to every node, any other node to every child; one
   * reached directly is asked to relay to the nodes relayed (or wanting it) — a tunnel, or an
   * offer to stand by.
   */
  peerUp(peer: Peer): void {
    this.gateway.peerUp(peer.nodeId, this.ports.leadsToWorker(peer.link))
    if (!this.isDirect(peer.nodeId)) return
    this.relayed.delete(peer.nodeId)
    for (const far of this.relayed) if (far !== peer.nodeId) this.transport.ask(far, [peer.nodeId])
  }

  /** True for a peer reached without a tunnel or the servers: one that could relay, or be relayed to. */
  private isDirect(node: string): boolean {
    const kind = this.peers.get(node)?.link.route.kind
    return kind !== undefined && kind !== 'tunnel' && kind !== 'server'
  }

  /** A peer's frames moved to another link: a worker that is now attached here becomes a child. */
  peerSwitched(peer: Peer): void {
    if (peer.up && this.ports.leadsToWorker(peer.link)) this.gateway.peerUp(peer.nodeId, true)
    // Reached directly now: no relay needed any more.
    if (this.isDirect(peer.nodeId)) this.relayed.delete(peer.nodeId)
  }

  /**
   * A peer is gone: the tunnels through it end here; unless this node is stopping, the
   * tunnels it had through this one are closed at their other ends (up or not: a peer
   * still syncing may have asked for one).
   */
  peerDown(node: string, stopping: boolean): void {
    this.relayed.delete(node)
    this.transport.gatewayDown(node)
    if (!stopping) this.gateway.peerDown(node)
  }

  /** How many tunnels deep a peer is reached: 0 directly, 1 through a gateway reached directly... */
  private depth(peer: Peer): number {
    let depth = 0
    for (let route = peer.link.route; route.kind === 'tunnel' && depth <= MAX_TUNNEL_DEPTH;) {
      depth++
      const gateway = this.peers.get(route.gateway)
      if (gateway === undefined) break
      route = gateway.link.route
    }
    return depth
  }
}
