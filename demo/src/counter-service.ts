/**
 * The counter service: a GenServer that every tab starts and registers as 'counter'.
 * Callers address it by name with `pick: 'first'`, so all of them reach the same process —
 * the first pid in the registry's agreed order — and it applies the operations one at a
 * time. When that tab closes, its name leaves the registry and the next call goes to the
 * next tab.
 *
 * State: the value lives in the shared Y.Doc (the `counter` map), not in the process, so
 * the tab that takes over continues from the last value, and every tab can display it.
 */
import type * as Y from 'yjs'
import { GenServer, type From } from '../../src/index.js'

/** What callers ask: add `by` (may be negative), reset, or read the value. */
export type CounterCall = { readonly op: 'add'; readonly by: number } | { readonly op: 'reset' } | { readonly op: 'get' }
/** What casts do: add without waiting for an answer (a cast has no sender, so it says who it is). */
export type CounterCast = { readonly op: 'add'; readonly by: number; readonly from: string }
/** The answer to a call. */
export interface CounterReply {
  readonly value: number
  /** The node whose process answered. */
  readonly servedBy: string
}

/** Told about each request this tab's process serves, for its activity log. */
export type ServedListener = (request: { op: string; by: number; from: string; value: number }) => void

const MAX_STEP = 1_000_000

/** The counter; start it with `node.start(Counter, doc.getMap('counter'), onServed)`. */
export class Counter extends GenServer<CounterCall, CounterReply, CounterCast> {
  static override serviceName = 'counter'

  constructor(
    private readonly state: Y.Map<unknown>,
    private readonly onServed: ServedListener,
  ) {
    super()
  }

  override handleCall(msg: CounterCall, from: From): CounterReply {
    return { value: this.apply(msg, from.node), servedBy: this.node.id }
  }

  override handleCast(msg: CounterCast): void {
    this.apply(msg, typeof msg?.from === 'string' ? msg.from : 'someone')
  }

  private apply(msg: CounterCall, from: string): number {
    const current = counterValue(this.state)
    let value = current
    if (msg?.op === 'add' && Number.isSafeInteger(msg.by) && Math.abs(msg.by) <= MAX_STEP) value = current + msg.by
    else if (msg?.op === 'reset') value = 0
    else if (msg?.op !== 'get') throw new TypeError(`the counter does not understand ${JSON.stringify(msg)}`)
    if (value !== current) {
      this.state.doc?.transact(() => {
        this.state.set('value', value)
        this.state.set('servedBy', this.node.id)
      })
    }
    if (msg.op !== 'get') this.onServed({ op: msg.op, by: msg.op === 'add' ? msg.by : 0, from, value })
    return value
  }
}

/** The counter's current value in the shared doc. */
export function counterValue(state: Y.Map<unknown>): number {
  const value = state.get('value')
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : 0
}
