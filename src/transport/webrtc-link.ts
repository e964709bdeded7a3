/**
 * One WebRTC connection to one peer incarnation: negotiation through simple-peer (offer,
 * answer and trickled ICE candidates travel over signaling), then one reliable ordered data
 * channel carrying chunked frames (chunking.ts) with the channel's backpressure.
 *
 * Lifecycle: `connecting` until the channel opens (then the transport reports the link), or
 * until `connectTimeout` gives up; `closed` exactly once, whoever ends it.
 */
import SimplePeer from '@thaunknown/simple-peer/lite.js'
import { logger } from '../log.js'
import { FrameJoiner, splitFrame } from './chunking.js'
import type { Link } from './transport.js'

/** Settings of one connection. */
export interface WebrtcLinkOptions {
  readonly initiator: boolean
  readonly iceServers: readonly RTCIceServer[]
  readonly iceTransportPolicy: 'all' | 'relay'
  readonly maxFrameBytes: number
  readonly chunkBytes: number
  readonly connectTimeout: number
}

/** What a connection reports to its transport. */
export interface WebrtcLinkEvents {
  /** Negotiation data for the peer, to publish over signaling. */
  signal(data: unknown): void
  /** The data channel is open: the link can carry frames. */
  opened(link: WebrtcLink): void
  frame(link: WebrtcLink, frame: Uint8Array): void
  /** A piece of a longer frame arrived. */
  active(link: WebrtcLink): void
  /** The connection ended; `wasOpen` tells whether `opened` had been reported. */
  closed(link: WebrtcLink, reason: string, wasOpen: boolean): void
}

const log = logger('webrtc')

/** Messages kept from before our side connected (a Hello, a sync, a few heartbeats). */
const MAX_EARLY_MESSAGES = 256

/** A connection to one peer; a transport `Link` once open. */
export class WebrtcLink implements Link {
  readonly via = 'webrtc'
  private readonly peer: SimplePeer
  private readonly joiner: FrameJoiner
  private state: 'connecting' | 'open' | 'closed' = 'connecting'
  /**
   * Messages that came before our 'connect': the peer's channel can open, and its Hello
   * arrive, before our side has seen ICE connect. Delivered right after `opened`.
   */
  private early: Uint8Array[] = []
  private connectTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly remoteNodeId: string,
    private readonly options: WebrtcLinkOptions,
    private readonly events: WebrtcLinkEvents,
  ) {
    this.joiner = new FrameJoiner(options.maxFrameBytes)
    this.peer = new SimplePeer({
      initiator: options.initiator,
      trickle: true,
      config: { iceServers: [...options.iceServers], iceTransportPolicy: options.iceTransportPolicy },
    })
    this.peer.on('signal', (data) => this.events.signal(data))
    this.peer.on('connect', () => this.open())
    this.peer.on('data', (message) => this.receive(message))
    this.peer.on('close', () => this.end('closed'))
    this.peer.on('error', (error) => this.end(`error: ${error.code ?? error.message}`))
    this.connectTimer = setTimeout(() => this.end('connect timeout'), options.connectTimeout)
  }

  /** True until the connection has ended. */
  get alive(): boolean {
    return this.state !== 'closed'
  }

  /** Feeds negotiation data from the peer. */
  signal(data: unknown): void {
    if (this.state === 'closed') return
    try {
      this.peer.signal(data)
    } catch (error) {
      this.end(`bad signal: ${(error as Error).message}`)
    }
  }

  send(frame: Uint8Array): void {
    if (this.state !== 'open') return
    for (const message of splitFrame(frame, this.options.chunkBytes)) this.peer.write(message)
  }

  close(reason = 'closed'): void {
    this.end(reason)
  }

  /** Ends the connection without reporting it (the transport is shutting down). */
  discard(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.teardown()
  }

  private open(): void {
    if (this.state !== 'connecting') return
    clearTimeout(this.connectTimer)
    this.state = 'open'
    this.events.opened(this)
    const early = this.early
    this.early = []
    for (const message of early) this.receive(message)
  }

  private receive(message: Uint8Array): void {
    if (this.state === 'connecting') {
      // A peer cannot have sent much before our connect: a full queue means it is not a peer.
      if (this.early.length >= MAX_EARLY_MESSAGES) this.end('too many messages before connect')
      else this.early.push(message)
      return
    }
    if (this.state !== 'open') return
    let frame: Uint8Array | undefined
    try {
      frame = this.joiner.push(message)
    } catch (error) {
      log('%s: %s', this.remoteNodeId, (error as Error).message)
      this.end((error as Error).message)
      return
    }
    if (frame !== undefined) this.events.frame(this, frame)
    else this.events.active(this)
  }

  private end(reason: string): void {
    if (this.state === 'closed') return
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.teardown()
    log('%s: closed (%s)', this.remoteNodeId, reason)
    this.events.closed(this, reason, wasOpen)
  }

  private teardown(): void {
    clearTimeout(this.connectTimer)
    this.peer.removeAllListeners()
    // simple-peer may still emit 'error' while tearing down; with no listener it would throw.
    this.peer.on('error', () => undefined)
    this.peer.destroy()
  }
}
