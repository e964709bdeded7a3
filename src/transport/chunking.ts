/**
 * Frames over data channels. A data channel message has a size limit (16 to 256 KiB,
 * depending on the two browsers), and a frame may be up to `maxFrameBytes`, so a frame
 * travels as one or more messages of at most `chunkBytes` bytes of content, each prefixed
 * by one byte: `LAST` on the frame's final message, `MORE` before it. Reliable ordered
 * channels deliver the messages in order, so joining them is appending.
 */
import { ProtocolError } from '../errors.js'

const MORE = 0
const LAST = 1

/** Splits a frame into data channel messages of at most `chunkBytes` content bytes each. */
export function splitFrame(frame: Uint8Array, chunkBytes: number): Uint8Array[] {
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

  /** Takes one message; returns the frame it completes, if any. Throws `ProtocolError`. */
  push(message: Uint8Array): Uint8Array | undefined {
    const flag = message[0]
    if (message.byteLength === 0 || (flag !== MORE && flag !== LAST)) {
      throw new ProtocolError('data channel message without a chunk flag')
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
