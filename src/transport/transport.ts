/**
 * The transport contract: how the core reaches other nodes. The core never assumes what
 * carries the bytes (in-memory network, WebRTC data channels, a MessagePort); it only needs
 * one reliable, ordered, message-framed link per pair of nodes.
 *
 * Lifecycle: the core calls `transport.open(self, hooks)` once per node start. The
 * transport reports each new link with `linkOpened`, every frame that arrives on it with
 * `frameReceived` (never before `linkOpened` returned), and its end with `linkClosed`
 * (exactly once per link, also after a local `link.close()`). After `session.close()` it
 * reports nothing more. test/transport-contract.test.ts holds every built-in transport to this.
 */
import type { SignalingStatus } from '../signaling/client.js'

/**
 * What a link runs over, as both of its ends see it: the node ranks a peer's links by it
 * (peers.ts `preferred`) and checks tunnels by it; `describeRoute` prints it for inspectors.
 *
 * - `port`: a MessagePort between a page and its worker;
 * - `broadcast-channel`: a BroadcastChannel between tabs and workers of one origin;
 * - `direct`: a connection of a network transport, named by `transport` ('webrtc', 'memory',
 *   or a custom transport's name);
 * - `tunnel`: a link carried inside the links to a third node, its `gateway` (transport/relayed.ts);
 * - `server`: a link carried by the signaling servers (transport/server-relay.ts).
 */
export type Route = PortRoute | BroadcastChannelRoute | DirectRoute | TunnelRoute | ServerRoute

/** A MessagePort between a page and its worker. */
export interface PortRoute {
  /** The kind of route. */
  readonly kind: 'port'
}
/** A BroadcastChannel between tabs and workers of one origin. */
export interface BroadcastChannelRoute {
  /** The kind of route. */
  readonly kind: 'broadcast-channel'
}
/** A connection of a network transport. */
export interface DirectRoute {
  /** The kind of route. */
  readonly kind: 'direct'
  /** The transport's name: 'webrtc', 'memory', or a custom transport's. */
  readonly transport: string
}
/** A link carried by the signaling servers (server relay: a node without WebRTC). */
export interface ServerRoute {
  /** The kind of route. */
  readonly kind: 'server'
}
/** A link carried inside the links to a third node. */
export interface TunnelRoute {
  /** The kind of route. */
  readonly kind: 'tunnel'
  /** The node that carries it. */
  readonly gateway: string
}

/** The kinds of route. */
export type RouteKind = Route['kind']

/** How good a kind of route is, the best lowest: a worker's port, then tabs' channel, then the network, then tunnels, then the servers. */
export const ROUTE_RANK: Readonly<Record<RouteKind, number>> = { port: 0, 'broadcast-channel': 1, direct: 2, tunnel: 3, server: 4 }

/**
 * Orders two links to one peer, the better first. Both ends of a pair compute the same
 * order (both see the same route: the same transport, the same gateway), so they settle
 * on the same link.
 */
export function preferred(a: Link, b: Link): number {
  const [x, y] = [tieBreak(a.route), tieBreak(b.route)]
  return ROUTE_RANK[a.route.kind] - ROUTE_RANK[b.route.kind] || (x < y ? -1 : x > y ? 1 : 0)
}

/** What orders two links of the same kind: their transport, or their gateway. */
function tieBreak(route: Route): string {
  return route.kind === 'direct' ? route.transport : route.kind === 'tunnel' ? route.gateway : ''
}

/** How a route shows in `node.links()`: 'message-port', 'broadcast-channel', 'webrtc', 'relay:<gateway>'... */
export function describeRoute(route: Route): string {
  switch (route.kind) {
    case 'port':
      return 'message-port'
    case 'broadcast-channel':
      return 'broadcast-channel'
    case 'direct':
      return route.transport
    case 'tunnel':
      return `relay:${route.gateway}`
    case 'server':
      return 'server-relay'
  }
}

/** Reasons after which no transport should link the pair again: see `isFinal`. */
export type FinalCloseReason = 'stop' | 'restarted' | 'duplicate' | 'superseded' | 'refused'

/**
 * Why a link ended. The node and the built-in transports end links for the reasons named here:
 *
 * - final (`isFinal`): 'stop' (the peer left), 'restarted' (a newer incarnation took over),
 *   'duplicate' (a spare link fell quiet), 'superseded' (a newer negotiation replaced it),
 *   'refused' (the far end reaches this node another way);
 * - 'closed' (the other side closed it), 'disconnect' (the Manager let go of the node),
 *   'heartbeat timeout', 'partition' and 'killed' (the memory network), `gateway <id> down`;
 * - any other text: a transport's own account of a failure ('connect timeout', 'channel
 *   closed'...), never final.
 */
export type CloseReason =
  | FinalCloseReason
  | 'closed'
  | 'disconnect'
  | 'heartbeat timeout'
  | 'partition'
  | 'killed'
  | `gateway ${string} down`
  // Keeps the names above in editors' completion while admitting a transport's own text.
  | (string & {})

const FINAL: ReadonlySet<CloseReason> = new Set<FinalCloseReason>(['stop', 'restarted', 'duplicate', 'superseded', 'refused'])

/**
 * True for a reason after which no transport should try to link the pair again: the peer
 * left or restarted, another link took over, or the far end reaches this node another way.
 */
export function isFinal(reason: CloseReason): reason is FinalCloseReason {
  return FINAL.has(reason)
}

/** The `gateway <id> down` reason of every tunnel through a gateway that went. */
export function gatewayDown(gateway: string): CloseReason {
  return `gateway ${gateway} down`
}

/** Who this node is, as the transport announces it to others. */
export interface LocalEndpoint {
  /** The node id, unique in the room. */
  readonly nodeId: string
  /** The incarnation of this start of the node. */
  readonly incarnation: number
  /** The room the node joins; transports that discover peers look for it there. */
  readonly room: string
}

/** One reliable, ordered link to another node. */
export interface Link {
  /** Node id of the other side as the transport knows it (the handshake confirms it). */
  readonly remoteNodeId: string
  /** What the link runs over; both ends of a link must report the same route. */
  readonly route: Route
  /** Queues one frame for the other side. Must not throw once the link has closed. */
  send(frame: Uint8Array): void
  /**
   * `send`, for bytes valid only during the call (the encoder's own buffer, spared a copy):
   * a link that sends at once, copying as it sends (a data channel), implements it; it
   * copies whatever it keeps for later.
   */
  sendBorrowed?(frame: Uint8Array): void
  /** Closes the link; `linkClosed` follows. */
  close(reason?: CloseReason): void
  /**
   * The largest frame this link can carry to a far end that accepts frames up to
   * `farEndLimit` bytes. Only a link that wraps frames (a tunnel) needs it. @default farEndLimit
   */
  frameLimit?(farEndLimit: number): number
}

/** What a transport tells the node it serves. */
export interface TransportHooks {
  /** A link opened: the node says Hello on it at once. */
  linkOpened(link: Link): void
  /** A frame arrived on a link (only after its `linkOpened`). */
  frameReceived(link: Link, frame: Uint8Array): void
  /**
   * A link ended, whoever ended it; exactly once per link, and nothing arrives after it.
   * `replacing`: the transport is already asking for another link to the same node (a relay
   * went, another offered), so the node may wait a moment for it rather than lose the node.
   */
  linkClosed(link: Link, reason: CloseReason, replacing?: boolean): void
  /**
   * Part of a frame arrived (a transport that splits frames calls this for every piece but
   * the last): the link is alive even while one long frame holds up everything behind it.
   */
  linkActive?(link: Link): void
  /**
   * True when the node already has a link to that incarnation (over another transport of a
   * combined one): a transport asks before making a second link to it. With `atLeast`, only
   * a link of that kind of route or a better one counts (`ROUTE_RANK`): a direct link is
   * worth making even where a tunnel or the servers carry the pair, and once it works it
   * takes over. Incarnation 0 matches any.
   */
  linkedTo?(nodeId: string, incarnation: number, atLeast?: RouteKind): boolean
  /** A link to that node could not be made (WebRTC negotiation failed or timed out): others may relay. */
  unreachable?(nodeId: string, incarnation: number): void
  /** A signaling server the transport meets peers through changed state (WebRTC: connected, failing...). */
  signalingChanged?(status: SignalingStatus): void
}

/** A node's membership in a network, from `open` until `close`. */
export interface TransportSession {
  /**
   * Asks for a link to `nodeId` (used by the Manager). Fire and forget: success shows up
   * as `linkOpened`; an unknown or unreachable node is simply not linked.
   */
  connect(nodeId: string): void
  /** Leaves the network: closes every link and stops all background work. */
  close(): void
  /** How each signaling server the transport meets peers through is doing now (none: no such servers). */
  signaling?(): SignalingStatus[]
}

/** Something that can carry a node's links: `createMemoryNetwork().transport()`, WebRTC... */
export interface Transport {
  /** Joins the network as `self`, reporting to `hooks`, until the session is closed. */
  open(self: LocalEndpoint, hooks: TransportHooks): TransportSession
}
