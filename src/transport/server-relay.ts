/**
 * Links through the signaling servers, for a node that has no WebRTC (a browser without it, a
 * worker) or chose not to use it: its frames travel as publishes to the peer's direct topic,
 * on servers that said they relay (`SERVER_INFO_TOPIC`; `distribunator-signal --relay`). With
 * a room password they are sealed like any payload: the server reads nothing.
 *
 *   { type: 'relay', from, id, to: {nodeId, incarnation}, n, data }   a piece of a frame
 *   { type: 'relay-bye', from, id, to }                                the link is closed
 *
 * `data` is one message of chunking.ts (a frame, or a piece of a longer one), base64; `n`
 * numbers them per link from 0. With several servers each piece comes once per server: the
 * receiver takes them by `n`, dropping copies and holding one that came early. A link needs
 * no negotiation (as over a BroadcastChannel): each side opens its own on hearing the other's
 * announce, and answers it first, so the answer is heard before any frame.
 */
import { fromBase64, toBase64 } from 'lib0/buffer'
import { logger } from '../log.js'
import { FrameJoiner, splitFrame } from './chunking.js'
import { endpointKey, type EndpointId } from './discovery.js'
import type { CloseReason, Link, Route, TransportHooks } from './transport.js'

/** Content bytes per relayed piece: base64, sealing and JSON keep a piece under a server's 64 KiB message limit. */
const PIECE_BYTES = 24 * 1024
/** Pieces held that came before their turn (a faster server's copy); more closes the link. */
const MAX_EARLY_PIECES = 1024
const SERVER_ROUTE: Route = Object.freeze({ kind: 'server' })

const log = logger('server-relay')

/** What the relay needs of its WebRTC session. */
export interface ServerRelayHooks {
  /** Publishes a payload to `to`'s direct topic on every connected server. */
  publish(payload: Record<string, unknown>, to: EndpointId): void
}

/** One link through the servers. */
class ServerRelayLink implements Link {
  readonly route = SERVER_ROUTE
  open = true
  /** Number of the next piece sent. */
  sent = 0
  /** Number of the next piece to take; pieces that came early wait in `early`. */
  next = 0
  readonly early = new Map<number, Uint8Array>()
  readonly joiner: FrameJoiner

  constructor(
    readonly remote: EndpointId,
    maxFrameBytes: number,
    private readonly relay: ServerRelay,
  ) {
    this.joiner = new FrameJoiner(maxFrameBytes)
  }

  get remoteNodeId(): string {
    return this.remote.nodeId
  }

  send(frame: Uint8Array): void {
    if (!this.open) return
    for (const piece of splitFrame(frame, PIECE_BYTES)) this.relay.sendPiece(this, piece)
  }

  close(reason: CloseReason = 'closed'): void {
    if (this.open) this.relay.end(this, reason, true)
  }
}

/** The links of one session through its signaling servers. */
export class ServerRelay {
  private readonly links = new Map<string, ServerRelayLink>()
  private closed = false

  constructor(
    private readonly hooks: TransportHooks,
    private readonly relayHooks: ServerRelayHooks,
    private readonly maxFrameBytes: number,
  ) {}

  /** True when a link to `peer` is open. */
  has(peer: EndpointId): boolean {
    return this.links.has(endpointKey(peer))
  }

  /** Opens a link to `peer` (once). */
  open(peer: EndpointId): void {
    const key = endpointKey(peer)
    if (this.closed || this.links.has(key)) return
    const link = new ServerRelayLink(peer, this.maxFrameBytes, this)
    this.links.set(key, link)
    log('linked to %s through the servers', key)
    this.hooks.linkOpened(link)
  }

  /** A relay payload from `from` (checked for its type by the caller). */
  receive(from: EndpointId, payload: Record<string, unknown>): void {
    const link = this.links.get(endpointKey(from))
    if (payload.type === 'relay-bye') {
      if (link !== undefined) this.end(link, 'closed', false)
      return
    }
    const { n, data } = payload
    if (link === undefined) return
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || typeof data !== 'string') {
      return this.end(link, 'a malformed relayed piece', true)
    }
    if (n < link.next || link.early.has(n)) return
    let piece: Uint8Array
    try {
      piece = fromBase64(data)
    } catch {
      return this.end(link, 'a relayed piece that is not base64', true)
    }
    if (n > link.next) {
      if (link.early.size >= MAX_EARLY_PIECES) return this.end(link, 'too many relayed pieces out of order', true)
      link.early.set(n, piece)
      return
    }
    this.take(link, piece)
    for (let held = link.early.get(link.next); held !== undefined && link.open; held = link.early.get(link.next)) {
      link.early.delete(link.next)
      this.take(link, held)
    }
  }

  sendPiece(link: ServerRelayLink, piece: Uint8Array): void {
    this.relayHooks.publish({ type: 'relay', to: link.remote, n: link.sent++, data: toBase64(piece) }, link.remote)
  }

  /** Ends a link: tells the peer (unless it told us) and reports it. */
  end(link: ServerRelayLink, reason: CloseReason, tellPeer: boolean): void {
    if (!link.open) return
    link.open = false
    this.links.delete(endpointKey(link.remote))
    if (tellPeer) this.relayHooks.publish({ type: 'relay-bye', to: link.remote }, link.remote)
    if (!this.closed) this.hooks.linkClosed(link, reason)
  }

  /** Closes every link for good (the session closes: nothing is reported). */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const link of this.links.values()) this.end(link, 'stop', true)
    this.links.clear()
  }

  /** Takes the next piece in order: a whole frame goes to the node. */
  private take(link: ServerRelayLink, piece: Uint8Array): void {
    link.next++
    let frame: Uint8Array | undefined
    try {
      frame = link.joiner.push(piece)
    } catch (error) {
      return this.end(link, (error as Error).message, true)
    }
    if (frame !== undefined) this.hooks.frameReceived(link, frame)
    else this.hooks.linkActive?.(link)
  }
}
