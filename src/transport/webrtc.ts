/**
 * The WebRTC mesh transport: nodes of a room find each other through y-webrtc-protocol
 * signaling servers (signaling/client.ts; encrypted end to end with the room password) and
 * then talk over one data channel per pair (webrtc-link.ts). Payloads published on the
 * room's topic:
 *
 *   { type: 'announce', from: {nodeId, incarnation}, id, to?: nodeId }
 *       "I am here" (discovery.ts) — sent whenever a signaling server connects, after
 *       losing a link, and (with `to`) when the Manager dials a node.
 *   { type: 'signal', from: {nodeId, incarnation}, id, to: {nodeId, incarnation}, attempt, signal }
 *       negotiation data for one peer (webrtc-link.ts: offer, answer, ICE candidate, or
 *       abort). `attempt` numbers the initiator's tries at this pair, so that a late piece
 *       of a failed try never reaches the next one.
 *
 * With several servers every payload arrives once per server both sides use; `id` (a
 * counter per sender) lets the receiver drop the copies — a repeated offer or candidate
 * would derail a negotiation.
 *
 * Glare is resolved by rule, not by race: of two endpoints, the one that sorts first
 * (node id, then incarnation) always initiates. Hearing an announce from a peer it should
 * call, a node calls; otherwise it announces back to that peer, which then calls. So each
 * pair negotiates exactly one connection at a time. A try that fails before opening is
 * made again at once (a few times; then on the next announce): under load libdatachannel
 * now and then loses a negotiation (applying the answer finds "no ICE transport"; about 1
 * in 15 pairs of a 16-process mesh on 2 cores). Signaling is needed only to
 * meet: links stay up while the servers are down, and newcomers are met again once a
 * server is back.
 */
import { ArgumentError, describeReason } from '../errors.js'
import { logger } from '../log.js'
import { SignalingClient, type SignalingServerAddress, type SignalingStatus } from '../signaling/client.js'
import { directTopic } from '../signaling/direct-topic.js'
import { loadPeerConnectionClass, peerConnectionClass, type PeerConnectionClass } from './peer-connection.js'
import { Discovery, endpointKey, parseEndpoint, type EndpointId } from './discovery.js'
import { DialRetries } from './dial-retries.js'
import { ServerRelay } from './server-relay.js'
import { WebrtcLink, type WebrtcLinkOptions } from './webrtc-link.js'
import { foundNoPath, parseSignal, type WebrtcSignal } from './webrtc-signal.js'
import { isFinal, type LocalEndpoint, type Transport, type TransportHooks, type TransportSession } from './transport.js'

/** Options of the WebRTC transport. */
export interface WebrtcTransportOptions {
  /** Signaling servers (y-webrtc protocol): URLs, or `{ cluster: [URLs] }`; nodes meet through any of them. */
  readonly signaling: readonly SignalingServerAddress[]
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
  /**
   * false: no WebRTC, on purpose — the node reaches every peer through signaling servers that
   * relay (`distribunator-signal --relay`). A runtime without `RTCPeerConnection` (a browser
   * without it, a worker) does so by itself. @default true
   */
  readonly webrtc?: boolean
  /**
   * Most frame bytes per data channel message (longer frames are split). Each link uses
   * less if the two ends agreed a smaller maximum message size (Chromium and
   * node-datachannel: 256 KiB; 64 KiB where a stack does not say). @default 256 KiB
   */
  readonly chunkBytes?: number
  /** ms to wait for a connection to open before giving up on it. @default 10000 */
  readonly connectTimeout?: number
  /**
   * The `RTCPeerConnection` class to use (a polyfill, an instrumented one). @default the
   * runtime's own; in Node, node-datachannel's polyfill
   */
  readonly peerConnection?: PeerConnectionClass
}

const log = logger('webrtc')

/** A Transport over a WebRTC mesh; `startNode({ signaling })` creates one for you. */
export function webrtcTransport(options: WebrtcTransportOptions): Transport {
  const { iceServers = [], iceTransportPolicy = 'all' } = options
  if (iceTransportPolicy !== 'all' && iceTransportPolicy !== 'relay') {
    throw new ArgumentError("iceTransportPolicy must be 'all' or 'relay'")
  }
  if (options.chunkBytes !== undefined && !(Number.isInteger(options.chunkBytes) && options.chunkBytes >= 1)) {
    throw new ArgumentError('chunkBytes must be a positive whole number of bytes')
  }
  if (iceTransportPolicy === 'relay' && !(Array.isArray(iceServers) && iceServers.some(isTurnServer))) {
    throw new ArgumentError("iceTransportPolicy 'relay' needs a TURN server (turn: or turns: URL) in iceServers")
  }
  return { open: (self, hooks) => new WebrtcSession(self, hooks, options) }
}

/** How many payload ids to remember for dropping the copies that other servers relay. */
const SEEN_IDS = 1024
const DEFAULT_MAX_FRAME = 8 * 1024 * 1024
const DEFAULT_CHUNK_BYTES = 256 * 1024
const DEFAULT_CONNECT_TIMEOUT = 10_000

class WebrtcSession implements TransportSession {
  /** Made once RTCPeerConnection is at hand (in Node it loads first). */
  private signalingClient: SignalingClient | undefined
  /** Every link's settings, the initiator's and the answerer's (one object each, not one per link); undefined without WebRTC. */
  private linkOptions: { readonly initiator: WebrtcLinkOptions; readonly answerer: WebrtcLinkOptions } | undefined
  /** Connections by `nodeId@incarnation` of the peer. */
  private readonly links = new Map<string, WebrtcLink>()
  /** Ids of recent payloads; every server a node shares with us relays its own copy. */
  private readonly seen = new Set<string>()
  private sent = 0
  /** Our tries at pairs we initiate, counted. */
  private attempts = 0
  /** When pairs we initiate are tried again after a try failed. */
  private readonly retries: DialRetries
  /** The latest try seen, by peer key (pairs the peer initiates): older ones are stale. */
  private readonly latestAttempt = new Map<string, number>()
  private readonly discovery: Discovery
  /** Links through the signaling servers, with peers of which one has no WebRTC. */
  private readonly serverRelay: ServerRelay
  /** This node has no WebRTC (or chose not to use it): it reaches every peer through the servers. */
  private relayOnly = false
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: TransportHooks,
    private readonly options: WebrtcTransportOptions,
  ) {
    this.retries = new DialRetries(self.nodeId)
    // A relay-only node says so in its announces, and so does a node to a peer it reaches
    // through the servers (its WebRTC failed): they link to it through the servers.
    this.discovery = new Discovery(self, (payload, endpoint) => {
      const relay = this.relayOnly || (endpoint !== undefined && this.serverRelay.has(endpoint))
      this.publish(relay ? { ...payload, relay: true } : payload, endpoint)
    })
    this.serverRelay = new ServerRelay(
      hooks,
      { publish: (payload, to) => this.publish(payload, to) },
      options.maxFrameBytes ?? DEFAULT_MAX_FRAME,
    )
    const ready = options.webrtc === false ? null : (options.peerConnection ?? peerConnectionClass())
    if (ready !== undefined) this.start(ready ?? undefined)
    else {
      loadPeerConnectionClass().then(
        (loaded) => this.closed || this.start(loaded),
        (error: Error) => {
          log('%s: no WebRTC (%s): through the servers only', self.nodeId, error.message)
          if (!this.closed) this.start(undefined)
        },
      )
    }
  }

  /** Joins the servers: with WebRTC, or without (`undefined`), through the servers only. */
  private start(peerConnection: PeerConnectionClass | undefined): void {
    this.relayOnly = peerConnection === undefined
    if (peerConnection !== undefined) {
      const {
        iceServers = [],
        iceTransportPolicy = 'all',
        maxFrameBytes = DEFAULT_MAX_FRAME,
        chunkBytes = DEFAULT_CHUNK_BYTES,
        connectTimeout = DEFAULT_CONNECT_TIMEOUT,
      } = this.options
      const settings = { peerConnection, iceServers, iceTransportPolicy, maxFrameBytes, chunkBytes, connectTimeout }
      this.linkOptions = { initiator: { ...settings, initiator: true }, answerer: { ...settings, initiator: false } }
    }
    const signaling = new SignalingClient({
      urls: this.options.signaling,
      topic: this.self.room,
      directTopic: directTopic(this.self.room, this.self),
      password: this.options.password,
      serverInfo: true,
    })
    this.signalingClient = signaling
    signaling.on('connect', () => this.discovery.announce())
    signaling.on('message', (payload) => this.onSignal(payload))
    signaling.on('error', (error) => log('%s: signaling: %s', this.self.nodeId, error.message))
    signaling.on('status', (status) => {
      // A server that relays now: peers that need it can link through it; say hello again.
      if (status.relay) this.discovery.announce()
      this.hooks.signalingChanged?.(status)
    })
  }

  /** True when a server this node is connected to carries frames. */
  private serversRelay(): boolean {
    return this.signalingClient?.status().some((status) => status.relay) === true
  }

  connect(nodeId: string): void {
    if (!this.closed) this.discovery.announce(nodeId)
  }

  signaling(): SignalingStatus[] {
    return this.signalingClient?.status() ?? []
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.discovery.close()
    this.retries.close()
    this.serverRelay.close()
    this.signalingClient?.close()
    for (const link of this.links.values()) link.discard()
    this.links.clear()
    this.latestAttempt.clear()
  }

  /**
   * Publishes a payload from this endpoint, with an id that lets receivers drop copies: to
   * the room, or to one peer's direct topic.
   */
  private publish(payload: Record<string, unknown>, to?: EndpointId): void {
    const from = { nodeId: this.self.nodeId, incarnation: this.self.incarnation }
    this.signalingClient?.publish({ ...payload, from, id: ++this.sent }, to === undefined ? undefined : directTopic(this.self.room, to))
  }

  private onSignal(payload: Record<string, unknown>): void {
    if (this.closed) return
    const from = parseEndpoint(payload.from)
    if (from === undefined || !this.discovery.isFromOther(from) || typeof payload.id !== 'number') return
    // Relayed pieces come in order by their own numbers (copies included): not through `seen`.
    if (payload.type === 'relay' || payload.type === 'relay-bye') {
      const to = parseEndpoint(payload.to)
      if (to?.nodeId === this.self.nodeId && to.incarnation === this.self.incarnation) this.serverRelay.receive(from, payload)
      return
    }
    const id = `${endpointKey(from)}#${payload.id}`
    if (this.seen.has(id)) return
    this.seen.add(id)
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value as string)
    if (payload.type === 'announce') {
      if (!this.discovery.isForMe(payload.to)) return
      if (this.relayOnly || payload.relay === true) return this.throughServers(from, payload.to)
      if (this.links.has(endpointKey(from)) || this.linkedElsewhere(from)) return
      if (this.initiatesWith(from)) {
        if (!this.retries.waiting(endpointKey(from))) this.link(from, true)
      }
      // To the peer's own topic: the rest of the room need not hear it.
      else this.discovery.answer(from)
    } else if (payload.type === 'signal') {
      const to = parseEndpoint(payload.to)
      if (to?.nodeId !== this.self.nodeId || to.incarnation !== this.self.incarnation) return
      const signal = parseSignal(payload.signal)
      const attempt = payload.attempt
      if (signal === undefined || typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) {
        log('%s: malformed signal from %s dropped', this.self.nodeId, endpointKey(from))
        return
      }
      this.signalFrom(from, attempt, signal)
    }
  }

  /**
   * An announce where one of the pair has no WebRTC: a link through the servers, if one
   * relays. The answer goes first, so that the peer opens its side before any frame comes.
   */
  private throughServers(from: EndpointId, to: unknown): void {
    if (!this.serversRelay() || this.serverRelay.has(from) || this.linkedElsewhere(from)) return
    if (to === undefined || to === this.self.nodeId) this.discovery.answer(from)
    this.serverRelay.open(from)
  }

  /**
   * A try at WebRTC with `peer` failed and nothing carries the pair: through the servers, if
   * one relays, while WebRTC is tried again (a direct link takes over once one works; a tunnel
   * that comes meanwhile does too, ranked above the servers). The peer hears an announce that
   * asks for the servers (`relay`), and opens its side as it would for a node without WebRTC.
   */
  private fallBack(peer: EndpointId): void {
    if (!this.serversRelay() || this.serverRelay.has(peer) || this.hooks.linkedTo?.(peer.nodeId, peer.incarnation) === true) return
    log('%s: no WebRTC with %s: through the servers meanwhile', this.self.nodeId, endpointKey(peer))
    // The announce before the link's first frame, which the peer drops unless it has its side open.
    this.publish({ type: 'announce', to: endpointKey(peer), relay: true }, peer)
    this.serverRelay.open(peer)
  }

  /** Routes a peer's negotiation data to the link of its try. */
  private signalFrom(from: EndpointId, attempt: number, signal: WebrtcSignal): void {
    const link = this.links.get(endpointKey(from))
    if (link?.attempt === attempt) {
      link.signal(signal)
      return
    }
    // Tries are ours to number where we initiate: anything else is stale. Where the peer
    // initiates, a try no newer than the latest seen is stale too (a late candidate of a
    // try that failed must not start a link), and an abort of no link needs nothing.
    const id = endpointKey(from)
    if (this.initiatesWith(from) || attempt <= (this.latestAttempt.get(id) ?? 0) || signal.type === 'abort') return
    // Linked over another transport: no second link. (Our own link counts as one once it
    // has said Hello, so only ask when there is none.)
    if (link === undefined && this.linkedElsewhere(from)) return
    this.latestAttempt.delete(id)
    this.latestAttempt.set(id, attempt)
    if (this.latestAttempt.size > SEEN_IDS) this.latestAttempt.delete(this.latestAttempt.keys().next().value as string)
    // A newer try: the peer has given up on the link we have, whether or not we know yet.
    link?.close('superseded')
    this.link(from, false, attempt)?.signal(signal)
  }

  /**
   * True when the node reaches that peer over another transport (a tab's BroadcastChannel).
   * A tunnel or the servers do not count: a direct link is worth making where they carry the pair.
   */
  private linkedElsewhere(peer: EndpointId): boolean {
    return this.hooks.linkedTo?.(peer.nodeId, peer.incarnation, 'direct') === true
  }

  /** True when this endpoint sorts first of the pair, and so makes the offer. */
  private initiatesWith(peer: EndpointId): boolean {
    const { nodeId, incarnation } = this.self
    return nodeId !== peer.nodeId ? nodeId < peer.nodeId : incarnation < peer.incarnation
  }

  /** A new connection to `peer`; undefined if the runtime refused to make one (logged). */
  private link(peer: EndpointId, initiator: boolean, attempt = ++this.attempts): WebrtcLink | undefined {
    try {
      return this.newLink(peer, initiator, attempt)
    } catch (error) {
      // E.g. a browser's limit on RTCPeerConnections per page.
      log('%s: no connection to %s: %s', this.self.nodeId, endpointKey(peer), describeReason(error))
      return undefined
    }
  }

  private newLink(peer: EndpointId, initiator: boolean, attempt: number): WebrtcLink {
    const id = endpointKey(peer)
    const link = new WebrtcLink(peer.nodeId, attempt, initiator ? this.linkOptions!.initiator : this.linkOptions!.answerer, {
      signal: (signal) => this.publish({ type: 'signal', to: peer, attempt, signal }, peer),
      opened: (opened) => {
        this.retries.opened(id)
        // The other transport won the race while we negotiated: one link per pair is enough.
        if (this.linkedElsewhere(peer)) {
          this.links.delete(id)
          opened.discard()
        } else {
          this.hooks.linkOpened(opened)
        }
      },
      frame: (from, frame) => this.hooks.frameReceived(from, frame),
      active: (from) => this.hooks.linkActive?.(from),
      closed: (ended, reason, wasOpen) => {
        if (this.links.get(id) === ended) this.links.delete(id)
        if (wasOpen) this.hooks.linkClosed(ended, reason)
        if (this.closed || isFinal(reason)) return
        if (!wasOpen) {
          const dial = (): void => {
            if (!this.closed && !this.links.has(id) && !this.linkedElsewhere(peer)) this.link(peer, true)
          }
          const redialing = initiator && this.retries.redial(id, dial)
          // Not even a link: other nodes (tunnels.ts) or the servers carry the pair meanwhile,
          // once a try found no path or the quick tries are spent; one that lost a race of the
          // stack is tried again first (asking at once cost a 16-process mesh ~40 tunnels).
          if (foundNoPath(reason) || (initiator && !redialing)) {
            this.hooks.unreachable?.(peer.nodeId, peer.incarnation)
            this.fallBack(peer)
          }
          if (redialing) return
          if (initiator) return this.retries.later(id, dial)
        }
        // The peer may still be alive (a network blip): say hello again so it can call back.
        this.discovery.announceLater()
      },
    })
    this.links.set(id, link)
    return link
  }
}

/** True for an ICE server with a turn: or turns: URL. */
function isTurnServer(server: RTCIceServer): boolean {
  const urls: unknown = server?.urls
  return (Array.isArray(urls) ? urls : [urls]).some((url) => typeof url === 'string' && /^turns?:/i.test(url))
}
