/**
 * The one error hierarchy of the library. Every error has a stable `name` (safe to switch
 * on, survives minification) and, where the Elixir original had one, its `reason` string.
 */

/** Base class of every error this library throws or reports. */
export class DistribunatorError extends Error {
  override name = 'DistribunatorError'
}

/** `nodeRpc` found no node that has the name registered (seed: `{:error, "no node"}`). */
export class NoNodeError extends DistribunatorError {
  override name = 'NoNodeError'
  readonly reason = 'no node'
}

/** No process is registered under the name (seed: `{:error, "no pid"}`). */
export class NoPidError extends DistribunatorError {
  override name = 'NoPidError'
  readonly reason = 'no pid'
  constructor(readonly target: string) {
    super(`no pid registered under ${JSON.stringify(target)}`)
  }
}

/** `manager.connect` was given a node the Manager already knows. */
export class DuplicateNodeError extends DistribunatorError {
  override name = 'DuplicateNodeError'
  readonly reason = 'duplicate node'
  constructor(readonly nodes: readonly string[]) {
    super(`duplicate node: ${nodes.join(', ')}`)
  }
}

/** The target process is not alive (it exited, or its node restarted). */
export class NoProcError extends DistribunatorError {
  override name = 'NoProcError'
  /** Why the process is gone, e.g. 'noproc', 'normal', 'shutdown' or an app reason. */
  constructor(
    readonly pid: string,
    readonly exitReason: unknown = 'noproc',
  ) {
    super(`no process ${pid} (${describeReason(exitReason)})`)
  }
}

/** The node hosting the target went down, or was never connected. */
export class NodeDownError extends DistribunatorError {
  override name = 'NodeDownError'
  constructor(readonly node: string) {
    super(`node ${node} is down`)
  }
}

/** No reply within the timeout. */
export class TimeoutError extends DistribunatorError {
  override name = 'TimeoutError'
  constructor(readonly timeout: number) {
    super(`no reply within ${timeout} ms`)
  }
}

/** A process called itself: the call could never be answered. */
export class CallingSelfError extends DistribunatorError {
  override name = 'CallingSelfError'
  constructor(readonly pid: string) {
    super(`process ${pid} called itself`)
  }
}

/** Why an rpc failed, as in Erlang's `{:badrpc, reason}`. */
export type BadRpcReason = 'nodedown' | 'timeout' | 'exit'

/** An rpc failed: the node went down, it timed out, or the function threw (`cause`). */
export class BadRpcError extends DistribunatorError {
  override name = 'BadRpcError'
  constructor(
    readonly reason: BadRpcReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`badrpc ${reason}: ${message}`, options)
  }
}

/** An error thrown by a handler on another process, rethrown at the caller. */
export class RemoteError extends DistribunatorError {
  override name = 'RemoteError'
  /** `name` of the error thrown on the remote side, e.g. 'TypeError'. */
  readonly remoteName: string
  constructor(remoteName: string, message: string) {
    super(message)
    this.remoteName = remoteName
  }
}

/** `register` was given a pid that lives on another node (`:pg` refuses it too). */
export class NotLocalError extends DistribunatorError {
  override name = 'NotLocalError'
  constructor(readonly pid: string) {
    super(`pid ${pid} is not local to this node`)
  }
}

/** A caller passed an argument the API cannot accept. */
export class ArgumentError extends DistribunatorError {
  override name = 'ArgumentError'
}

/** A message could not be encoded for the wire (a function, a symbol, a cycle...). */
export class EncodeError extends DistribunatorError {
  override name = 'EncodeError'
}

/**
 * A message (or reply) is larger than the node it is for accepts (its `maxFrameBytes`, told
 * in its Hello): it was not sent, and nothing else changed. An `EncodeError`: it cannot travel.
 */
export class MessageTooLargeError extends EncodeError {
  override name = 'MessageTooLargeError'
  constructor(
    /** Size of the encoded message, bytes. */
    readonly bytes: number,
    /** The largest the node takes (less a tunnel's wrapping, through a gateway), bytes. */
    readonly limit: number,
    /** The node it was for. */
    readonly node: string,
  ) {
    super(`a message of ${bytes} bytes is over the limit of ${limit} bytes that node ${node} accepts`)
  }
}

/** Bytes that are not a value this library encodes (a peer's junk): decoding refused them. */
export class DecodeError extends DistribunatorError {
  override name = 'DecodeError'
}

/** An rpc named a function (or callback) that is not exposed; thrown on the target, it reaches the caller as the `cause` of a `BadRpcError`. */
export class UndefinedFunctionError extends DistribunatorError {
  override name = 'UndefinedFunctionError'
}

/** A peer sent a frame that is malformed, oversized or out of protocol; it was dropped. */
export class ProtocolError extends DistribunatorError {
  override name = 'ProtocolError'
  constructor(
    message: string,
    readonly peer?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A newer node with this node's id joined the room; this one stopped (ids are unique). */
export class NodeIdTakenError extends DistribunatorError {
  override name = 'NodeIdTakenError'
  constructor(readonly node: string) {
    super(`a newer node with id ${node} joined the room: this one stopped`)
  }
}

/** The node was stopped; it cannot be used any more. */
export class NodeStoppedError extends DistribunatorError {
  override name = 'NodeStoppedError'
  constructor(readonly node: string) {
    super(`node ${node} is stopped`)
  }
}

/** A short printable form of an exit reason. */
export function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`
  try {
    return JSON.stringify(reason) ?? String(reason)
  } catch {
    return String(reason)
  }
}
