/**
 * What a WebRTC link sends on its data channel: each frame whole (the ones after a task's
 * first packed into batches, batching.ts) or in parts (chunking.ts), and a queue where
 * messages wait while the channel's buffer is full, so a burst never overfills it.
 */
import { BATCH, Batcher } from './batching.js'
import { splitFrame } from './chunking.js'
import { Spill } from './spill.js'

/** Sends wait in our queue while the channel holds more than this... */
const HIGH_WATER = 1024 * 1024
/** ...until it has sent down to this. */
export const LOW_WATER = 256 * 1024

/** The sending side of one open data channel. */
export class ChannelOutbox {
  /** Content bytes per message (one flag byte more may lead it). */
  private chunkBytes: number
  private readonly batcher = new Batcher((message, borrowed) => this.sendMessage(message, borrowed))
  /** Messages waiting for the channel's buffer to drain, from `queued` on. */
  private queue: Uint8Array[] | undefined
  private queued = 0
  /** Where borrowed messages wait in the queue. */
  private readonly spill = new Spill()
  /** A send failed or the link ended: nothing more goes. */
  private closed = false

  /** `failed` is told once a send throws; `channel` carries messages of at most `chunkBytes` + 1 bytes. */
  constructor(
    private readonly channel: RTCDataChannel,
    chunkBytes: number,
    private readonly failed: (reason: string) => void,
  ) {
    this.chunkBytes = chunkBytes
    this.batcher.limit = Math.min(this.batcher.limit, chunkBytes + 1)
  }

  /** Sends a frame; `borrowed` if its bytes will be overwritten once this returns. */
  send(frame: Uint8Array, borrowed: boolean): void {
    if (frame.byteLength <= this.chunkBytes && frame.byteLength > 0 && frame[0]! > BATCH) return this.batcher.add(frame, borrowed)
    this.batcher.flush()
    // Parts are copies: not borrowed.
    for (const message of splitFrame(frame, this.chunkBytes)) this.sendMessage(message, false)
  }

  /** Sends one message of its own (chunking.ts's READY), before any frame. */
  sendMessage(message: Uint8Array, borrowed: boolean): void {
    // A failed send ended the link: the rest of a frame must not follow.
    if (this.closed) return
    if (this.queue === undefined && this.channel.bufferedAmount <= HIGH_WATER) this.transmit(message)
    else {
      // Listened to only while something waits: no event to dispatch on every send.
      if (this.queue === undefined) this.channel.onbufferedamountlow = () => this.drain()
      this.queue ??= []
      this.queue.push(borrowed ? this.spill.copy(message) : message)
    }
  }

  /**
   * Stops sending. With `flush`, what this task still had to send goes first (a Bye on stop,
   * before the channel closes), unless earlier sends still wait: those are dropped anyway.
   */
  close(flush: boolean): void {
    if (this.closed) return
    if (flush && this.queue === undefined) this.batcher.flush((message) => this.transmit(message))
    this.closed = true
    this.batcher.clear()
    this.queue = undefined
    this.queued = 0
    this.spill.release()
    this.channel.onbufferedamountlow = null
  }

  /** Sends queued messages while the channel's buffer has room. */
  private drain(): void {
    const queue = this.queue
    if (queue === undefined) return
    while (!this.closed && this.queued < queue.length && this.channel.bufferedAmount <= HIGH_WATER) {
      const message = queue[this.queued]!
      queue[this.queued++] = EMPTY
      this.transmit(message)
    }
    if (this.closed) return
    if (this.queued === queue.length) {
      this.queue = undefined
      this.queued = 0
      this.spill.release()
      this.channel.onbufferedamountlow = null
    } else if (this.queued > 1024 && this.queued * 2 > queue.length) {
      // A link that stays backlogged: drop the slots already sent.
      queue.splice(0, this.queued)
      this.queued = 0
    }
  }

  private transmit(message: Uint8Array): void {
    try {
      this.channel.send(message as Uint8Array<ArrayBuffer>)
    } catch (error) {
      if (this.closed) return
      this.close(false)
      this.failed(`send failed: ${(error as Error).message}`)
    }
  }
}

const EMPTY = new Uint8Array(0)
