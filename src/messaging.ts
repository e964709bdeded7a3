/**
 * Messages between processes: call, cast, send (info) and rpc, out and in. Every path goes
 * the same way — to a process (or the exposed modules) of this node, handed over here, or to
 * the peer of the target's node, as a frame. Calls and rpcs are requests (requests.ts): they
 * end exactly once, by their answer, their timeout, their signal or their node going down,
 * whether they stayed on this node or not.
 */
import {
  ArgumentError,
  BadRpcError,
  CallingSelfError,
  EncodeError,
  NodeDownError,
  NoPidError,
  NoProcError,
  RemoteError,
  TimeoutError,
} from './errors.js'
import { nameOf, type ServiceClass, type Target } from './gen-server.js'
import type { NameView, PickStrategy } from './name-view.js'
import type { Peer } from './peer.js'
import type { Peers } from './peers.js'
import { Pid } from './pid.js'
import { executingPid, toWireError, type LocalProcess } from './process.js'
import type { RequestOptions, Requests } from './requests.js'
import { rpcExitError, type RpcCallback, type RpcModules } from './rpc.js'
import type { LocalEndpoint } from './transport/transport.js'
import { FrameType, type CallFrame, type CastFrame, type Frame, type InfoFrame, type Outcome, type RpcFrame } from './wire.js'

/** Options of `call`. */
export interface CallOptions {
  /** ms to wait for the reply. @default the node's `callTimeout` (5000) */
  readonly timeout?: number
  /** Aborts the call; it rejects with `signal.reason`. */
  readonly signal?: AbortSignal
  /** The calling process, when the call is made on its behalf (GenServer.call sets it). */
  readonly from?: Pid
  /** Which pid of a name to call. @default 'first' (as the seed) */
  readonly pick?: PickStrategy
}

/** Options of `nodeRpc`, `doNodeRpc` and `proxy`. */
export interface RpcOptions {
  /** Runs on the target with the result before the reply: `'module.fn'`, or a function for this node. */
  readonly callback?: RpcCallback
  /** ms to wait. @default the node's `callTimeout` (5000); `Infinity` waits for the node */
  readonly timeout?: number
  /** Aborts the rpc; it rejects with `signal.reason`. */
  readonly signal?: AbortSignal
  /** The calling process, passed to the callback. */
  readonly from?: Pid
}

/** What messaging needs of its node. */
export interface MessagingDeps {
  readonly self: LocalEndpoint
  /** Default timeout of calls and rpcs, ms. */
  readonly callTimeout: number
  readonly peers: Peers
  readonly requests: Requests
  readonly rpc: RpcModules
  /** The live registrations, to resolve names. */
  readonly names: NameView
  /** The live local process a pid names. */
  process(pid: Pid): LocalProcess | undefined
}

/** How a request is handled on this node (`here`) or turned into a frame for a peer (`there`). */
interface Route {
  readonly here: (answer: (outcome: Outcome) => void) => void
  readonly there: (peer: Peer, ref: number) => Frame
  /** The error when the target node is not up. */
  readonly unreachable: () => Error
}

/** The messaging paths of one node. */
export class Messaging {
  constructor(private readonly deps: MessagingDeps) {}

  /** Calls a process and resolves with its reply. */
  async call(target: Target, msg: unknown, options: CallOptions = {}): Promise<unknown> {
    const pid = this.resolve(target, options.pick ?? 'first')
    if (pid === undefined) throw new NoPidError(nameOf(target as string | ServiceClass))
    const from = options.from ?? executingPid() ?? null
    if (from !== null && from.equals(pid)) throw new CallingSelfError(pid.toString())
    const timeout = options.timeout ?? this.deps.callTimeout
    const settle = {
      timeout,
      signal: options.signal,
      onTimeout: () => new TimeoutError(timeout),
      onNodeDown: () => new NodeDownError(pid.node),
    }
    const outcome = await this.request(pid.node, settle, {
      here: (answer) => {
        const process = this.deps.process(pid)
        if (process === undefined) throw new NoProcError(pid.toString())
        process.deliver({ kind: 'call', msg, from: { pid: from, node: this.deps.self.nodeId }, reply: answer })
      },
      there: (peer, ref) => {
        if (peer.incarnation !== pid.incarnation) throw new NoProcError(pid.toString())
        return { type: FrameType.Call, ref, to: pid, from, msg }
      },
      unreachable: () => new NodeDownError(pid.node),
    })
    if (outcome.ok) return outcome.value
    const { error } = outcome
    if (error.name === 'NoProcError') throw new NoProcError(pid.toString(), error.reason ?? 'noproc')
    throw new RemoteError(error.name, error.message)
  }

  /** Casts (`'cast'`) or sends (`'info'`) to a process; false if no live target was found. */
  post(target: Target, kind: 'cast' | 'info', msg: unknown): boolean {
    const pid = this.resolve(target, 'first')
    if (pid === undefined) return false
    if (pid.node === this.deps.self.nodeId) {
      const process = this.deps.process(pid)
      process?.deliver({ kind, msg })
      return process !== undefined
    }
    const peer = this.deps.peers.up(pid.node)
    if (peer === undefined || peer.incarnation !== pid.incarnation) return false
    peer.send({ type: kind === 'cast' ? FrameType.Cast : FrameType.Info, to: pid, msg })
    return true
  }

  /** Runs `module.fn(...args)` on `node`; the callback runs there before the reply. */
  async rpc(node: string, module: string, fn: string, args: readonly unknown[], options: RpcOptions = {}): Promise<unknown> {
    if (!Array.isArray(args)) throw new ArgumentError('rpc args must be an array')
    const timeout = options.timeout ?? this.deps.callTimeout
    const caller = options.from ?? executingPid() ?? null
    const callback = options.callback ?? null
    const settle = {
      timeout,
      signal: options.signal,
      onTimeout: () => new BadRpcError('timeout', `no answer from ${node} in ${timeout} ms`, { cause: new TimeoutError(timeout) }),
      onNodeDown: () => new BadRpcError('nodedown', `node ${node} went down`, { cause: new NodeDownError(node) }),
    }
    const outcome = await this.request(node, settle, {
      here: (answer) => {
        this.deps.rpc.run(module, fn, args, callback, caller).then(
          (value) => answer({ ok: true, value }),
          (error: unknown) => answer({ ok: false, error: toWireError(error) }),
        )
      },
      there: (_, ref) => {
        if (typeof callback === 'function') throw new ArgumentError("a remote rpc's callback must name an exposed function ('module.fn')")
        return { type: FrameType.Rpc, ref, module, fn, args, callback, from: caller }
      },
      unreachable: () => new BadRpcError('nodedown', `node ${node} is not connected`),
    })
    if (outcome.ok) return outcome.value
    throw rpcExitError(outcome.error)
  }

  /** A call from a peer: to the process it names, or answered 'noproc' at once. */
  receiveCall(peer: Peer, frame: CallFrame): void {
    const reply = (outcome: Outcome): void => this.reply(peer, FrameType.Reply, frame.ref, outcome)
    const process = this.deps.process(frame.to)
    if (process === undefined) reply({ ok: false, error: { name: 'NoProcError', message: `no process ${frame.to}`, reason: 'noproc' } })
    else process.deliver({ kind: 'call', msg: frame.msg, from: { pid: frame.from, node: peer.nodeId }, reply })
  }

  /** A cast or plain message from a peer: to the process it names, if alive. */
  receivePost(frame: CastFrame | InfoFrame): void {
    this.deps.process(frame.to)?.deliver({ kind: frame.type === FrameType.Cast ? 'cast' : 'info', msg: frame.msg })
  }

  /** An rpc from a peer: run, then answered. */
  receiveRpc(peer: Peer, frame: RpcFrame): void {
    this.deps.rpc.run(frame.module, frame.fn, frame.args, frame.callback, frame.from).then(
      (value) => this.reply(peer, FrameType.RpcReply, frame.ref, { ok: true, value }),
      (error: unknown) => this.reply(peer, FrameType.RpcReply, frame.ref, { ok: false, error: toWireError(error) }),
    )
  }

  /** The pid a target stands for now: itself, or one registered under the name. */
  private resolve(target: Target, pick: PickStrategy): Pid | undefined {
    if (target instanceof Pid) return target
    if (typeof target === 'string' || typeof target === 'function') return this.deps.names.pick(nameOf(target), pick, this.deps.self.nodeId)
    throw new ArgumentError('target must be a pid, a name or a GenServer class')
  }

  /**
   * The one path of calls and rpcs: opens a request to `node` and resolves with its outcome.
   * On this node `route.here` handles it, given the function that answers; to a peer that
   * is up, `route.there` makes the frame. A throw from either ends the request with it.
   */
  private request(node: string, settle: RequestOptions, route: Route): Promise<Outcome> {
    const { requests } = this.deps
    if (node === this.deps.self.nodeId) {
      return requests.open(node, settle, (ref) => route.here((outcome) => requests.answer(node, ref, outcome)))
    }
    const peer = this.deps.peers.up(node)
    if (peer === undefined) return Promise.reject(route.unreachable())
    return requests.open(node, settle, (ref) => peer.send(route.there(peer, ref)))
  }

  /** Sends an answer; a value that cannot travel is answered with its EncodeError. */
  private reply(peer: Peer, type: typeof FrameType.Reply | typeof FrameType.RpcReply, ref: number, outcome: Outcome): void {
    try {
      // Literals, not a spread of the outcome: this is every call's answer.
      peer.send(outcome.ok ? { type, ref, ok: true, value: outcome.value } : { type, ref, ok: false, error: outcome.error })
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error
      peer.send({ type, ref, ok: false, error: toWireError(error) })
    }
  }
}
