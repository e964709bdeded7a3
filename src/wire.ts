/**
 * The node-to-node protocol: every frame that travels on a link.
 *
 * A link opens with each side sending `Hello` (protocol version, room, node id, incarnation,
 * and the largest frame it accepts: a sender fails a message too large for its peer at once,
 * with `MessageTooLargeError`, rather than send what the peer would refuse).
 * Nothing else is accepted before the peer's Hello. Then each side starts a y-protocols
 * sync of the registry document (`Sync` frames: step 1, step 2, updates); the peer counts
 * as up (`nodeup`, its names visible) once its step 2 has arrived, so a healed peer shows
 * its current truth at once and nothing stale flickers back.
 *
 *   A                          B
 *   |--- Hello --------------->|
 *   |<-------------- Hello ----|
 *   |--- Sync(step1) --------->|
 *   |<------------ Sync(step1)-|
 *   |<------------ Sync(step2)-|   A: B is up
 *   |--- Sync(step2) --------->|   B: A is up
 *   |=== Call/Reply/Cast/Info/Monitor/Down/Rpc/RpcReply, Sync(update) ===|
 *   |--- Bye ----------------->|   graceful stop: B drops A's names at once
 *
 * A Hello from an older incarnation of a node id whose newer incarnation is linked is
 * answered with `Superseded`: two nodes cannot share an id, and the newer one wins.
 * Heartbeats: a side pings a link silent for most of an interval, and answers `Ping` with
 * `Pong` (for the round-trip time; peers.ts). Any frame counts as a sign of life; a link
 * silent for the heartbeat timeout is closed, which declares the peer down — a crashed
 * peer is seen in about that long, whatever the transport notices.
 * Requests carry a `ref` chosen by the sender, unique per link direction; the answer
 * (`Reply`, `RpcReply`, `Down`) echoes it. Frames are msgpack arrays `[type, ...fields]`
 * with the numeric type first; `decodeFrame` checks every field, so the rest of the code
 * only ever sees well-formed frames.
 */
import { decodeValue, encodeValue, encodeValueBorrowed } from './codec.js'
import { ProtocolError } from './errors.js'
import { Pid, isIncarnation } from './pid.js'

/**
 * Version of this protocol; a peer of another version is refused at Hello, by name rather than
 * missing names in silence. 4: registry epochs. 5: an owner's subtree is an array (registry.ts).
 * 6: a link's message may be a batch of frames (transport/batching.ts). Each is junk to the one before.
 */
export const PROTOCOL_VERSION = 6

/** Numeric frame types. */
export const FrameType = {
  Hello: 1,
  Bye: 2,
  Sync: 3,
  Call: 4,
  Reply: 5,
  Cast: 6,
  Info: 7,
  Monitor: 8,
  Demonitor: 9,
  Down: 10,
  Rpc: 11,
  RpcReply: 12,
  Ping: 13,
  Pong: 14,
  Awareness: 15,
  Superseded: 16,
  Tunnel: 17,
} as const

/**
 * What a Tunnel frame does to the tunnel: see `TunnelFrame`. Refuse is a Close that also
 * says "do not ask again": the refusing end reaches the other another way already.
 */
export const TunnelOp = { Open: 0, Frame: 1, Close: 2, Refuse: 3 } as const
export type TunnelOp = (typeof TunnelOp)[keyof typeof TunnelOp]
const TUNNEL_OPS: readonly unknown[] = Object.values(TunnelOp)

/** An error as it travels: its name, message and, for exits, the exit reason. */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly reason?: unknown
}

export interface HelloFrame {
  readonly type: typeof FrameType.Hello
  readonly version: number
  /** The room the sender is in; a node refuses peers of another room. */
  readonly room: string
  readonly nodeId: string
  readonly incarnation: number
  /** The largest frame the sender accepts, bytes (its `maxFrameBytes`). */
  readonly maxFrameBytes: number
}
export interface ByeFrame {
  readonly type: typeof FrameType.Bye
}
export interface SyncFrame {
  readonly type: typeof FrameType.Sync
  /** Name of the shared document. */
  readonly doc: string
  /** A y-protocols sync message (step 1, step 2 or update). */
  readonly data: Uint8Array
  /** Why the sender changed the document (registry updates only): a watch event reason. */
  readonly cause: string | null
}
export interface CallFrame {
  readonly type: typeof FrameType.Call
  readonly ref: number
  readonly to: Pid
  readonly from: Pid | null
  readonly msg: unknown
}
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WireError }
export type ReplyFrame = { readonly type: typeof FrameType.Reply; readonly ref: number } & Outcome
export interface CastFrame {
  readonly type: typeof FrameType.Cast
  readonly to: Pid
  readonly msg: unknown
}
export interface InfoFrame {
  readonly type: typeof FrameType.Info
  readonly to: Pid
  readonly msg: unknown
}
export interface MonitorFrame {
  readonly type: typeof FrameType.Monitor
  readonly ref: number
  readonly pid: Pid
}
export interface DemonitorFrame {
  readonly type: typeof FrameType.Demonitor
  readonly ref: number
}
export interface DownFrame {
  readonly type: typeof FrameType.Down
  readonly ref: number
  readonly reason: unknown
}
export interface RpcFrame {
  readonly type: typeof FrameType.Rpc
  readonly ref: number
  readonly module: string
  readonly fn: string
  readonly args: readonly unknown[]
  /** `'module.fn'` of an exposed function the target calls with the result, or null. */
  readonly callback: string | null
  readonly from: Pid | null
}
export type RpcReplyFrame = { readonly type: typeof FrameType.RpcReply; readonly ref: number } & Outcome
/** A y-protocols awareness update (presence) for a shared document: the sender's own state. */
export interface AwarenessFrame {
  readonly type: typeof FrameType.Awareness
  readonly doc: string
  readonly data: Uint8Array
}
/** Answer to a Hello from an older incarnation of a node id that a newer one now holds. */
export interface SupersededFrame {
  readonly type: typeof FrameType.Superseded
  /** The newer incarnation. */
  readonly incarnation: number
}
/**
 * A link between two nodes carried through a third, the gateway (a page for its workers,
 * which cannot reach the WebRTC mesh): gateway.ts and transport/relayed.ts. `node` is the
 * far end. `deliver` false: an end asks the gateway to pass it on; true: the gateway hands
 * it to an end. The gateway opens each tunnel at both ends under a number of its own (an
 * end may ask for one with an Open of its own, numbered 0); either end closes it. Frames
 * name their tunnel's number, so nothing meant for a tunnel that closed reaches the next one
 * between the same two nodes.
 */
export interface TunnelFrame {
  readonly type: typeof FrameType.Tunnel
  readonly node: string
  readonly op: TunnelOp
  /** The tunnel's number, unique per gateway; 0 in an end's request for a tunnel. */
  readonly tunnel: number
  /** An encoded frame of the tunnelled link (op Frame), else null. */
  readonly data: Uint8Array | null
  readonly deliver: boolean
}
/** Heartbeat; `time` is the sender's clock in ms, echoed by `Pong` to measure the round trip. */
export interface PingFrame {
  readonly type: typeof FrameType.Ping
  readonly time: number
}
export interface PongFrame {
  readonly type: typeof FrameType.Pong
  readonly time: number
}

/** Every frame of the protocol. */
export type Frame =
  | HelloFrame
  | ByeFrame
  | SyncFrame
  | CallFrame
  | ReplyFrame
  | CastFrame
  | InfoFrame
  | MonitorFrame
  | DemonitorFrame
  | DownFrame
  | RpcFrame
  | RpcReplyFrame
  | PingFrame
  | PongFrame
  | AwarenessFrame
  | SupersededFrame
  | TunnelFrame

/** Encodes a frame; throws `EncodeError` when a payload cannot travel. */
export function encodeFrame(frame: Frame): Uint8Array {
  return encodeValue(toTuple(frame))
}

/** `encodeFrame` into the encoder's own buffer: valid only until the next encoding (codec.ts `encodeValueBorrowed`). */
export function encodeFrameBorrowed(frame: Frame): Uint8Array {
  return encodeValueBorrowed(toTuple(frame))
}

function toTuple(f: Frame): unknown[] {
  switch (f.type) {
    case FrameType.Hello:
      return [f.type, f.version, f.room, f.nodeId, f.incarnation, f.maxFrameBytes]
    case FrameType.Bye:
      return [f.type]
    case FrameType.Sync:
      return [f.type, f.doc, f.data, f.cause]
    case FrameType.Call:
      return [f.type, f.ref, f.to, f.from, f.msg]
    case FrameType.Reply:
    case FrameType.RpcReply:
      return f.ok ? [f.type, f.ref, true, f.value] : [f.type, f.ref, false, wireErrorTuple(f.error)]
    case FrameType.Cast:
    case FrameType.Info:
      return [f.type, f.to, f.msg]
    case FrameType.Monitor:
      return [f.type, f.ref, f.pid]
    case FrameType.Demonitor:
      return [f.type, f.ref]
    case FrameType.Down:
      return [f.type, f.ref, f.reason]
    case FrameType.Rpc:
      return [f.type, f.ref, f.module, f.fn, f.args, f.callback, f.from]
    case FrameType.Ping:
    case FrameType.Pong:
      return [f.type, f.time]
    case FrameType.Awareness:
      return [f.type, f.doc, f.data]
    case FrameType.Superseded:
      return [f.type, f.incarnation]
    case FrameType.Tunnel:
      return [f.type, f.node, f.op, f.tunnel, f.data, f.deliver]
  }
}

function wireErrorTuple(e: WireError): unknown[] {
  return 'reason' in e ? [e.name, e.message, e.reason] : [e.name, e.message]
}

/**
 * Decodes and validates one frame from a peer. Throws `ProtocolError` for anything that is
 * not a well-formed frame of this protocol, including frames over `maxBytes`.
 */
export function decodeFrame(bytes: Uint8Array, maxBytes: number): Frame {
  if (bytes.byteLength > maxBytes) {
    throw new ProtocolError(`frame of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}`)
  }
  let tuple: unknown
  try {
    tuple = decodeValue(bytes)
  } catch (cause) {
    throw new ProtocolError(`undecodable frame: ${(cause as Error).message}`, undefined, { cause })
  }
  if (!Array.isArray(tuple) || tuple.length === 0) throw malformed('not a frame tuple')
  const t = tuple as unknown[]
  switch (t[0]) {
    case FrameType.Hello: {
      // Version, room, id and incarnation lead a Hello in every version, so a peer of
      // another version is decoded far enough to be refused by name (peers.ts).
      const version = uint(t[1])
      if (version !== PROTOCOL_VERSION ? t.length !== 5 && t.length !== 6 : t.length !== 6) arity(t, 6)
      const maxFrameBytes = t.length === 6 ? uint(t[5]) : 0
      if (version === PROTOCOL_VERSION && maxFrameBytes === 0) throw malformed('a Hello that accepts no frame')
      return { type: FrameType.Hello, version, room: str(t[2]), nodeId: nodeId(t[3]), incarnation: incarnation(t[4]), maxFrameBytes }
    }
    case FrameType.Bye:
      arity(t, 1)
      return { type: FrameType.Bye }
    case FrameType.Sync:
      arity(t, 4)
      return { type: FrameType.Sync, doc: str(t[1]), data: bytesField(t[2]), cause: t[3] === null ? null : str(t[3]) }
    case FrameType.Call:
      arity(t, 5)
      return { type: FrameType.Call, ref: uint(t[1]), to: pid(t[2]), from: optionalPid(t[3]), msg: t[4] }
    case FrameType.Reply:
    case FrameType.RpcReply: {
      arity(t, 4)
      // Literals, not a spread of a shared base: a spread made decoding a reply 3× slower.
      const type = t[0] as typeof FrameType.Reply | typeof FrameType.RpcReply
      const ref = uint(t[1])
      if (t[2] === true) return { type, ref, ok: true, value: t[3] }
      if (t[2] === false) return { type, ref, ok: false, error: wireError(t[3]) }
      throw malformed('reply without ok flag')
    }
    case FrameType.Cast:
    case FrameType.Info:
      arity(t, 3)
      return { type: t[0], to: pid(t[1]), msg: t[2] }
    case FrameType.Monitor:
      arity(t, 3)
      return { type: FrameType.Monitor, ref: uint(t[1]), pid: pid(t[2]) }
    case FrameType.Demonitor:
      arity(t, 2)
      return { type: FrameType.Demonitor, ref: uint(t[1]) }
    case FrameType.Down:
      arity(t, 3)
      return { type: FrameType.Down, ref: uint(t[1]), reason: t[2] }
    case FrameType.Rpc: {
      arity(t, 7)
      if (!Array.isArray(t[4])) throw malformed('rpc args are not a list')
      return {
        type: FrameType.Rpc,
        ref: uint(t[1]),
        module: str(t[2]),
        fn: str(t[3]),
        args: t[4] as unknown[],
        callback: t[5] === null ? null : str(t[5]),
        from: optionalPid(t[6]),
      }
    }
    case FrameType.Superseded:
      arity(t, 2)
      return { type: FrameType.Superseded, incarnation: incarnation(t[1]) }
    case FrameType.Tunnel: {
      arity(t, 6)
      if (!TUNNEL_OPS.includes(t[2])) throw malformed('bad tunnel op')
      const op = t[2] as TunnelOp
      if (typeof t[5] !== 'boolean') throw malformed('tunnel direction is not a boolean')
      const data = t[4] === null ? null : bytesField(t[4])
      if ((op === TunnelOp.Frame) !== (data !== null)) throw malformed('tunnel data must come with, and only with, op Frame')
      return { type: FrameType.Tunnel, node: nodeId(t[1]), op, tunnel: uint(t[3]), data, deliver: t[5] }
    }
    case FrameType.Awareness:
      arity(t, 3)
      return { type: FrameType.Awareness, doc: str(t[1]), data: bytesField(t[2]) }
    case FrameType.Ping:
    case FrameType.Pong:
      arity(t, 2)
      if (typeof t[1] !== 'number' || !Number.isFinite(t[1])) throw malformed('heartbeat time is not a finite number')
      return { type: t[0], time: t[1] }
    default:
      throw malformed(`unknown frame type ${describe(t[0])}`)
  }
}

function malformed(what: string): ProtocolError {
  return new ProtocolError(`malformed frame: ${what}`)
}

function arity(t: unknown[], n: number): void {
  if (t.length !== n) throw malformed(`type ${describe(t[0])} has ${t.length} fields, expected ${n}`)
}

/** Names a field for a message without `String()`, which a peer's value can make throw. */
function describe(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v
}

function uint(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
  throw malformed(`expected a non-negative integer, got ${typeof v}`)
}

function str(v: unknown): string {
  if (typeof v === 'string') return v
  throw malformed(`expected a string, got ${typeof v}`)
}

function nodeId(v: unknown): string {
  if (typeof v === 'string' && v !== '' && v.length <= 256) return v
  throw malformed('bad node id')
}

function incarnation(v: unknown): number {
  if (isIncarnation(v)) return v
  throw malformed('bad incarnation')
}

function bytesField(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v
  throw malformed('expected bytes')
}

function pid(v: unknown): Pid {
  if (v instanceof Pid) return v
  throw malformed('expected a pid')
}

function optionalPid(v: unknown): Pid | null {
  return v === null ? null : pid(v)
}

function wireError(v: unknown): WireError {
  if (!Array.isArray(v) || (v.length !== 2 && v.length !== 3)) throw malformed('bad error')
  const [name, message] = [str(v[0]), str(v[1])]
  return v.length === 3 ? { name, message, reason: v[2] } : { name, message }
}
