/**
 * One WebRTC connection to one peer incarnation, on the standard `RTCPeerConnection` API:
 * the initiator makes the one data channel and the offer, the other side answers, and the
 * ICE candidates a description does not carry trickle both ways over signaling. The
 * channel (reliable, ordered) carries frames whole, batched or in parts (channel-outbox.ts
 * sends them, chunking.ts joins them).
 *
 * Everything a peer signals is checked before it reaches the connection: a description in
 * the wrong state, a second offer or a malformed candidate is dropped or ends this link,
 * never the process (libdatachannel aborts on some out-of-order calls). Steps run one after
 * another, and candidates wait for their description. A link that fails before opening
 * tells the peer (`abort`), so both sides can start over at once instead of timing out.
 *
 * The initiator speaks first: its first message is `READY` (chunking.ts), and the answerer
 * counts its channel open only once a message has come. libdatachannel as the initiator can
 * lose what arrives just as its channel opens (a Chromium answerer that sent at once on
 * 'datachannel' lost its first messages to a node-datachannel 0.33 initiator in about 1 of
 * 200 connections under load; node-datachannel issue #25); once the initiator has sent, its
 * channel is open all the way up, and nothing the answerer sends arrives too early.
 *
 * Lifecycle: `connecting` until the channel is open (the answerer's: and has heard from the
 * initiator; then the transport reports the link), or until `connectTimeout` gives up;
 * `closed` exactly once, whoever ends it.
 */
import { describeReason } from '../errors.js'
import { logger } from '../log.js'
import { BATCH, splitBatch } from './batching.js'
import { ChannelOutbox, LOW_WATER } from './channel-outbox.js'
import { FrameJoiner, READY } from './chunking.js'
import type { PeerConnectionClass } from './peer-connection.js'
import type { CloseReason, Link, Route } from './transport.js'
import { asDtlsClientOffer, CONNECT_TIMEOUT, CONNECTION_FAILED, peerGaveUp, type WebrtcSignal } from './webrtc-signal.js'

/** Settings of one connection. */
export interface WebrtcLinkOptions {
  readonly initiator: boolean
  readonly peerConnection: PeerConnectionClass
  readonly iceServers: readonly RTCIceServer[]
  readonly iceTransportPolicy: 'all' | 'relay'
  readonly maxFrameBytes: number
  readonly chunkBytes: number
  readonly connectTimeout: number
}

/** What a connection reports to its transport. */
export interface WebrtcLinkHooks {
  /** Negotiation data for the peer, to publish over signaling. */
  signal(data: WebrtcSignal): void
  /** The data channel is open: the link can carry frames. */
  opened(link: WebrtcLink): void
  frame(link: WebrtcLink, frame: Uint8Array): void
  /** A piece of a longer frame arrived. */
  active(link: WebrtcLink): void
  /** The connection ended; `wasOpen` tells whether `opened` had been reported. */
  closed(link: WebrtcLink, reason: CloseReason, wasOpen: boolean): void
}

const log = logger('webrtc')

/** Content bytes per message where the connection does not say what it takes: 64 KiB messages go everywhere. */
const FALLBACK_CHUNK_BYTES = 64 * 1024 - 1
/** Messages kept from before the link opened (a Hello, a sync, heartbeats). */
const MAX_EARLY_MESSAGES = 256
/** Candidates kept while their description is still to come (a host has a handful). */
const MAX_EARLY_CANDIDATES = 64
const CHANNEL_LABEL = 'distribunator'
const WEBRTC_ROUTE: Route = Object.freeze({ kind: 'direct', transport: 'webrtc' })

/** A connection to one peer; a transport `Link` once open. */
export class WebrtcLink implements Link {
  readonly route: Route = WEBRTC_ROUTE
  private readonly pc: RTCPeerConnection
  private channel: RTCDataChannel | undefined
  private readonly joiner: FrameJoiner
  /** Sends on the channel once the link is open. */
  private outbox: ChannelOutbox | undefined
  private state: 'connecting' | 'open' | 'closed' = 'connecting'
  /** The channel's own 'open' came. */
  private channelOpen = false
  /** A message came from the peer: for the answerer, the initiator's channel is open. */
  private peerSpoke = false
  /** Negotiation steps, one after another: a candidate must follow its description. */
  private steps: Promise<void> = Promise.resolve()
  /** True once the peer's description is set (or being set): later ones are dropped. */
  private described = false
  /**
   * Messages that came before the link opened: node-datachannel hands 'open' and 'message'
   * to JavaScript on separate queues, so the peer's Hello can come before our channel's
   * 'open'. Delivered right after `opened`. This and the next two are made when first
   * needed: most links never use them, and a mesh holds a link per peer.
   */
  private early: Uint8Array[] | undefined
  /** The peer's candidates that came before its description. */
  private earlyCandidates: RTCIceCandidateInit[] | undefined
  /** Our candidates gathered before our description went out: see `localCandidate`. */
  private unsentCandidates: RTCIceCandidateInit[] | undefined = []
  /** The candidates our description carried, until the link opens: see `localCandidate`. */
  private describedCandidates: ReadonlySet<string> | undefined
  private connectTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly remoteNodeId: string,
    /** Which negotiation with this peer this is (the initiator counts them). */
    readonly attempt: number,
    private readonly options: WebrtcLinkOptions,
    private readonly hooks: WebrtcLinkHooks,
  ) {
    this.joiner = new FrameJoiner(options.maxFrameBytes)
    const pc = new options.peerConnection({ iceServers: [...options.iceServers], iceTransportPolicy: options.iceTransportPolicy })
    this.pc = pc
    pc.onicecandidate = ({ candidate }) => {
      if (candidate !== null && candidate.candidate !== '' && this.state !== 'closed') this.localCandidate(candidate.toJSON())
    }
    pc.onconnectionstatechange = () => {
      // 'disconnected' may heal by itself; heartbeats decide whether the peer is gone.
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
        this.end(pc.connectionState === 'failed' ? CONNECTION_FAILED : 'connection closed')
    }
    if (options.initiator) {
      this.attach(pc.createDataChannel(CHANNEL_LABEL, { ordered: true }))
      this.step(async () => {
        const offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        this.signalDescription('offer', offer)
      })
    } else {
      pc.ondatachannel = ({ channel }) => {
        if (this.channel === undefined) this.attach(channel)
        else channel.close()
      }
    }
    // Last: a constructor that threw above leaves no timer behind.
    this.connectTimer = setTimeout(() => this.fail(CONNECT_TIMEOUT), options.connectTimeout)
  }

  /** Feeds negotiation data from the peer (already checked by `parseSignal`). */
  signal(signal: WebrtcSignal): void {
    if (this.state === 'closed') return
    switch (signal.type) {
      case 'abort':
        this.end(peerGaveUp(signal.reason))
        return
      case 'candidate':
        if (this.described) this.step(() => this.addCandidate(signal.candidate))
        else if ((this.earlyCandidates ??= []).length < MAX_EARLY_CANDIDATES) this.earlyCandidates.push(signal.candidate)
        else this.fail('too many candidates before a description')
        return
      case 'offer':
      case 'answer':
        // One offer to the answerer, one answer to the initiator; anything else is a copy
        // or stale (this link never renegotiates).
        if (this.described || (signal.type === 'offer') === this.options.initiator) {
          log('%s: %s dropped', this.remoteNodeId, signal.type)
          return
        }
        this.described = true
        this.step(async () => {
          await this.pc.setRemoteDescription({ type: signal.type, sdp: signal.sdp })
          const candidates = this.earlyCandidates ?? []
          this.earlyCandidates = undefined
          for (const candidate of candidates) await this.addCandidate(candidate)
          if (signal.type === 'offer') {
            const answer = await this.pc.createAnswer()
            await this.pc.setLocalDescription(answer)
            this.signalDescription('answer', answer)
          }
        })
    }
  }

  send(frame: Uint8Array): void {
    this.sendFrame(frame, false)
  }

  /** The channel copies what it sends; only a frame that must wait for the buffer is copied here. */
  sendBorrowed(frame: Uint8Array): void {
    this.sendFrame(frame, true)
  }

  private sendFrame(frame: Uint8Array, borrowed: boolean): void {
    if (this.state === 'open') this.outbox!.send(frame, borrowed)
  }

  close(reason: CloseReason = 'closed'): void {
    this.end(reason)
  }

  /** Ends the connection without reporting it (the transport is shutting down). */
  discard(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.teardown()
  }

  /** Adds a peer's candidate; one the stack refuses is skipped (the others may still connect). */
  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate)
    } catch (error) {
      log('%s: candidate skipped: %s', this.remoteNodeId, describeReason(error))
    }
  }

  /** Runs a negotiation step after the ones before it; a failing step ends the link. */
  private step(run: () => Promise<void>): void {
    this.steps = this.steps.then(async () => {
      if (this.state === 'closed') return
      try {
        await run()
      } catch (error) {
        this.fail(`negotiation failed: ${describeReason(error)}`)
      }
    })
  }

  private signalDescription(type: 'offer' | 'answer', made: RTCSessionDescriptionInit): void {
    const sdp = this.pc.localDescription?.sdp ?? made.sdp
    if (this.state === 'closed' || typeof sdp !== 'string') return
    this.hooks.signal({ type, sdp: type === 'offer' ? asDtlsClientOffer(sdp) : sdp })
    this.describedCandidates = candidatesIn(sdp)
    const unsent = this.unsentCandidates ?? []
    this.unsentCandidates = undefined
    for (const candidate of unsent) this.localCandidate(candidate)
  }

  /**
   * Trickles one of our candidates, after our description and unless the description
   * already carries it. A description read once the candidates are gathered carries them
   * all (libdatachannel gathers host candidates before `setLocalDescription` resolves, and
   * still reports each one after it), so in Node a pair's negotiation takes one signaling
   * message each way instead of three. A browser's description is read before its
   * candidates come, and they trickle as usual.
   */
  private localCandidate(candidate: RTCIceCandidateInit): void {
    if (this.unsentCandidates !== undefined) {
      if (this.unsentCandidates.length < MAX_EARLY_CANDIDATES) this.unsentCandidates.push(candidate)
    } else if (this.describedCandidates?.has(candidateLine(candidate.candidate ?? '')) !== true) {
      this.hooks.signal({ type: 'candidate', candidate })
    }
  }

  private attach(channel: RTCDataChannel): void {
    this.channel = channel
    channel.binaryType = 'arraybuffer'
    channel.bufferedAmountLowThreshold = LOW_WATER
    channel.onopen = () => this.channelOpened()
    channel.onclose = () => this.end('channel closed')
    channel.onerror = (event) => this.end(`channel error: ${(event as RTCErrorEvent).error?.message ?? 'unknown'}`)
    channel.onmessage = ({ data }: MessageEvent) => this.receive(data)
    if (channel.readyState === 'open') this.channelOpened()
  }

  private channelOpened(): void {
    this.channelOpen = true
    if (this.options.initiator || this.peerSpoke) this.open()
  }

  private open(): void {
    if (this.state !== 'connecting') return
    clearTimeout(this.connectTimer)
    // Not kept for the link's life: a cleared Timeout is still an object.
    this.connectTimer = undefined
    this.state = 'open'
    // The largest message both ends take, known once connected (one flag byte each).
    const agreed = this.pc.sctp?.maxMessageSize
    const chunkBytes =
      agreed !== undefined && Number.isFinite(agreed) && agreed > 1
        ? Math.min(this.options.chunkBytes, agreed - 1)
        : Math.min(this.options.chunkBytes, FALLBACK_CHUNK_BYTES)
    this.outbox = new ChannelOutbox(this.channel!, chunkBytes, (reason) => this.end(reason))
    releaseCandidates(this.pc)
    this.describedCandidates = undefined
    // Before anything of the user's: the answerer waits for it.
    if (this.options.initiator) this.outbox.sendMessage(READY_MESSAGE, false)
    if (this.state !== 'open') return
    this.hooks.opened(this)
    const early = this.early ?? []
    this.early = undefined
    for (const message of early) this.receive(message)
  }

  private receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer || data instanceof Uint8Array)) {
      this.end('a text message on the data channel')
      return
    }
    const message = data instanceof Uint8Array ? data : new Uint8Array(data)
    if (this.state === 'connecting') {
      // The initiator's go-ahead is not a frame; any first message shows its channel is open.
      const goAhead = !this.options.initiator && !this.peerSpoke && message.byteLength === 1 && message[0] === READY
      this.peerSpoke = true
      // A peer cannot have sent much before our side opened: a full queue means it is not a peer.
      if ((this.early ??= []).length >= MAX_EARLY_MESSAGES) return this.end('too many messages before open')
      if (!goAhead) this.early.push(message)
      if (this.channelOpen) this.open()
      return
    }
    if (this.state !== 'open') return
    let frames: Uint8Array | readonly Uint8Array[] | undefined
    try {
      frames = message[0] === BATCH ? splitBatch(this.joiner.whole(message), this.options.maxFrameBytes) : this.joiner.push(message)
    } catch (error) {
      log('%s: %s', this.remoteNodeId, (error as Error).message)
      this.end((error as Error).message)
      return
    }
    if (frames === undefined) this.hooks.active(this)
    else if (frames instanceof Uint8Array) this.hooks.frame(this, frames)
    // A frame's handler may end the link: the rest of the batch is dropped with it.
    else for (const frame of frames) if (this.state === 'open') this.hooks.frame(this, frame)
  }

  /** Ends a link that went wrong on our side, telling the peer to drop its half too. */
  private fail(reason: CloseReason): void {
    if (this.state === 'closed') return
    if (this.state === 'connecting') this.hooks.signal({ type: 'abort', reason })
    this.end(reason)
  }

  private end(reason: CloseReason): void {
    if (this.state === 'closed') return
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.teardown()
    log('%s: closed (%s)', this.remoteNodeId, reason)
    this.hooks.closed(this, reason, wasOpen)
  }

  private teardown(): void {
    // What this task still had to send goes before the channel closes (a Bye on stop).
    this.outbox?.close(this.channel?.readyState === 'open')
    clearTimeout(this.connectTimer)
    this.connectTimer = undefined
    this.early = undefined
    this.earlyCandidates = this.unsentCandidates = this.describedCandidates = undefined
    const { pc, channel } = this
    pc.onicecandidate = pc.onconnectionstatechange = pc.ondatachannel = null
    const closeConnection = (): void => {
      try {
        pc.close()
      } catch {
        /* already closed */
      }
    }
    if (channel === undefined || channel.readyState !== 'open') {
      if (channel !== undefined) channel.onopen = channel.onclose = channel.onerror = channel.onmessage = channel.onbufferedamountlow = null
      closeConnection()
      return
    }
    // The channel's close sends what is already queued first (a Bye on stop); closing the
    // connection at once would drop it. So the connection closes once the channel has, or
    // after CHANNEL_CLOSE_WAIT if that never comes.
    channel.onopen = channel.onerror = channel.onmessage = channel.onbufferedamountlow = null
    const timer = setTimeout(closeConnection, CHANNEL_CLOSE_WAIT)
    channel.onclose = () => {
      clearTimeout(timer)
      closeConnection()
    }
    try {
      channel.close()
    } catch {
      clearTimeout(timer)
      closeConnection()
    }
  }
}

/**
 * Empties the lists of candidates node-datachannel's polyfill keeps for the life of a
 * connection (its `ext_localCandidates` and `ext_remoteCandidates`, read by nothing else):
 * each candidate is an object with 16 private fields held in WeakMaps. Emptied once the link
 * is open, a connected peer costs 1.1 KiB less JS heap in Node (18.4 -> 17.3 KiB, heap
 * snapshots, 2026-12). Nothing of ours reads them; a browser's connection has no such lists.
 */
function releaseCandidates(pc: RTCPeerConnection): void {
  const polyfill = pc as { readonly ext_localCandidates?: unknown; readonly ext_remoteCandidates?: unknown }
  for (const list of [polyfill.ext_localCandidates, polyfill.ext_remoteCandidates]) if (Array.isArray(list)) list.length = 0
}

/** The candidate lines of a description, as `candidateLine` writes them. */
function candidatesIn(sdp: string): ReadonlySet<string> {
  const lines = new Set<string>()
  for (const line of sdp.split(/\r?\n/)) if (line.startsWith('a=candidate:')) lines.add(candidateLine(line))
  return lines
}

/** A candidate without the `a=` that libdatachannel's events keep and browsers' drop. */
function candidateLine(candidate: string): string {
  return (candidate.startsWith('a=') ? candidate.slice(2) : candidate).trim()
}

/** ms a closed link's connection waits for its channel to finish closing. */
const CHANNEL_CLOSE_WAIT = 1000

const READY_MESSAGE = Uint8Array.of(READY)
