/**
 * Frames over data channels. A data channel message has a size limit (16 to 256 KiB,
 * depending on the two browsers), and a frame may be up to `maxFrameBytes`, so a long frame
 * travels as several messages of at most `chunkBytes` bytes of content, each prefixed by
 * one byte: `MORE` on every part but the last, `LAST` on the last. A frame that fits in one
 * message goes as it is, without a copy, unless its own first byte is a flag, 0 to 3 (frames
 * are msgpack arrays, whose first byte never is; then it goes as a one-part split). The third
 * flag, `READY`, is a message of its own that carries no frame (webrtc-link.ts); the fourth,
 * `BATCH`, starts a message of several whole frames (batching.ts). Reliable ordered channels
 * deliver the messages in order, so joining them is appending.
 */
import { ProtocolError } from '../errors.js'
import { BATCH } from './batching.js'

const MORE = 0
const LAST = 1
/** A message of one byte, no frame: the initiator of a connection says its channel is open. */
export const READY = 2

/** Splits a frame into data channel messages of at most `chunkBytes` content bytes each. */
export function splitFrame(frame: Uint8Array, chunkBytes: number): Uint8Array[] {
  if (frame.byteLength <= chunkBytes && frame.byteLength > 0 && frame[0]! > BATCH) return [frame]
  const messages: Uint8Array[] = []
  let offset = 0
  do {
    const end = Math.min(offset + chunkBytes, frame.byteLength)
    const message = new Uint8Array(1 + end - offset)
    message[0] = end === frame.byteLength ? LAST : MORE
    message.set(frame.subarray(offset, end), 1)
    messages.push(message)
    offset = end
  } while (offset < frame.byteLength)
  return messages
}

/** Joins data channel messages back into frames, refusing any frame over `maxBytes`. */
export class FrameJoiner {
  private parts: Uint8Array[] = []
  private size = 0

  constructor(private readonly maxBytes: number) {}

  /** Checks that `message`, a batch of whole frames (batching.ts), does not come inside a split frame. */
  whole(message: Uint8Array): Uint8Array {
    if (this.parts.length > 0) throw new ProtocolError('a whole frame inside a split one')
    return message
  }

  /** Takes one message; returns the frame it completes, if any. Throws `ProtocolError`. */
  push(message: Uint8Array): Uint8Array | undefined {
    if (message.byteLength === 0) throw new ProtocolError('empty data channel message')
    const flag = message[0]!
    if (flag === READY) throw new ProtocolError('a ready message among frames')
    if (flag > READY) {
      if (this.parts.length > 0) throw new ProtocolError('a whole frame inside a split one')
      if (message.byteLength > this.maxBytes) throw new ProtocolError(`frame larger than the limit of ${this.maxBytes} bytes`)
      return message
    }
    const content = message.subarray(1)
    this.size += content.byteLength
    if (this.size > this.maxBytes) {
      throw new ProtocolError(`frame larger than the limit of ${this.maxBytes} bytes`)
    }
    if (flag === MORE) {
      this.parts.push(content)
      return undefined
    }
    if (this.parts.length === 0) {
      this.size = 0
      return content
    }
    const frame = new Uint8Array(this.size)
    let offset = 0
    for (const part of [...this.parts, content]) {
      frame.set(part, offset)
      offset += part.byteLength
    }
    this.parts = []
    this.size = 0
    return frame
  }
}
