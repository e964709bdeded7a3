/**
 * Requests waiting for an answer from a node: calls and rpcs. Each one ends exactly once —
 * by its answer, its timeout, its `AbortSignal`, or its node going down — and whichever
 * comes first clears the others (no timer or listener outlives a request). An answer that
 * comes after the request ended, or from a node it was not sent to, is dropped.
 */
import { Deadlines } from './deadlines.js'
import { ArgumentError } from './errors.js'
import type { Outcome } from './wire.js'

/** How a request may end besides its answer. */
export interface RequestOptions {
  /** Milliseconds to wait; `Infinity` waits until answered or the node goes down. */
  readonly timeout: number
  /** Aborts the wait; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined
  /** Error for a timeout. */
  readonly onTimeout: () => Error
  /** Error for the node going down. */
  readonly onNodeDown: () => Error
}

interface Pending {
  readonly node: string
  readonly options: RequestOptions
  readonly resolve: (outcome: Outcome) => void
  readonly reject: (error: unknown) => void
  /** The `abort` listener on `options.signal`, if one was given. */
  onAbort?: () => void
}

/** The open requests of one node. */
export class Requests {
  private readonly pending = new Map<number, Pending>()
  /** One timer for every request's timeout (deadlines.ts). */
  private readonly deadlines = new Deadlines<number>((ref) => {
    const entry = this.end(ref)
    entry?.reject(entry.options.onTimeout())
  })
  private nextRef = 1

  /** Opens a request to `node`; `send` gets the ref to put in the request frame. */
  open(node: string, options: RequestOptions, send: (ref: number) => void): Promise<Outcome> {
    const { timeout, signal } = options
    if (!(timeout > 0)) throw new ArgumentError(`timeout must be a positive number of ms, got ${timeout}`)
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const ref = this.nextRef++
    let entry!: Pending
    const answered = new Promise<Outcome>((resolve, reject) => {
      entry = { node, options, resolve, reject }
    })
    this.pending.set(ref, entry)
    if (Number.isFinite(timeout)) this.deadlines.add(ref, timeout)
    if (signal !== undefined) {
      entry.onAbort = () => this.end(ref)?.reject(signal.reason)
      signal.addEventListener('abort', entry.onAbort, { once: true })
    }
    try {
      send(ref)
    } catch (error) {
      this.end(ref)?.reject(error)
    }
    return answered
  }

  /** Delivers an answer from `node`; returns false if no such request is open (dropped). */
  answer(node: string, ref: number, outcome: Outcome): boolean {
    const entry = this.pending.get(ref)
    if (entry === undefined || entry.node !== node) return false
    this.end(ref)
    entry.resolve(outcome)
    return true
  }

  /** Fails every request open to `node`. */
  nodeDown(node: string): void {
    for (const [ref, entry] of [...this.pending]) {
      if (entry.node === node) this.end(ref)?.reject(entry.options.onNodeDown())
    }
  }

  /** Fails every open request with `error` (the node is stopping). */
  failAll(error: () => Error): void {
    for (const ref of [...this.pending.keys()]) this.end(ref)?.reject(error())
    this.deadlines.clear()
  }

  /** Number of open requests. */
  get size(): number {
    return this.pending.size
  }

  /** Closes a request: no timeout or abort can end it any more. Returns it, if it was open. */
  private end(ref: number): Pending | undefined {
    const entry = this.pending.get(ref)
    if (entry === undefined) return undefined
    this.pending.delete(ref)
    const { timeout, signal } = entry.options
    if (Number.isFinite(timeout)) this.deadlines.delete(ref, timeout)
    if (entry.onAbort !== undefined) signal?.removeEventListener('abort', entry.onAbort)
    return entry
  }
}
