/**
 * Values to bytes and back: MessagePack (`@msgpack/msgpack`) with extension types for what
 * JSON loses. Payloads keep `Uint8Array` (msgpack bin; other typed arrays arrive as a
 * `Uint8Array` of their bytes), `Date` (msgpack timestamp), and through the extensions below
 * `Map`, `Set`, `BigInt`, `Error` (name and message only) and `Pid`. `undefined` becomes
 * `null` (msgpack has no undefined) and `-0` becomes `0`. What cannot travel makes encoding
 * throw `EncodeError`: functions, symbols, an `ArrayBuffer` (send a `Uint8Array`), an invalid
 * `Date`, a BigInt of more than 8192 bits, an object key `__proto__`, and nesting deeper than
 * `MAX_DEPTH` containers (which is also how cycles are caught).
 *
 * Decoding assumes a hostile peer: `scanMsgpack` (msgpack-scan.ts) checks the bytes before
 * anything is built, then the extensions check their contents. Whatever decodes re-encodes.
 *
 * The extension codec belongs to this module's encoder and decoder only; nothing is
 * registered globally, so an app's own msgpack use is unaffected.
 */
import {
  Decoder,
  EXT_TIMESTAMP,
  Encoder,
  ExtData,
  ExtensionCodec,
  decodeTimestampExtension,
  encodeTimestampExtension,
} from '@msgpack/msgpack'
import { DecodeError, EncodeError } from './errors.js'
import { scanMsgpack, type ExtensionShape } from './msgpack-scan.js'
import { Pid, isIncarnation } from './pid.js'

/** Extension type codes (0..127 are application types in msgpack). */
const EXT_PID = 1
const EXT_MAP = 2
const EXT_SET = 3
const EXT_BIGINT = 4
const EXT_ERROR = 5

/** Most containers (arrays, objects, Maps, Sets, Errors, Pids) a value may nest. */
const MAX_DEPTH = 64
/** BigInts travel as hex; 2048 digits (8192 bits) bound the work a peer can ask for. */
const MAX_BIGINT_DIGITS = 2048
const BIGINT_LIMIT = 1n << BigInt(4 * MAX_BIGINT_DIGITS)
const BIGINT_HEX = new RegExp(`^-?[0-9a-f]{1,${MAX_BIGINT_DIGITS}}$`)

const extensions = new ExtensionCodec()
extensions.register({
  type: EXT_TIMESTAMP,
  encode: encodeTimestampExtension,
  decode: (data) => {
    const date = decodeTimestampExtension(data)
    // Seconds beyond Date's range would decode to an invalid Date that cannot re-encode.
    if (Number.isNaN(date.getTime())) throw new DecodeError('timestamp out of range')
    return date
  },
})
extensions.register({
  type: EXT_PID,
  encode: (v) => (v instanceof Pid ? pidBytes(v) : null),
  decode: (data) => {
    const known = recentPids.find((entry) => sameBytes(entry.bytes, data))
    if (known !== undefined) return known.pid
    const a = contentsDecoder.decode(data)
    if (!Array.isArray(a) || a.length !== 3) throw new DecodeError('malformed pid')
    const pid = pidOf(a[0], a[1], a[2])
    if (pid === null) throw new DecodeError('malformed pid')
    recentPids[nextRecentPid] = { bytes: data.slice(), pid }
    nextRecentPid = (nextRecentPid + 1) % RECENT_PIDS
    return pid
  },
})
extensions.register({
  type: EXT_MAP,
  encode: (v) => (v instanceof Map ? contents.encode([...v.entries()].flat()) : null),
  decode: (data) => {
    const flat = contentsDecoder.decode(data)
    if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new DecodeError('malformed map')
    const map = new Map<unknown, unknown>()
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1])
    return map
  },
})
extensions.register({
  type: EXT_SET,
  encode: (v) => (v instanceof Set ? contents.encode([...v]) : null),
  decode: (data) => {
    const items = contentsDecoder.decode(data)
    if (!Array.isArray(items)) throw new DecodeError('malformed set')
    return new Set(items)
  },
})
extensions.register({
  type: EXT_BIGINT,
  encode: (v) => (typeof v === 'bigint' ? contents.encode(v.toString(16)) : null),
  decode: (data) => {
    const hex = contentsDecoder.decode(data)
    if (typeof hex !== 'string' || !BIGINT_HEX.test(hex)) throw new DecodeError('malformed bigint')
    return hex.startsWith('-') ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`)
  },
})
extensions.register({
  type: EXT_ERROR,
  encode: (v) => (v instanceof Error ? contents.encode([String(v.name), String(v.message)]) : null),
  decode: (data) => {
    const a = contentsDecoder.decode(data)
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || typeof a[1] !== 'string') {
      throw new DecodeError('malformed error')
    }
    const error = new Error(a[1])
    if (a[0] !== error.name) error.name = a[0]
    return error
  },
})

// `check` enforces MAX_DEPTH across extensions; the encoders' own limit (per extension
// level, leaves counted) is only a backstop. Extension contents have an encoder of their
// own: an encoder entered again while encoding clones itself (a new 2 KiB buffer), and
// every call and cast carries a pid. (An extension inside an extension, a Map holding a
// Map, still clones: rare, and correct.)
const outer = new Encoder({ extensionCodec: extensions, maxDepth: MAX_DEPTH + 1 })
const contents = new Encoder({ extensionCodec: extensions, maxDepth: MAX_DEPTH + 1 })
const decoder = new Decoder({ extensionCodec: extensions })
const contentsDecoder = new Decoder({ extensionCodec: extensions })

/**
 * The pids decoded last, by their bytes: frames mostly name the same few processes, and a
 * pid's own decoder call cost more than the rest of a call frame's decoding. Pids are
 * frozen, so one decoded pid serves every frame that carries its bytes.
 */
const RECENT_PIDS = 4
const recentPids: { readonly bytes: Uint8Array; readonly pid: Pid }[] = []
let nextRecentPid = 0

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Encoded pids (frozen, so their bytes never change): every call and cast carries one. */
const encodedPids = new WeakMap<Pid, Uint8Array>()

function pidBytes(pid: Pid): Uint8Array {
  let bytes = encodedPids.get(pid)
  if (bytes === undefined) encodedPids.set(pid, (bytes = contents.encode([pid.node, pid.incarnation, pid.id])))
  return bytes
}

/** Encodes a value; throws `EncodeError` for what cannot travel. */
export function encodeValue(value: unknown): Uint8Array {
  check(value, 0)
  try {
    return outer.encode(value)
  } catch (cause) {
    throw new EncodeError(`cannot encode message: ${(cause as Error).message}`, { cause })
  }
}

/**
 * `encodeValue` into the encoder's own buffer, for bytes sent at once: they are valid until
 * the next encoding. The copy it spares is an ArrayBuffer of the frame's size, allocated off
 * the heap: half of encoding a 1 KiB cast in Node, a third of a Chromium tab's time casting.
 */
export function encodeValueBorrowed(value: unknown): Uint8Array {
  check(value, 0)
  try {
    return outer.encodeSharedRef(value)
  } catch (cause) {
    throw new EncodeError(`cannot encode message: ${(cause as Error).message}`, { cause })
  }
}

/** What each extension's content must look like, for the scan before decoding. */
const EXTENSION_SHAPES: ReadonlyMap<number, ExtensionShape> = new Map([
  [EXT_TIMESTAMP, 'timestamp'],
  [EXT_PID, 'array'],
  [EXT_MAP, 'array'],
  [EXT_SET, 'array'],
  [EXT_ERROR, 'array'],
  [EXT_BIGINT, 'string'],
])

/** Decodes bytes produced by `encodeValue`; throws on malformed input. */
export function decodeValue(bytes: Uint8Array): unknown {
  scanMsgpack(bytes, MAX_DEPTH, EXTENSION_SHAPES)
  return decoder.decode(bytes)
}

function pidOf(node: unknown, incarnation: unknown, id: unknown): Pid | null {
  return typeof node === 'string' &&
    node !== '' &&
    isIncarnation(incarnation) &&
    typeof id === 'number' &&
    Number.isSafeInteger(id) &&
    id >= 0
    ? new Pid(node, incarnation, id)
    : null
}

function cannot(what: string): EncodeError {
  return new EncodeError(`cannot encode message: ${what}`)
}

/** Throws `EncodeError` for what could not travel or not decode on the other side. */
function check(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      throw cannot(`a ${typeof value} cannot travel`)
    case 'bigint':
      if (value >= BIGINT_LIMIT || value <= -BIGINT_LIMIT) throw cannot('BigInt of more than 8192 bits')
      return
    case 'object':
      break
    default:
      return
  }
  if (value === null || ArrayBuffer.isView(value)) return
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw cannot('invalid Date')
    return
  }
  if (value instanceof ArrayBuffer) throw cannot('an ArrayBuffer (send a Uint8Array)')
  if (value instanceof ExtData) throw cannot('raw msgpack ExtData')
  if (depth >= MAX_DEPTH) throw cannot(`nested deeper than ${MAX_DEPTH} levels (or cyclic)`)
  if (value instanceof Pid) {
    if (pidOf(value.node, value.incarnation, value.id) === null) throw cannot(`malformed pid ${String(value)}`)
  } else if (value instanceof Error) {
    // Travels as name and message, both leaves.
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      check(k, depth + 1)
      check(v, depth + 1)
    }
  } else if (value instanceof Set || Array.isArray(value)) {
    for (const item of value) check(item, depth + 1)
  } else {
    for (const key of Object.keys(value)) {
      if (key === '__proto__') throw cannot('object key __proto__')
      check((value as Record<string, unknown>)[key], depth + 1)
    }
  }
}
