/**
 * Requests waiting for an answer from a node: calls and rpcs. Each one ends exactly once —
 * by its answer, its timeout, its `AbortSignal`, or its node going down — and whichever
 * comes first clears the others (no timer or listener outlives a request). An answer that
 * comes after the request ended, or from a node it was not sent to, is dropped.
 */
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
  readonly resolve: (outcome: Outcome) => void
  readonly fail: (error: Error) => void
  readonly onNodeDown: () => Error
}

/** The open requests of one node. */
export class Requests {
  private readonly pending = new Map<number, Pending>()
  private nextRef = 1

  /** Opens a request to `node`; `send` gets the ref to put in the request frame. */
  open(node: string, options: RequestOptions, send: (ref: number) => void): Promise<Outcome> {
    const { timeout, signal } = options
    if (!(timeout > 0)) throw new ArgumentError(`timeout must be a positive number of ms, got ${timeout}`)
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const ref = this.nextRef++
    return new Promise<Outcome>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = (): void => end(() => reject(signal?.reason))
      const end = (settle: () => void): void => {
        if (this.pending.get(ref) !== entry) return
        this.pending.delete(ref)
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        settle()
      }
      const entry: Pending = {
        node,
        resolve: (outcome) => end(() => resolve(outcome)),
        fail: (error) => end(() => reject(error)),
        onNodeDown: options.onNodeDown,
      }
      this.pending.set(ref, entry)
      if (Number.isFinite(timeout)) timer = setTimeout(() => entry.fail(options.onTimeout()), timeout)
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        send(ref)
      } catch (error) {
        entry.fail(error as Error)
      }
    })
  }

  /** Delivers an answer from `node`; returns false if no such request is open (dropped). */
  answer(node: string, ref: number, outcome: Outcome): boolean {
    const entry = this.pending.get(ref)
    if (entry === undefined || entry.node !== node) return false
    entry.resolve(outcome)
    return true
  }

  /** Fails every request open to `node`. */
  nodeDown(node: string): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.node === node) entry.fail(entry.onNodeDown())
    }
  }

  /** Fails every open request with `error` (the node is stopping). */
  failAll(error: () => Error): void {
    for (const entry of [...this.pending.values()]) entry.fail(error())
  }

  /** Number of open requests. */
  get size(): number {
    return this.pending.size
  }
}
