/**
 * The transport contract: how the core reaches other nodes. The core never assumes what
 * carries the bytes (in-memory network, WebRTC data channels, a MessagePort); it only needs
 * one reliable, ordered, message-framed link per pair of nodes.
 *
 * Lifecycle: the core calls `transport.open(self, handlers)` once per node start. The
 * transport reports each new link with `linkOpened`, every frame that arrives on it with
 * `frameReceived` (never before `linkOpened` returned), and its end with `linkClosed`
 * (exactly once per link, also after a local `link.close()`). After `session.close()` it
 * reports nothing more.
 */

/**
 * Reasons a link ends after which no transport should try to link the pair again: the peer
 * left or restarted, another link took over, or the far end reaches this node another way.
 */
export const FINAL_REASONS: ReadonlySet<string> = new Set(['stop', 'restarted', 'duplicate', 'superseded', 'refused'])

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
  /** What carries it, for inspectors: 'webrtc', 'broadcast-channel', 'memory'... */
  readonly via?: string
  /** Queues one frame for the other side. Must not throw once the link has closed. */
  send(frame: Uint8Array): void
  /** Closes the link; `linkClosed` follows. */
  close(reason?: string): void
}

/** Callbacks the core gives the transport. */
export interface TransportHandlers {
  linkOpened(link: Link): void
  frameReceived(link: Link, frame: Uint8Array): void
  linkClosed(link: Link, reason: string): void
  /**
   * Part of a frame arrived (a transport that splits frames calls this for every piece but
   * the last): the link is alive even while one long frame holds up everything behind it.
   */
  linkActive?(link: Link): void
  /**
   * True when the node already has a link to that incarnation (over another transport of a
   * combined one): a transport asks before making a second link to it.
   */
  linkedTo?(nodeId: string, incarnation: number): boolean
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
}

/** Something that can carry a node's links: `createMemoryNetwork().transport()`, WebRTC... */
export interface Transport {
  open(self: LocalEndpoint, handlers: TransportHandlers): TransportSession
}
