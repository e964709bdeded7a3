/**
 * The BroadcastChannel transport: the tabs and workers of one origin (one browser profile)
 * meet with no server at all — offline too — and mix with the WebRTC mesh (combined.ts).
 * Every message goes to every other listener of the channel `distribunator/<room>` (with a
 * password, `distribunator/<room>/<digest>`: only nodes that know it meet), so each carries
 * its addressee and the others drop it:
 *
 *   { type: 'announce', from: {nodeId, incarnation}, to?: 'nodeId@incarnation' }
 *       "I am here" (discovery.ts): broadcast when the node opens and after it lost a link; sent back (with
 *       `to`) by each node that links to a newcomer, so the newcomer links to it too.
 *   { type: 'frame', from, to, data }     one frame of the link from → to
 *   { type: 'bye', from, to }             the link from → to is closed
 *
 * A link needs no negotiation: each side opens its own on hearing the other's announce, and
 * a channel keeps each sender's order, so the reply announce is heard before any frame.
 * Delivery is a structured clone per listener: fine for a few tabs, not a bulk pipe.
 */
import { logger } from '../log.js'
import { Discovery, endpointKey, parseEndpoint, type EndpointId } from './discovery.js'
import {
  isFinal,
  type CloseReason,
  type Link,
  type LocalEndpoint,
  type Route,
  type Transport,
  type TransportHooks,
  type TransportSession,
} from './transport.js'

/** Options of the BroadcastChannel transport. */
export interface BroadcastChannelTransportOptions {
  /** Nodes with another password (or none) never meet this one. */
  readonly password?: string
}

type Message =
  | { type: 'announce'; from: EndpointId; to?: string }
  | { type: 'frame'; from: EndpointId; to: string; data: Uint8Array }
  | { type: 'bye'; from: EndpointId; to: string }

const log = logger('broadcast-channel')

const CHANNEL_ROUTE: Route = Object.freeze({ kind: 'broadcast-channel' })

/** A Transport over a BroadcastChannel; `startNode` adds one in browsers (`broadcastChannel`). */
export function broadcastChannelTransport(options: BroadcastChannelTransportOptions = {}): Transport {
  return { open: (self, hooks) => new BroadcastChannelSession(self, hooks, options) }
}

/** One side of a link between two listeners of the channel. */
class ChannelLink implements Link {
  readonly route: Route = CHANNEL_ROUTE
  open = true

  constructor(
    readonly remoteNodeId: string,
    readonly remoteKey: string,
    private readonly session: BroadcastChannelSession,
  ) {}

  send(frame: Uint8Array): void {
    if (this.open) this.session.postFrame(this.remoteKey, frame)
  }

  close(reason: CloseReason = 'closed'): void {
    if (this.open) this.session.closeLink(this, reason, true)
  }
}

class BroadcastChannelSession implements TransportSession {
  private channel: BroadcastChannel | undefined
  private readonly links = new Map<string, ChannelLink>()
  private readonly discovery: Discovery
  /** This endpoint's key: frames and byes are addressed to it. */
  private readonly selfKey: string
  /** The sender of every message posted here. */
  private readonly from: EndpointId
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: TransportHooks,
    options: BroadcastChannelTransportOptions,
  ) {
    this.discovery = new Discovery(self, (announce) => this.post(announce))
    this.selfKey = endpointKey(self)
    this.from = { nodeId: self.nodeId, incarnation: self.incarnation }
    void channelName(self.room, options.password).then((name) => {
      if (this.closed) return
      this.channel = new BroadcastChannel(name)
      this.channel.onmessage = (event: MessageEvent) => this.receive(event.data)
      this.discovery.announce()
    })
  }

  connect(nodeId: string): void {
    // A node id alone, with no incarnation: every incarnation of that node answers.
    this.discovery.announce(nodeId)
  }

  close(): void {
    if (this.closed) return
    this.discovery.close()
    for (const link of this.links.values()) {
      link.open = false
      this.post({ type: 'bye', to: link.remoteKey })
    }
    this.closed = true
    this.links.clear()
    this.channel?.close()
  }

  /** Posts a message from this endpoint; dropped before the channel opens or after close. */
  post(message: DistributiveOmit<Message, 'from'>): void {
    if (this.closed || this.channel === undefined) return
    this.channel.postMessage({ ...message, from: this.from })
  }

  /** Posts one frame of the link to `to`: `post` without its spread, for every message. */
  postFrame(to: string, data: Uint8Array): void {
    if (this.closed || this.channel === undefined) return
    const message: Message = { type: 'frame', from: this.from, to, data }
    this.channel.postMessage(message)
  }

  /** Ends a link: tells the peer (unless it told us) and reports it. */
  closeLink(link: ChannelLink, reason: CloseReason, tellPeer: boolean): void {
    link.open = false
    this.links.delete(link.remoteKey)
    if (tellPeer) this.post({ type: 'bye', to: link.remoteKey })
    this.hooks.linkClosed(link, reason)
    // The peer may still be there (its heartbeat was late): offer to link again.
    if (!this.closed && !isFinal(reason)) this.discovery.announceLater()
  }

  private receive(data: unknown): void {
    if (this.closed) return
    const message = parse(data)
    if (message === undefined || !this.discovery.isFromOther(message.from)) return
    const from = endpointKey(message.from)
    if (message.type === 'announce') {
      if (!this.discovery.isForMe(message.to)) return
      // A network link is good enough for a pair of tabs; a tunnel or the servers are not.
      if (this.links.has(from) || this.hooks.linkedTo?.(message.from.nodeId, message.from.incarnation, 'direct') === true) return
      const link = new ChannelLink(message.from.nodeId, from, this)
      this.links.set(from, link)
      // Before linkOpened: our Hello must not reach the peer before it has a link for us.
      if (message.to === undefined || message.to === this.self.nodeId) this.discovery.answer(message.from)
      this.hooks.linkOpened(link)
      return
    }
    if (message.to !== this.selfKey) return
    const link = this.links.get(from)
    if (link === undefined) {
      // The peer still has a link we closed (our bye crossed its frames): make it close too.
      if (message.type === 'frame') this.post({ type: 'bye', to: from })
      return
    }
    if (message.type === 'frame') this.hooks.frameReceived(link, message.data)
    else this.closeLink(link, 'closed', false)
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** The channel's name; with a password, a digest of it, so the password itself is not shown. */
async function channelName(room: string, password: string | undefined): Promise<string> {
  const name = `distribunator/${room}`
  if (password === undefined) return name
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${room}\n${password}`))
  const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${name}/${hex}`
}

/** A well-formed message, else undefined (another app or version on the same channel). */
function parse(data: unknown): Message | undefined {
  const m = data as Partial<Record<string, unknown>> | null
  if (typeof m !== 'object' || m === null) return undefined
  const sender = parseEndpoint(m.from)
  if (sender === undefined) {
    log('dropped a message without a valid sender')
    return undefined
  }
  if (m.type === 'announce' && (m.to === undefined || typeof m.to === 'string')) {
    return m.to === undefined ? { type: 'announce', from: sender } : { type: 'announce', from: sender, to: m.to }
  }
  if (typeof m.to !== 'string') return undefined
  if (m.type === 'frame' && m.data instanceof Uint8Array) return { type: 'frame', from: sender, to: m.to, data: m.data }
  if (m.type === 'bye') return { type: 'bye', from: sender, to: m.to }
  return undefined
}
