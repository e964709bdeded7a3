/**
 * `GenServer`: a class-based behaviour with the seed's module shorthand. A subclass names
 * its service with `static serviceName` (class names do not survive minifiers), and every
 * name-taking function of the node accepts the class itself: `node.start(Counter)`,
 * `node.call(Counter, msg)`, `node.allPidsOf(Counter)`.
 *
 * Its type arguments are what it takes and answers — `GenServer<TCall, TReply, TCast, TInfo>`
 * — and they reach its callers: through the class (`node.call(Counter, msg)`) and through
 * the pids that `start`, `spawn` and the lookups by class return (`Pid<Counter>`), a wrong
 * message is a compile error and the reply is typed (`CallOf`, `ReplyOf`, `CastOf`, `InfoOf`).
 * A pid or name without a type takes anything; its reply is typed by an explicit parameter.
 */
import { ArgumentError } from './errors.js'
import type { CallOptions } from './messaging.js'
import type { DistribunatorNode } from './node.js'
import type { Pid } from './pid.js'
import type { Behaviour, From, ProcessContext } from './process.js'

const attached = Symbol('distribunator.attached')

/** Type-only key under which a GenServer declares its message types; no value has it. */
declare const messageTypes: unique symbol

/** The messages a GenServer takes and the reply it gives, as function types (type-only). */
export interface MessageTypes<TCall, TReply, TCast, TInfo> {
  /** A call takes `TCall` and is answered with `TReply`. */
  readonly call: (msg: TCall) => TReply
  /** A cast takes `TCast`. */
  readonly cast: (msg: TCast) => void
  /** A plain message (`send`) is a `TInfo`. */
  readonly info: (msg: TInfo) => void
}

/** Base class of class-based processes. Override the handlers you need. */
export abstract class GenServer<
  TCall = unknown,
  TReply = unknown,
  TCast = unknown,
  TInfo = unknown,
> implements Behaviour<DistribunatorNode> {
  /** The registered name of this service (the seed's module name). */
  static serviceName?: string

  /** Type-only: what this server takes and answers, for its callers' types. Never set. */
  declare readonly [messageTypes]?: MessageTypes<TCall, TReply, TCast, TInfo>

  private [attached]: ProcessContext<DistribunatorNode> | undefined

  /** This process's pid (Erlang's `self()`); available from `init` on. */
  get self(): Pid {
    return this.context().self
  }

  /** The node this process runs on. */
  get node(): DistribunatorNode {
    return this.context().node
  }

  /** Runs before the first message; may be async. */
  init?(context: ProcessContext<DistribunatorNode>): unknown
  /** Answers a call; the returned value (or awaited promise) is the reply. */
  handleCall?(msg: TCall, from: From): TReply | Promise<TReply>
  /** Handles a cast. */
  handleCast?(msg: TCast): unknown
  /** Handles a plain message sent with `send`. */
  handleInfo?(msg: TInfo): unknown
  /** Runs once when the process exits. */
  terminate?(reason: unknown): unknown

  /** Calls another process as this one (so calling itself is detected at once); typed as `node.call`. */
  call<R = unknown, T extends Target = Target>(
    target: T,
    msg: CallOf<T>,
    options?: Omit<CallOptions, 'from'>,
  ): Promise<unknown extends R ? ReplyOf<T> : R> {
    return this.node.call<R, T>(target, msg, { ...options, from: this.self })
  }

  /** Casts to another process; typed as `node.cast`. */
  cast<T extends Target>(target: T, msg: CastOf<T>): boolean {
    return this.node.cast(target, msg)
  }

  /** Ends this process with `reason` (default 'normal'). */
  stop(reason: unknown = 'normal'): void {
    this.node.exit(this.self, reason)
  }

  private context(): ProcessContext<DistribunatorNode> {
    const context = this[attached]
    if (context === undefined) throw new ArgumentError('this GenServer has not been spawned on a node')
    return context
  }
}

/** Any GenServer, whatever it takes. */
export type AnyGenServer = GenServer<never, unknown, never, never>

/** A `GenServer` subclass used as a name (module shorthand). */
export type ServiceClass<S extends AnyGenServer = AnyGenServer> = (abstract new (...args: never[]) => S) & ServiceName

/** The static side of a service class: the name it registers under. */
export interface ServiceName {
  /** The registered name of the service (the seed's module name). */
  serviceName?: string
}

/** What call, cast and the lookups accept: a pid, a registered name, or a service class. */
export type Target = Pid | string | ServiceClass

/** The GenServer type behind a target: a service class's instances, a typed pid's server; else unknown. */
export type ServerOf<T> = T extends Pid<infer S> ? S : T extends abstract new (...args: never[]) => infer S ? S : unknown

/** The message types of the GenServer behind a target, or undefined for an untyped target. */
export type TypesOf<T> =
  ServerOf<T> extends {
    /** The GenServer's declared message types. */
    readonly [messageTypes]?: infer M
  }
    ? NonNullable<M>
    : undefined

/** The call messages a target takes (`unknown`: anything, for a pid or name without a type). */
export type CallOf<T> = TypesOf<T> extends MessageTypes<infer M, unknown, never, never> ? M : unknown
/** The reply of a call to a target (`unknown` for a pid or name without a type). */
export type ReplyOf<T> = TypesOf<T> extends MessageTypes<never, infer R, never, never> ? R : unknown
/** The cast messages a target takes. */
export type CastOf<T> = TypesOf<T> extends MessageTypes<never, unknown, infer M, never> ? M : unknown
/** The plain messages (`send`, `handleInfo`) a target takes. */
export type InfoOf<T> = TypesOf<T> extends MessageTypes<never, unknown, never, infer M> ? M : unknown

/** Binds a spawned GenServer to its pid and node, before `init` runs. */
export function attachGenServer(server: AnyGenServer, context: ProcessContext<DistribunatorNode>): void {
  if (server[attached] !== undefined) {
    throw new ArgumentError('a GenServer instance can be spawned only once')
  }
  server[attached] = context
}

/** The registered name of a service class; throws `ArgumentError` if it has none. */
export function serviceNameOf(service: ServiceClass): string {
  const name = service.serviceName
  if (typeof name !== 'string' || name === '') {
    throw new ArgumentError(`${service.name || 'this class'} has no static serviceName`)
  }
  return name
}

/** The registry name a name-taking function was given: a non-empty string, or a service class's name. */
export function nameOf(name: string | ServiceClass): string {
  if (typeof name === 'string') {
    if (name === '') throw new ArgumentError('a name must be a non-empty string')
    return name
  }
  if (typeof name === 'function') return serviceNameOf(name)
  throw new ArgumentError('a name must be a string or a GenServer class')
}
