/**
 * The WebRTC mesh transport: nodes of a room find each other through y-webrtc-protocol
 * signaling servers (signaling/client.ts; encrypted end to end with the room password) and
 * then talk over one data channel per pair (webrtc-link.ts). Payloads published on the
 * room's topic:
 *
 *   { type: 'announce', from: {nodeId, incarnation}, id, to?: nodeId }
 *       "I am here" — sent whenever a signaling server connects, after losing a link, and
 *       (with `to`) when the Manager dials a node.
 *   { type: 'signal', from: {nodeId, incarnation}, id, to: {nodeId, incarnation}, signal }
 *       simple-peer negotiation data (offer, answer, ICE candidates) for one peer.
 *
 * With several servers every payload arrives once per server both sides use; `id` (a
 * counter per sender) lets the receiver drop the copies — a repeated offer or candidate
 * would derail a negotiation.
 *
 * Glare is resolved by rule, not by race: of two endpoints, the one that sorts first
 * (node id, then incarnation) always initiates. Hearing an announce from a peer it should
 * call, a node calls; otherwise it announces back to that peer, which then calls. So each
 * pair negotiates exactly one connection. Signaling is needed only to meet: links stay up
 * while the servers are down, and newcomers are met again once a server is back.
 */
import { ArgumentError } from '../errors.js'
import { logger } from '../log.js'
import { SignalingClient } from '../signaling/client.js'
import { WebrtcLink } from './webrtc-link.js'
import type { LocalEndpoint, Transport, TransportHandlers, TransportSession } from './transport.js'

/** Options of the WebRTC transport. */
export interface WebrtcTransportOptions {
  /** Signaling server URLs (y-webrtc protocol); nodes meet through any of them. */
  readonly signaling: readonly string[]
  /** Room password: signaling is encrypted with it; nodes without it cannot meet ours. */
  readonly password?: string
  /** STUN/TURN servers. @default [] (host candidates only: same machine or LAN) */
  readonly iceServers?: readonly RTCIceServer[]
  /**
   * Which ICE candidates to use: 'relay' sends everything through a TURN server of
   * `iceServers` (hides addresses, crosses strict firewalls). @default 'all'
   */
  readonly iceTransportPolicy?: 'all' | 'relay'
  /** Largest frame accepted from a peer, bytes. @default 8 MiB */
  readonly maxFrameBytes?: number
  /** Largest data channel message, bytes (frames are split to fit). @default 64 KiB */
  readonly chunkBytes?: number
  /** ms to wait for a connection to open before giving up on it. @default 10000 */
  readonly connectTimeout?: number
}

interface EndpointId {
  readonly nodeId: string
  readonly incarnation: number
}

const log = logger('webrtc')

/** A Transport over a WebRTC mesh; `startNode({ signaling })` creates one for you. */
export function webrtcTransport(options: WebrtcTransportOptions): Transport {
  const { iceServers = [], iceTransportPolicy = 'all' } = options
  if (iceTransportPolicy !== 'all' && iceTransportPolicy !== 'relay') {
    throw new ArgumentError("iceTransportPolicy must be 'all' or 'relay'")
  }
  if (iceTransportPolicy === 'relay' && !(Array.isArray(iceServers) && iceServers.some(isTurnServer))) {
    throw new ArgumentError("iceTransportPolicy 'relay' needs a TURN server (turn: or turns: URL) in iceServers")
  }
  return { open: (self, handlers) => new WebrtcSession(self, handlers, options) }
}

/** How many payload ids to remember for dropping the copies that other servers relay. */
const SEEN_IDS = 1024

class WebrtcSession implements TransportSession {
  private readonly signaling: SignalingClient
  /** Connections by `nodeId@incarnation` of the peer. */
  private readonly links = new Map<string, WebrtcLink>()
  /** Ids of recent payloads; every server a node shares with us relays its own copy. */
  private readonly seen = new Set<string>()
  private sent = 0
  private reannounceTimer: ReturnType<typeof setTimeout> | undefined
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly handlers: TransportHandlers,
    private readonly options: WebrtcTransportOptions,
  ) {
    this.signaling = new SignalingClient({ urls: options.signaling, topic: self.room, password: options.password })
    this.signaling.on('connect', () => this.announce())
    this.signaling.on('message', (payload) => this.onSignal(payload))
    this.signaling.on('error', (error) => log('%s: signaling: %s', self.nodeId, error.message))
  }

  connect(nodeId: string): void {
    if (!this.closed) this.announce(nodeId)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.reannounceTimer)
    this.signaling.close()
    for (const link of this.links.values()) link.discard()
    this.links.clear()
  }

  private announce(to?: string): void {
    this.publish(to === undefined ? { type: 'announce' } : { type: 'announce', to })
  }

  /** Publishes a payload from this endpoint, with an id that lets receivers drop copies. */
  private publish(payload: Record<string, unknown>): void {
    const from = { nodeId: this.self.nodeId, incarnation: this.self.incarnation }
    this.signaling.publish({ ...payload, from, id: ++this.sent })
  }

  private onSignal(payload: Record<string, unknown>): void {
    if (this.closed) return
    const from = endpoint(payload.from)
    if (from === undefined || from.nodeId === this.self.nodeId || typeof payload.id !== 'number') return
    const id = `${key(from)}#${payload.id}`
    if (this.seen.has(id)) return
    this.seen.add(id)
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value as string)
    if (payload.type === 'announce') {
      if (payload.to !== undefined && payload.to !== this.self.nodeId) return
      if (this.links.has(key(from)) || this.linkedElsewhere(from)) return
      if (this.initiatesWith(from)) this.link(from, true)
      else this.announce(from.nodeId)
    } else if (payload.type === 'signal') {
      const to = endpoint(payload.to)
      if (to?.nodeId !== this.self.nodeId || to.incarnation !== this.self.incarnation) return
      // The peer calls us only when it sorts first; anything else is stale.
      const link = this.links.get(key(from)) ??
        (this.initiatesWith(from) || this.linkedElsewhere(from) ? undefined : this.link(from, false))
      link?.signal(payload.signal)
    }
  }

  /** True when the node reaches that peer over another transport (a tab's BroadcastChannel). */
  private linkedElsewhere(peer: EndpointId): boolean {
    return this.handlers.linkedTo?.(peer.nodeId, peer.incarnation) === true
  }

  /** True when this endpoint sorts first of the pair, and so makes the offer. */
  private initiatesWith(peer: EndpointId): boolean {
    const { nodeId, incarnation } = this.self
    return nodeId !== peer.nodeId ? nodeId < peer.nodeId : incarnation < peer.incarnation
  }

  private link(peer: EndpointId, initiator: boolean): WebrtcLink {
    const id = key(peer)
    const link = new WebrtcLink(peer.nodeId, {
      initiator,
      iceServers: this.options.iceServers ?? [],
      iceTransportPolicy: this.options.iceTransportPolicy ?? 'all',
      maxFrameBytes: this.options.maxFrameBytes ?? 8 * 1024 * 1024,
      chunkBytes: this.options.chunkBytes ?? 64 * 1024,
      connectTimeout: this.options.connectTimeout ?? 10_000,
    }, {
      signal: (signal) => this.publish({ type: 'signal', to: peer, signal }),
      opened: (opened) => {
        // The other transport won the race while we negotiated: one link per pair is enough.
        if (this.linkedElsewhere(peer)) {
          this.links.delete(id)
          opened.discard()
        } else {
          this.handlers.linkOpened(opened)
        }
      },
      frame: (from, frame) => this.handlers.frameReceived(from, frame),
      active: (from) => this.handlers.linkActive?.(from),
      closed: (ended, reason, wasOpen) => {
        if (this.links.get(id) === ended) this.links.delete(id)
        if (wasOpen) this.handlers.linkClosed(ended, reason)
        // The peer may still be alive (a network blip): say hello again so it can call back.
        if (!this.closed && reason !== 'restarted' && reason !== 'stop' && reason !== 'duplicate') this.scheduleReannounce()
      },
    })
    this.links.set(id, link)
    return link
  }

  private scheduleReannounce(): void {
    if (this.reannounceTimer !== undefined) return
    this.reannounceTimer = setTimeout(() => {
      this.reannounceTimer = undefined
      if (!this.closed) this.announce()
    }, 1000)
  }
}

/** True for an ICE server with a turn: or turns: URL. */
function isTurnServer(server: RTCIceServer): boolean {
  const urls: unknown = server?.urls
  return (Array.isArray(urls) ? urls : [urls]).some((url) => typeof url === 'string' && /^turns?:/i.test(url))
}

function key(peer: EndpointId): string {
  return `${peer.nodeId}@${peer.incarnation}`
}

/** A well-formed `{nodeId, incarnation}` from a payload, else undefined. */
function endpoint(value: unknown): EndpointId | undefined {
  const v = value as Partial<EndpointId> | null
  return typeof v === 'object' && v !== null && typeof v.nodeId === 'string' && v.nodeId !== '' &&
    typeof v.incarnation === 'number' && Number.isSafeInteger(v.incarnation)
    ? { nodeId: v.nodeId, incarnation: v.incarnation }
    : undefined
}
