/**
 * A local process: a behaviour plus a mailbox handled one message at a time, in arrival
 * order, like an Erlang process. A handler may return a promise; the next message waits
 * for it. `init` runs first, before any message.
 *
 * Errors: a handler that throws does not kill the process. A call gets the error back as
 * a `RemoteError`; a thrown cast or info handler is reported through `onError`. A process
 * ends only through `exit` (by `node.exit`, `GenServer.stop`, a failed `init`, or its node
 * stopping): every queued and running call is then answered with `NoProcError`.
 */
import { NoProcError } from './errors.js'
import type { Pid } from './pid.js'
import type { Outcome, WireError } from './wire.js'

/** Who made a call: the calling process (if the call came from one) and its node. */
export interface From {
  /** The calling process, or null for a call made outside any process. */
  readonly pid: Pid | null
  /** The caller's node. */
  readonly node: string
}

/** What a process gets at start: its own pid and the node it runs on. */
export interface ProcessContext<N = unknown> {
  /** The process's own pid. */
  readonly self: Pid
  /** The node it runs on. */
  readonly node: N
}

/** The callbacks of a process; all optional. `this` is the behaviour object itself. */
export interface Behaviour<N = unknown> {
  /** Runs before the first message; may be async. Throwing ends the process. */
  init?(context: ProcessContext<N>): unknown
  /** Answers `call`: the return value (or awaited promise) is the reply. */
  handleCall?(msg: unknown, from: From): unknown
  /** Handles `cast`. */
  handleCast?(msg: unknown): unknown
  /** Handles plain messages from `send`. */
  handleInfo?(msg: unknown): unknown
  /** Runs once when the process exits, with the exit reason. */
  terminate?(reason: unknown): unknown
}

/** One message in a mailbox. */
export type Envelope =
  | { readonly kind: 'call'; readonly msg: unknown; readonly from: From; readonly reply: (outcome: Outcome) => void }
  | { readonly kind: 'cast'; readonly msg: unknown }
  | { readonly kind: 'info'; readonly msg: unknown }

/** What the node learns from its processes. */
export interface ProcessHooks {
  /** The process exited; its names and monitors are the node's to clean up. */
  exited(pid: Pid, reason: unknown): void
  /** A cast, info or terminate handler threw; the process lives on. */
  handlerFailed(pid: Pid, error: unknown): void
}

let executing: Pid | undefined

/**
 * The pid whose handler is running right now, synchronously. Lets `node.call` detect a
 * process calling itself without being told who the caller is.
 */
export function executingPid(): Pid | undefined {
  return executing
}

/** A running process on this node. */
export class LocalProcess {
  private readonly mailbox: Envelope[] = []
  private head = 0
  private draining = false
  private current: Envelope | undefined
  private exitReason: unknown = undefined
  private isAlive = true

  constructor(
    readonly pid: Pid,
    readonly behaviour: Behaviour,
    private readonly hooks: ProcessHooks,
  ) {}

  /** False once the process has exited. */
  get alive(): boolean {
    return this.isAlive
  }

  /** Queues a message; a call to an exited process is answered with `NoProcError` at once. */
  deliver(envelope: Envelope): void {
    if (!this.isAlive) {
      if (envelope.kind === 'call') envelope.reply(noProc(this.pid, this.exitReason))
      return
    }
    this.mailbox.push(envelope)
    if (!this.draining) this.drain()
  }

  /** Ends the process: pending calls fail with `NoProcError`, `terminate` runs, hooks fire. */
  exit(reason: unknown): void {
    if (!this.isAlive) return
    this.isAlive = false
    this.exitReason = reason
    const failed = noProc(this.pid, reason)
    if (this.current?.kind === 'call') this.current.reply(failed)
    for (let i = this.head; i < this.mailbox.length; i++) {
      const envelope = this.mailbox[i]
      if (envelope?.kind === 'call') envelope.reply(failed)
    }
    this.mailbox.length = 0
    this.head = 0
    this.hooks.exited(this.pid, reason)
    try {
      const result = this.invoke(() => this.behaviour.terminate?.(reason))
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.hooks.handlerFailed(this.pid, error))
    } catch (error) {
      this.hooks.handlerFailed(this.pid, error)
    }
  }

  /**
   * Runs `init`, then the messages that queued meanwhile. Resolves when `init` is done;
   * rejects with its error (the process has then exited with that error as reason).
   */
  async start(context: ProcessContext): Promise<void> {
    this.draining = true
    try {
      const result = this.invoke(() => this.behaviour.init?.(context))
      if (isPromiseLike(result)) await result
    } catch (error) {
      this.exit(error)
      throw error
    } finally {
      this.draining = false
    }
    if (this.isAlive && this.head < this.mailbox.length) this.drain()
  }

  /**
   * Handles queued messages in order. Synchronous handlers run in one loop, with no promise
   * per message; the first handler that returns a promise holds the rest until it settles.
   */
  private drain(): void {
    this.draining = true
    while (this.isAlive && this.head < this.mailbox.length) {
      const envelope = this.mailbox[this.head] as Envelope
      this.mailbox[this.head++] = undefined as unknown as Envelope
      if (this.head > 1024 && this.head * 2 > this.mailbox.length) {
        this.mailbox.splice(0, this.head)
        this.head = 0
      }
      this.current = envelope
      const waiting = this.handle(envelope)
      if (waiting !== undefined) {
        void waiting.then(() => {
          this.current = undefined
          this.drain()
        })
        return
      }
      this.current = undefined
    }
    this.draining = false
  }

  /** Runs the handler of one message; returns a promise only when the handler did. */
  private handle(envelope: Envelope): Promise<void> | undefined {
    let result: unknown
    try {
      result = this.runHandler(envelope)
    } catch (error) {
      this.handlerThrew(envelope, error)
      return undefined
    }
    if (!isPromiseLike(result)) {
      this.handled(envelope, result)
      return undefined
    }
    return Promise.resolve(result).then(
      (value) => this.handled(envelope, value),
      (error: unknown) => this.handlerThrew(envelope, error),
    )
  }

  private runHandler(envelope: Envelope): unknown {
    const b = this.behaviour
    const outer = executing
    executing = this.pid
    try {
      switch (envelope.kind) {
        case 'call':
          if (b.handleCall === undefined) throw new TypeError(`process ${this.pid} has no handleCall`)
          return b.handleCall(envelope.msg, envelope.from)
        case 'cast':
          return b.handleCast?.(envelope.msg)
        case 'info':
          return b.handleInfo?.(envelope.msg)
      }
    } finally {
      executing = outer
    }
  }

  /** A handler's result: a call's reply (unless an exit during the handler already answered it). */
  private handled(envelope: Envelope, result: unknown): void {
    if (envelope.kind !== 'call' || !this.isAlive) return
    try {
      envelope.reply({ ok: true, value: result })
    } catch (error) {
      this.handlerThrew(envelope, error)
    }
  }

  private handlerThrew(envelope: Envelope, error: unknown): void {
    if (envelope.kind !== 'call') return this.hooks.handlerFailed(this.pid, error)
    if (!this.isAlive) return
    try {
      envelope.reply({ ok: false, error: toWireError(error) })
    } catch (replyError) {
      // Nothing else can answer it; and the mailbox must go on.
      this.hooks.handlerFailed(this.pid, replyError)
    }
  }

  /** Runs a handler with `executingPid()` set for its synchronous part. */
  private invoke(fn: () => unknown): unknown {
    const outer = executing
    executing = this.pid
    try {
      return fn()
    } finally {
      executing = outer
    }
  }
}

function noProc(pid: Pid, reason: unknown): Outcome {
  const error = new NoProcError(pid.toString(), reason)
  return { ok: false, error: { name: error.name, message: error.message, reason: exitReasonForWire(reason) } }
}

/** An exit reason in a form that can travel: errors become `{name, message}` errors. */
export function exitReasonForWire(reason: unknown): unknown {
  return reason instanceof Error ? { name: reason.name, message: reason.message } : reason
}

/** The travelling form of a thrown value. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error) return { name: error.name, message: error.message }
  return { name: 'Error', message: String(error) }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}
