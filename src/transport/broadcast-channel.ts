/**
 * The BroadcastChannel transport: the tabs and workers of one origin (one browser profile)
 * meet with no server at all — offline too — and mix with the WebRTC mesh (combined.ts).
 * Nodes find each other on the room's channel, `distribunator/<room>` (with a password,
 * `distribunator/<room>/<digest>`: only nodes that know it meet), where every message goes
 * to every listener:
 *
 *   { type: 'announce', from: {nodeId, incarnation}, to?: 'nodeId@incarnation' }
 *       "I am here" (discovery.ts): broadcast when the node opens and after it lost a link; sent back (with
 *       `to`) by each node that links to a newcomer, so the newcomer links to it too.
 *
 * A link has a channel of its own, named after the room's and both endpoints (`linkChannel`):
 * its frames reach the one tab they are for, as bare bytes — no address to write or check,
 * and no copy for every other tab of the room to decode and drop. On it:
 *
 *   Uint8Array       one frame, or a batch of the frames one task sent (batching.ts)
 *   'hi' / 'ready'   "I listen here": sent on opening, and 'ready' in answer to a 'hi'
 *   'bye'            the link is closed
 *
 * A channel delivers only to listeners that exist when a message is posted, and the two ends
 * open theirs one after the other: an end sends its frames (held until then) once it has
 * heard anything from the other end there, which then listens too. No other negotiation.
 */
import { logger } from '../log.js'
import { Batcher, unbatch } from './batching.js'
import { Discovery, endpointKey, parseEndpoint, type EndpointId } from './discovery.js'
import { exactCopy } from './exact-buffers.js'
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

/** What the room's channel carries. */
type RoomMessage = { type: 'announce'; from: EndpointId; to?: string }

/** What a link's channel carries besides frames. */
type Signal = 'hi' | 'ready' | 'bye'

const log = logger('broadcast-channel')

const CHANNEL_ROUTE: Route = Object.freeze({ kind: 'broadcast-channel' })

/** A Transport over a BroadcastChannel; `startNode` adds one in browsers (`broadcastChannel`). */
export function broadcastChannelTransport(options: BroadcastChannelTransportOptions = {}): Transport {
  return { open: (self, hooks) => new BroadcastChannelSession(self, hooks, options) }
}

/** One side of a link: its own channel, shared with the other end alone. */
class ChannelLink implements Link {
  readonly route: Route = CHANNEL_ROUTE
  open = true
  /** Frames sent before the other end was heard on the channel: it may not listen yet. */
  private held: Uint8Array[] | undefined = []
  /** Posts a frame, or packs it with the others of its task; a borrowed one from a reused buffer of its size. */
  private readonly batcher = new Batcher((message, borrowed) => this.channel.postMessage(borrowed ? exactCopy(message) : message))

  constructor(
    readonly remoteNodeId: string,
    readonly remoteKey: string,
    private readonly channel: BroadcastChannel,
    private readonly session: BroadcastChannelSession,
  ) {
    channel.onmessage = (event: MessageEvent) => this.receive(event.data)
    this.channel.postMessage('hi' satisfies Signal)
  }

  send(frame: Uint8Array): void {
    if (!this.open) return
    if (this.held === undefined) this.batcher.addUnflagged(frame, false)
    else this.held.push(frame)
  }

  /** A frame in the encoder's buffer (Link.sendBorrowed): posted or batched at once, or held as a copy. */
  sendBorrowed(frame: Uint8Array): void {
    if (!this.open) return
    if (this.held === undefined) this.batcher.addUnflagged(frame, true)
    else this.held.push(frame.slice())
  }

  close(reason: CloseReason = 'closed'): void {
    if (this.open) this.session.closeLink(this, reason, true)
  }

  /** Stops listening; tells the other end first if `tellPeer`. */
  end(tellPeer: boolean): void {
    this.open = false
    this.held = undefined
    if (tellPeer) {
      // What this task still had to send goes before the bye.
      this.batcher.flush()
      this.channel.postMessage('bye' satisfies Signal)
    }
    this.batcher.clear()
    this.channel.close()
  }

  private receive(data: unknown): void {
    if (!this.open) return
    if (data === 'hi') this.channel.postMessage('ready' satisfies Signal)
    if (data === 'bye') return this.session.closeLink(this, 'closed', false)
    // Anything from the other end means it listens: what was held goes now, in order.
    const held = this.held
    this.held = undefined
    for (const frame of held ?? []) this.batcher.addUnflagged(frame, false)
    if (data instanceof Uint8Array) this.frames(data)
    else if (data !== 'hi' && data !== 'ready') log('dropped a message that is not a frame on the link to %s', this.remoteKey)
  }

  /** Hands on a frame, or each frame of a batch while the link stays open; a malformed batch ends the link. */
  private frames(data: Uint8Array): void {
    let frames: Uint8Array | Uint8Array[]
    try {
      frames = unbatch(data)
    } catch (error) {
      log('%s: %s', this.remoteKey, (error as Error).message)
      return this.session.closeLink(this, (error as Error).message, true)
    }
    if (frames instanceof Uint8Array) this.session.frameReceived(this, frames)
    else for (const frame of frames) if (this.open) this.session.frameReceived(this, frame)
  }
}

class BroadcastChannelSession implements TransportSession {
  private channel: BroadcastChannel | undefined
  /** The room channel's name (known once the password's digest is). */
  private channelName: string | undefined
  private readonly links = new Map<string, ChannelLink>()
  private readonly discovery: Discovery
  /** The sender of every announce posted here. */
  private readonly from: EndpointId
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: TransportHooks,
    options: BroadcastChannelTransportOptions,
  ) {
    this.discovery = new Discovery(self, (announce) => this.post(announce))
    this.from = { nodeId: self.nodeId, incarnation: self.incarnation }
    void channelName(self.room, options.password).then((name) => {
      if (this.closed) return
      this.channelName = name
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
    for (const link of this.links.values()) link.end(true)
    this.closed = true
    this.links.clear()
    this.channel?.close()
  }

  /** Posts an announce from this endpoint; dropped before the channel opens or after close. */
  post(message: { type: 'announce'; to?: string }): void {
    if (this.closed || this.channel === undefined) return
    const announce: RoomMessage = { ...message, from: this.from }
    this.channel.postMessage(announce)
  }

  frameReceived(link: ChannelLink, frame: Uint8Array): void {
    this.hooks.frameReceived(link, frame)
  }

  /** Ends a link: tells the peer (unless it told us) and reports it. */
  closeLink(link: ChannelLink, reason: CloseReason, tellPeer: boolean): void {
    link.end(tellPeer)
    this.links.delete(link.remoteKey)
    this.hooks.linkClosed(link, reason)
    // The peer may still be there (its heartbeat was late): offer to link again.
    if (!this.closed && !isFinal(reason)) this.discovery.announceLater()
  }

  private receive(data: unknown): void {
    if (this.closed || this.channelName === undefined) return
    const message = parse(data)
    if (message === undefined || !this.discovery.isFromOther(message.from) || !this.discovery.isForMe(message.to)) return
    const from = endpointKey(message.from)
    // A network link is good enough for a pair of tabs; a tunnel or the servers are not.
    if (this.links.has(from) || this.hooks.linkedTo?.(message.from.nodeId, message.from.incarnation, 'direct') === true) return
    const channel = new BroadcastChannel(linkChannel(this.channelName, endpointKey(this.self), from))
    const link = new ChannelLink(message.from.nodeId, from, channel, this)
    this.links.set(from, link)
    if (message.to === undefined || message.to === this.self.nodeId) this.discovery.answer(message.from)
    this.hooks.linkOpened(link)
  }
}

/**
 * The channel of the link between endpoints `a` and `b` (keys) in the room channel `room`:
 * the same name from either end.
 */
export function linkChannel(room: string, a: string, b: string): string {
  return a < b ? `${room}//${a}//${b}` : `${room}//${b}//${a}`
}

/** The channel's name; with a password, a digest of it, so the password itself is not shown. */
async function channelName(room: string, password: string | undefined): Promise<string> {
  const name = `distribunator/${room}`
  if (password === undefined) return name
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${room}\n${password}`))
  const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${name}/${hex}`
}

/** A well-formed announce, else undefined (another app or version on the same channel). */
function parse(data: unknown): RoomMessage | undefined {
  const m = data as Partial<Record<string, unknown>> | null
  if (typeof m !== 'object' || m === null || m.type !== 'announce') return undefined
  const sender = parseEndpoint(m.from)
  if (sender === undefined) {
    log('dropped an announce without a valid sender')
    return undefined
  }
  if (m.to === undefined) return { type: 'announce', from: sender }
  return typeof m.to === 'string' ? { type: 'announce', from: sender, to: m.to } : undefined
}
