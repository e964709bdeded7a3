/**
 * One identified peer: a node incarnation at the other end of a link (peers.ts keeps the
 * table of them and their handshake). Frames for it go out on the link in use; while that
 * link is gone and another is on its way (its relay went, another offered a tunnel), they
 * are held, in order, and go out on the new link first.
 */
import { MessageTooLargeError } from './errors.js'
import { logger } from './log.js'
import type { Link } from './transport/transport.js'
import { encodeFrame, encodeFrameBorrowed, type Frame } from './wire.js'

/** Most bytes held for a peer while its new link is on its way (a wait of a heartbeat timeout at most); more is dropped. */
const MAX_HELD_BYTES = 16 * 1024 * 1024

const log = logger('peers')

/** One link of the node, as `links()` reports it. */
export interface LinkInfo {
  /** The node at the other end. */
  readonly node: string
  /** The incarnation of that node the link reaches. */
  readonly incarnation: number
  /** True once connected and synced (it is in `nodes()`). */
  readonly up: boolean
  /** Last heartbeat round trip, ms; undefined before the first. */
  readonly rtt: number | undefined
  /** What carries it: 'webrtc', 'broadcast-channel', 'message-port', 'relay:<gateway>', 'memory', or a custom transport's name. */
  readonly via: string
}

/** An identified peer: a node incarnation at the other end of a link. */
export class Peer {
  /** True once connected and synced: its names are visible and it counts in `nodes()`. */
  up = false
  /** Last measured round-trip time in ms (from heartbeats), or undefined before the first. */
  rtt: number | undefined = undefined
  /** When this node last sent it a Ping (performance.now()): see peers.ts `beat`. */
  pingedAt = performance.now()
  /** Frames sent while waiting for a new link; undefined when not waiting. */
  private held: Uint8Array[] | undefined
  private heldBytes = 0

  constructor(
    readonly nodeId: string,
    readonly incarnation: number,
    /** The link frames go out on; see peers.ts `preferred` for when a peer has more than one. */
    public link: Link,
    /** The largest frame the peer accepts, bytes, as its Hello said. */
    readonly maxFrameBytes: number,
  ) {}

  /** True while the link in use is gone and another is on its way. */
  get waiting(): boolean {
    return this.held !== undefined
  }

  /** The largest frame that can go to the peer over the link in use (a tunnel's wrapping takes some). */
  frameLimit(): number {
    return this.link.frameLimit?.(this.maxFrameBytes) ?? this.maxFrameBytes
  }

  /**
   * Encodes and sends a frame; throws `EncodeError` if a payload cannot travel, and its
   * `MessageTooLargeError` if the frame is larger than the peer accepts (then nothing is sent).
   */
  send(frame: Frame): void {
    // Encoded in place, no copy, when the link sends at once (see Link.sendBorrowed).
    const borrow = this.held === undefined && this.link.sendBorrowed !== undefined
    const bytes = borrow ? encodeFrameBorrowed(frame) : encodeFrame(frame)
    const limit = this.frameLimit()
    if (bytes.byteLength > limit) throw new MessageTooLargeError(bytes.byteLength, limit, this.nodeId)
    if (borrow) return this.link.sendBorrowed!(bytes)
    if (this.held === undefined) return this.link.send(bytes)
    if (this.heldBytes + bytes.byteLength > MAX_HELD_BYTES) {
      log('%s: over %d bytes held while its new link is on its way; a frame dropped', this.nodeId, MAX_HELD_BYTES)
      return
    }
    this.held.push(bytes)
    this.heldBytes += bytes.byteLength
  }

  /** The link in use is gone and another is on its way: hold what is sent until it comes. */
  hold(): void {
    this.held ??= []
  }

  /** Sends on `link` from now on, what was held first. */
  resume(link: Link): void {
    this.link = link
    const held = this.held ?? []
    this.held = undefined
    this.heldBytes = 0
    for (const bytes of held) link.send(bytes)
  }
}
