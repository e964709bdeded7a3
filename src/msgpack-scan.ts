/**
 * A structural check of MessagePack bytes that builds nothing, run before decoding bytes
 * from a peer. `@msgpack/msgpack` preallocates an array of the length a header claims, so
 * three bytes can ask for half a megabyte and a few kilobytes of stacked headers can exhaust
 * memory; the decoder also has no depth limit. This walk refuses truncated data, trailing
 * bytes, unknown type bytes, extensions not in the given table or not of their shape,
 * nesting deeper than `maxDepth`, and containers announcing more items than bytes remain.
 */

import { DecodeError } from './errors.js'

/** What an extension's content must be: raw timestamp bytes, an array, or a string. */
export type ExtensionShape = 'timestamp' | 'array' | 'string'

/** Throws `DecodeError` unless `bytes` is exactly one well-formed value. */
export function scanMsgpack(bytes: Uint8Array, maxDepth: number, extensions: ReadonlyMap<number, ExtensionShape>): void {
  new Scanner(bytes, maxDepth, extensions).all()
}

const isArrayHead = (b: number): boolean => (b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd
const isStrHead = (b: number): boolean => (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)

/**
 * Walks msgpack bytes without building values. `pending` counts items announced by open
 * containers and not yet started; each needs at least one byte, so it may never exceed the
 * bytes left, which bounds what the decoder preallocates by the frame's size.
 */
class Scanner {
  private pos = 0
  private pending = 0
  private readonly view: DataView

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
    private readonly extensions: ReadonlyMap<number, ExtensionShape>,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  all(): void {
    this.value(this.bytes.byteLength, 0)
    if (this.pos !== this.bytes.byteLength) throw new DecodeError(`${this.bytes.byteLength - this.pos} trailing bytes`)
  }

  private value(end: number, depth: number): void {
    const head = this.uint(1, end)
    if (head <= 0x7f || head >= 0xe0 || head === 0xc0 || head === 0xc2 || head === 0xc3) return
    if (head <= 0x8f) return this.items(2 * (head - 0x80), end, depth)
    if (head <= 0x9f) return this.items(head - 0x90, end, depth)
    if (head <= 0xbf) return this.skip(head - 0xa0, end)
    switch (head) {
      case 0xcc:
      case 0xd0:
        return this.skip(1, end)
      case 0xcd:
      case 0xd1:
        return this.skip(2, end)
      case 0xca:
      case 0xce:
      case 0xd2:
        return this.skip(4, end)
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return this.skip(8, end)
      case 0xc4:
      case 0xd9:
        return this.skip(this.uint(1, end), end)
      case 0xc5:
      case 0xda:
        return this.skip(this.uint(2, end), end)
      case 0xc6:
      case 0xdb:
        return this.skip(this.uint(4, end), end)
      case 0xdc:
        return this.items(this.uint(2, end), end, depth)
      case 0xdd:
        return this.items(this.uint(4, end), end, depth)
      case 0xde:
        return this.items(2 * this.uint(2, end), end, depth)
      case 0xdf:
        return this.items(2 * this.uint(4, end), end, depth)
      case 0xd4:
        return this.ext(1, end, depth)
      case 0xd5:
        return this.ext(2, end, depth)
      case 0xd6:
        return this.ext(4, end, depth)
      case 0xd7:
        return this.ext(8, end, depth)
      case 0xd8:
        return this.ext(16, end, depth)
      case 0xc7:
        return this.ext(this.uint(1, end), end, depth)
      case 0xc8:
        return this.ext(this.uint(2, end), end, depth)
      case 0xc9:
        return this.ext(this.uint(4, end), end, depth)
      default:
        throw new DecodeError(`unknown type byte 0x${head.toString(16)}`)
    }
  }

  private items(count: number, end: number, depth: number): void {
    if (depth >= this.maxDepth) throw new DecodeError(`nested deeper than ${this.maxDepth} levels`)
    this.pending += count
    if (count > end - this.pos || this.pending > this.bytes.byteLength - this.pos) {
      throw new DecodeError(`container of ${count} items in ${end - this.pos} bytes`)
    }
    for (let i = 0; i < count; i++) {
      this.pending--
      this.value(end, depth + 1)
    }
  }

  /** An extension's content is one value of its own (a timestamp's is raw bytes). */
  private ext(size: number, end: number, depth: number): void {
    this.need(1 + size, end)
    const type = this.view.getInt8(this.pos)
    const contentEnd = ++this.pos + size
    const shape = this.extensions.get(type)
    if (shape === undefined) throw new DecodeError(`unknown extension type ${type}`)
    if (shape === 'timestamp') {
      if (size !== 4 && size !== 8 && size !== 12) throw new DecodeError(`timestamp of ${size} bytes`)
      this.pos = contentEnd
      return
    }
    // An array (or string) inside keeps chains of extensions in extensions within maxDepth.
    const shaped = shape === 'array' ? isArrayHead : isStrHead
    if (size === 0 || !shaped(this.view.getUint8(this.pos))) throw new DecodeError(`malformed extension ${type}`)
    this.value(contentEnd, depth)
    if (this.pos !== contentEnd) throw new DecodeError(`extension ${type} has trailing bytes`)
  }

  private need(n: number, end: number): void {
    if (n > end - this.pos) throw new DecodeError('truncated')
  }

  private skip(n: number, end: number): void {
    this.need(n, end)
    this.pos += n
  }

  private uint(n: 1 | 2 | 4, end: number): number {
    this.need(n, end)
    const v = n === 1 ? this.view.getUint8(this.pos) : n === 2 ? this.view.getUint16(this.pos) : this.view.getUint32(this.pos)
    this.pos += n
    return v
  }
}
