/**
 * `GenServer`: a class-based behaviour with the seed's module shorthand. A subclass names
 * its service with `static serviceName` (class names do not survive minifiers), and every
 * name-taking function of the node accepts the class itself: `node.start(Counter)`,
 * `node.call(Counter, msg)`, `node.allPidsOf(Counter)`.
 */
import { ArgumentError } from './errors.js'
import type { DistribunatorNode, CallOptions } from './node.js'
import type { Pid } from './pid.js'
import type { Behaviour, From, ProcessContext } from './process.js'

const attached = Symbol('distribunator.attached')

/** Base class of class-based processes. Override the handlers you need. */
export abstract class GenServer<
  TCall = unknown,
  TReply = unknown,
  TCast = unknown,
  TInfo = unknown,
> implements Behaviour<DistribunatorNode> {
  /** The registered name of this service (the seed's module name). */
  static serviceName?: string

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

  /** Calls another process as this one (so calling itself is detected at once). */
  call<R = unknown>(target: Target, msg: unknown, options?: Omit<CallOptions, 'from'>): Promise<R> {
    return this.node.call<R>(target, msg, { ...options, from: this.self })
  }

  /** Casts to another process. */
  cast(target: Target, msg: unknown): boolean {
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

/** A `GenServer` subclass used as a name (module shorthand). */
export type ServiceClass = (abstract new (...args: never[]) => GenServer<never, unknown, never, never>) & {
  serviceName?: string
}

/** What call, cast and the lookups accept: a pid, a registered name, or a service class. */
export type Target = Pid | string | ServiceClass

/** Binds a spawned GenServer to its pid and node, before `init` runs. */
export function attachGenServer(server: GenServer<never, unknown, never, never>, context: ProcessContext<DistribunatorNode>): void {
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
