/**
 * The one error hierarchy of the library. Every error has a stable `name` (safe to switch
 * on, survives minification) and, where the Elixir original had one, its `reason` string.
 */

/** Base class of every error this library throws or reports. */
export class DistribunatorError extends Error {
  /** Always 'DistribunatorError': switch on it (class names do not survive minifiers). */
  override name = 'DistribunatorError'
}

/** `nodeRpc` found no node that has the name registered (seed: `{:error, "no node"}`). */
export class NoNodeError extends DistribunatorError {
  /** Always 'NoNodeError': switch on it (class names do not survive minifiers). */
  override name = 'NoNodeError'
  /** The seed's reason. */
  readonly reason = 'no node'
}

/** No process is registered under the name (seed: `{:error, "no pid"}`). */
export class NoPidError extends DistribunatorError {
  /** Always 'NoPidError': switch on it (class names do not survive minifiers). */
  override name = 'NoPidError'
  /** The seed's reason. */
  readonly reason = 'no pid'
  constructor(
    /** The name (or printed pid) that was looked up. */
    readonly target: string,
  ) {
    super(`no pid registered under ${JSON.stringify(target)}`)
  }
}

/** `manager.connect` was given a node the Manager already knows. */
export class DuplicateNodeError extends DistribunatorError {
  /** Always 'DuplicateNodeError': switch on it (class names do not survive minifiers). */
  override name = 'DuplicateNodeError'
  /** The seed's reason. */
  readonly reason = 'duplicate node'
  constructor(
    /** The nodes already managed. */
    readonly nodes: readonly string[],
  ) {
    super(`duplicate node: ${nodes.join(', ')}`)
  }
}

/** The target process is not alive (it exited, or its node restarted). */
export class NoProcError extends DistribunatorError {
  /** Always 'NoProcError': switch on it (class names do not survive minifiers). */
  override name = 'NoProcError'
  constructor(
    /** The printed pid. */
    readonly pid: string,
    /** Why the process is gone, e.g. 'noproc', 'normal', 'shutdown' or an app reason. */
    readonly exitReason: unknown = 'noproc',
  ) {
    super(`no process ${pid} (${describeReason(exitReason)})`)
  }
}

/** The node hosting the target went down, or was never connected. */
export class NodeDownError extends DistribunatorError {
  /** Always 'NodeDownError': switch on it (class names do not survive minifiers). */
  override name = 'NodeDownError'
  constructor(
    /** The node that is down. */
    readonly node: string,
  ) {
    super(`node ${node} is down`)
  }
}

/** No reply within the timeout. */
export class TimeoutError extends DistribunatorError {
  /** Always 'TimeoutError': switch on it (class names do not survive minifiers). */
  override name = 'TimeoutError'
  constructor(
    /** The timeout that passed, ms. */
    readonly timeout: number,
  ) {
    super(`no reply within ${timeout} ms`)
  }
}

/** A process called itself: the call could never be answered. */
export class CallingSelfError extends DistribunatorError {
  /** Always 'CallingSelfError': switch on it (class names do not survive minifiers). */
  override name = 'CallingSelfError'
  constructor(
    /** The printed pid of the process. */
    readonly pid: string,
  ) {
    super(`process ${pid} called itself`)
  }
}

/** Why an rpc failed, as in Erlang's `{:badrpc, reason}`. */
export type BadRpcReason = 'nodedown' | 'timeout' | 'exit'

/** An rpc failed: the node went down, it timed out, or the function threw (`cause`). */
export class BadRpcError extends DistribunatorError {
  /** Always 'BadRpcError': switch on it (class names do not survive minifiers). */
  override name = 'BadRpcError'
  constructor(
    /** 'nodedown', 'timeout', or 'exit' (the function threw: the remote error is the `cause`). */
    readonly reason: BadRpcReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`badrpc ${reason}: ${message}`, options)
  }
}

/** An error thrown by a handler on another process, rethrown at the caller. */
export class RemoteError extends DistribunatorError {
  /** Always 'RemoteError': switch on it (class names do not survive minifiers). */
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
  /** Always 'NotLocalError': switch on it (class names do not survive minifiers). */
  override name = 'NotLocalError'
  constructor(
    /** The printed pid. */
    readonly pid: string,
  ) {
    super(`pid ${pid} is not local to this node`)
  }
}

/** A caller passed an argument the API cannot accept. */
export class ArgumentError extends DistribunatorError {
  /** Always 'ArgumentError': switch on it (class names do not survive minifiers). */
  override name = 'ArgumentError'
}

/** A message could not be encoded for the wire (a function, a symbol, a cycle...). */
export class EncodeError extends DistribunatorError {
  /** Always 'EncodeError': switch on it (class names do not survive minifiers). */
  override name = 'EncodeError'
}

/**
 * A message (or reply) is larger than the node it is for accepts (its `maxFrameBytes`, told
 * in its Hello): it was not sent, and nothing else changed. An `EncodeError`: it cannot travel.
 */
export class MessageTooLargeError extends EncodeError {
  /** Always 'MessageTooLargeError': switch on it (class names do not survive minifiers). */
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
  /** Always 'DecodeError': switch on it (class names do not survive minifiers). */
  override name = 'DecodeError'
}

/** An rpc named a function (or callback) that is not exposed; thrown on the target, it reaches the caller as the `cause` of a `BadRpcError`. */
export class UndefinedFunctionError extends DistribunatorError {
  /** Always 'UndefinedFunctionError': switch on it (class names do not survive minifiers). */
  override name = 'UndefinedFunctionError'
}

/** A peer sent a frame that is malformed, oversized or out of protocol; it was dropped. */
export class ProtocolError extends DistribunatorError {
  /** Always 'ProtocolError': switch on it (class names do not survive minifiers). */
  override name = 'ProtocolError'
  constructor(
    message: string,
    /** The node id of the peer that sent it, when known. */
    readonly peer?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A newer node with this node's id joined the room; this one stopped (ids are unique). */
export class NodeIdTakenError extends DistribunatorError {
  /** Always 'NodeIdTakenError': switch on it (class names do not survive minifiers). */
  override name = 'NodeIdTakenError'
  constructor(
    /** The id both nodes had. */
    readonly node: string,
  ) {
    super(`a newer node with id ${node} joined the room: this one stopped`)
  }
}

/** The node was stopped; it cannot be used any more. */
export class NodeStoppedError extends DistribunatorError {
  /** Always 'NodeStoppedError': switch on it (class names do not survive minifiers). */
  override name = 'NodeStoppedError'
  constructor(
    /** The stopped node's id. */
    readonly node: string,
  ) {
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
