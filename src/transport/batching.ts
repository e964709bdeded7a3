/**
 * The frames one task sends over a link, in one message. A message costs a browser far
 * more than its bytes (Chromium: tens of µs to send or post one and to dispatch it at the
 * other end, see bench/RESULTS.md), and a task often sends several frames to one peer: a
 * stream of casts, a registry sync and what follows it, replies to a burst of calls. So the
 * first frame a task sends on a link goes at once, as it always did (a lone call waits for
 * nothing), and the ones after it in the same task are packed into a batch that goes as one
 * message once the task's microtasks run, or as soon as it is full.
 *
 * A batch is the byte `BATCH`, then for each frame its length (unsigned LEB128) and its
 * bytes. A message that is a frame never starts with `BATCH` (frames are msgpack arrays; a
 * frame that would anyway goes as a split one over WebRTC, chunking.ts, and as a batch of one
 * over the other links, `addUnflagged`), so a receiver tells the two apart by the first byte.
 * Both ends of a link speak protocol 6 or later (wire.ts), so both know batches.
 */
import { ProtocolError } from '../errors.js'

/** The first byte of a batch (chunking.ts's flags are 0 to 2). */
export const BATCH = 3
/** Bytes of a batch at most: enough to spread one message's cost over a dozen 1 KiB frames. */
export const BATCH_BYTES = 16 * 1024
/** Free batch buffers kept for reuse across all links, at most (256 KiB). */
const MAX_FREE_BUFFERS = 16

const free: Uint8Array[] = []

/**
 * Settled, so `then` on it runs its callback once the task's microtasks run: how a batcher
 * learns its task ended. Not `queueMicrotask`, a browser binding that costs Chromium ~1.4 µs
 * a call against ~0.1 µs for a `then` (bench/RESULTS.md), paid by every call's frame.
 */
const settled = Promise.resolve()

/** Sends a link's frames, batching all but the first of each task. */
export class Batcher {
  /** Bytes a batch may fill: `BATCH_BYTES`, or a smaller message limit of the link's. */
  limit = BATCH_BYTES
  /** A frame went in this task: later ones are batched until `endTask` runs. */
  private taskStarted = false
  private buffer: Uint8Array | undefined
  private used = 0
  /** Frames in the buffer. */
  private count = 0
  /** Where the first frame's bytes start: a batch of one is sent as that frame. */
  private firstStart = 0
  private readonly endTask = (): void => {
    this.taskStarted = false
    this.flush()
  }

  /** `send` takes a message to go now; `borrowed` if its bytes will be overwritten after it returns. */
  constructor(private readonly send: (message: Uint8Array, borrowed: boolean) => void) {}

  /**
   * Sends `frame` now, or with the task's other frames. A frame over half a batch goes alone,
   * after the batch before it. `frame` may go as one message, and is not empty nor starts
   * with `BATCH` (`batchOf` carries such a frame).
   */
  add(frame: Uint8Array, borrowed: boolean): void {
    if (!this.taskStarted) {
      this.taskStarted = true
      void settled.then(this.endTask)
      this.send(frame, borrowed)
      return
    }
    const size = varintBytes(frame.byteLength) + frame.byteLength
    if (this.used + size > this.limit) this.flush()
    // A frame that would fill most of a batch gains nothing from one: it goes as it is.
    if (2 * size > this.limit) {
      this.flush()
      return this.send(frame, borrowed)
    }
    if (this.buffer === undefined) {
      this.buffer = free.pop() ?? new Uint8Array(BATCH_BYTES)
      this.buffer[0] = BATCH
      this.used = 1
    }
    this.used = writeVarint(this.buffer, this.used, frame.byteLength)
    if (this.count === 0) this.firstStart = this.used
    this.buffer.set(frame, this.used)
    this.used += frame.byteLength
    this.count++
  }

  /**
   * `add` for links whose messages carry no flag but this one (a BroadcastChannel, a
   * MessagePort): an empty frame goes as it is, one that starts with `BATCH` as a batch of one.
   */
  addUnflagged(frame: Uint8Array, borrowed: boolean): void {
    if (frame.byteLength > 0 && frame[0] !== BATCH) return this.add(frame, borrowed)
    this.flush()
    this.send(frame.byteLength === 0 ? new Uint8Array(0) : batchOf(frame), false)
  }

  /** Sends the batch so far (with `send`, else the link's); one frame alone goes as itself. */
  flush(send = this.send): void {
    const { buffer, used, count, firstStart } = this
    if (buffer === undefined) return
    // Emptied first: `send` may end the link, which clears this batcher.
    this.reset()
    send(count === 1 ? buffer.subarray(firstStart, used) : buffer.subarray(0, used), true)
    // Sent, or copied into the link's queue: the buffer is free again.
    if (free.length < MAX_FREE_BUFFERS) free.push(buffer)
  }

  /** Drops the batch (the link ended). */
  clear(): void {
    if (this.buffer !== undefined && free.length < MAX_FREE_BUFFERS) free.push(this.buffer)
    this.reset()
  }

  private reset(): void {
    this.buffer = undefined
    this.used = 0
    this.count = 0
  }
}

/** What a message of a link without other flags carries: itself, a frame, or the frames of the batch it is (`splitBatch`). */
export function unbatch(message: Uint8Array): Uint8Array | Uint8Array[] {
  return message[0] === BATCH ? splitBatch(message, Number.POSITIVE_INFINITY) : message
}

/**
 * The frames of a batch, as views of it. Throws `ProtocolError` for a batch that holds no
 * frame, an empty frame, a length past the end or one over `maxFrameBytes`.
 */
export function splitBatch(message: Uint8Array, maxFrameBytes: number): Uint8Array[] {
  const frames: Uint8Array[] = []
  let offset = 1
  while (offset < message.byteLength) {
    let length = 0
    let shift = 0
    let byte: number
    do {
      if (offset >= message.byteLength || shift > 28) throw new ProtocolError('a batch with a malformed frame length')
      byte = message[offset++]!
      length += (byte & 0x7f) * 2 ** shift
      shift += 7
    } while (byte & 0x80)
    if (length === 0) throw new ProtocolError('an empty frame in a batch')
    if (length > maxFrameBytes) throw new ProtocolError(`frame larger than the limit of ${maxFrameBytes} bytes`)
    if (offset + length > message.byteLength) throw new ProtocolError('a batch shorter than its frames')
    frames.push(message.subarray(offset, offset + length))
    offset += length
  }
  if (frames.length === 0) throw new ProtocolError('a batch of no frames')
  return frames
}

/** A batch of `frame` alone: how a frame that starts with `BATCH` goes where flags are not escaped otherwise. */
export function batchOf(frame: Uint8Array): Uint8Array {
  const message = new Uint8Array(1 + varintBytes(frame.byteLength) + frame.byteLength)
  message[0] = BATCH
  message.set(frame, writeVarint(message, 1, frame.byteLength))
  return message
}

function varintBytes(value: number): number {
  let bytes = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    bytes++
  }
  return bytes
}

/** Writes `value` at `offset`; returns the offset after it. */
function writeVarint(buffer: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buffer[offset++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  buffer[offset++] = value
  return offset
}
