/**
 * Values to bytes and back: MessagePack (`@msgpack/msgpack`) with extension types for what
 * JSON loses. Payloads keep `Uint8Array` (msgpack bin), `Date` (msgpack timestamp), and
 * through the extensions below `Map`, `Set`, `BigInt`, `Error` and `Pid`. `undefined`
 * becomes `null` (msgpack has no undefined). Functions, symbols and cycles cannot travel:
 * encoding them throws `EncodeError`.
 *
 * The extension codec belongs to this module's encoder and decoder only; nothing is
 * registered globally, so an app's own msgpack use is unaffected.
 */
import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack'
import { EncodeError } from './errors.js'
import { Pid, isIncarnation } from './pid.js'

/** Extension type codes (0..127 are application types in msgpack). */
const EXT_PID = 1
const EXT_MAP = 2
const EXT_SET = 3
const EXT_BIGINT = 4
const EXT_ERROR = 5

/** Raised while decoding an extension whose content is malformed. */
class MalformedExtension extends Error {
  override name = 'MalformedExtension'
}

const extensions = new ExtensionCodec()
extensions.register({
  type: EXT_PID,
  encode: (v) => (v instanceof Pid ? inner.encode([v.node, v.incarnation, v.id]) : null),
  decode: (data) => {
    const a = innerDecoder.decode(data)
    if (!Array.isArray(a) || a.length !== 3) throw new MalformedExtension('pid')
    const [node, incarnation, id] = a as unknown[]
    if (typeof node !== 'string' || node === '' || !isIncarnation(incarnation) ||
        typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw new MalformedExtension('pid')
    }
    return new Pid(node, incarnation, id)
  },
})
extensions.register({
  type: EXT_MAP,
  encode: (v) => (v instanceof Map ? inner.encode([...v.entries()].flat()) : null),
  decode: (data) => {
    const flat = innerDecoder.decode(data)
    if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new MalformedExtension('map')
    const map = new Map<unknown, unknown>()
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1])
    return map
  },
})
extensions.register({
  type: EXT_SET,
  encode: (v) => (v instanceof Set ? inner.encode([...v]) : null),
  decode: (data) => {
    const items = innerDecoder.decode(data)
    if (!Array.isArray(items)) throw new MalformedExtension('set')
    return new Set(items)
  },
})
extensions.register({
  type: EXT_BIGINT,
  encode: (v) => (typeof v === 'bigint' ? inner.encode(v.toString(16)) : null),
  decode: (data) => {
    const hex = innerDecoder.decode(data)
    if (typeof hex !== 'string' || !/^-?[0-9a-f]{1,2048}$/.test(hex)) throw new MalformedExtension('bigint')
    return hex.startsWith('-') ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`)
  },
})
extensions.register({
  type: EXT_ERROR,
  encode: (v) => (v instanceof Error ? inner.encode([v.name, v.message]) : null),
  decode: (data) => {
    const a = innerDecoder.decode(data)
    if (!Array.isArray(a) || typeof a[0] !== 'string' || typeof a[1] !== 'string') {
      throw new MalformedExtension('error')
    }
    const error = new Error(a[1])
    error.name = a[0]
    return error
  },
})

const inner = new Encoder({ extensionCodec: extensions, maxDepth: 64 })
const innerDecoder = new Decoder({ extensionCodec: extensions })

/** Encodes a value; throws `EncodeError` for what cannot travel. */
export function encodeValue(value: unknown): Uint8Array {
  try {
    return inner.encode(value)
  } catch (cause) {
    throw new EncodeError(`cannot encode message: ${(cause as Error).message}`, { cause })
  }
}

/** Decodes bytes produced by `encodeValue`; throws on malformed input. */
export function decodeValue(bytes: Uint8Array): unknown {
  return innerDecoder.decode(bytes)
}
