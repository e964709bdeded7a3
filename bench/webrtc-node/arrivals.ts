/**
 * Bookkeeping shared by the endpoints: counting one-way payloads until the armed count,
 * recording the arrival time of each item of a series, and emitting at a steady rate.
 */
import { clock } from './stats.js'

/** Counts payloads; `done` resolves with the time of the armed `count`th. */
export class ArrivalCounter {
  private left = 0
  private finish: ((at: number) => void) | undefined
  private done: Promise<number> = Promise.resolve(Number.NaN)

  /** Starts a new count. */
  arm(count: number): void {
    this.left = count
    this.done = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  /** Call on every payload. */
  hit(): void {
    if (this.left > 0 && --this.left === 0) this.finish?.(clock())
  }

  /** The time of the last armed payload. */
  received(): Promise<number> {
    return this.done
  }
}

/** Arrival times of the items `0..count-1` of one series. */
export class SeriesCollector {
  private times: number[] = []
  private left = 0
  private finish: ((times: number[]) => void) | undefined
  private done: Promise<number[]> = Promise.resolve([])

  /** Starts a new series of `count` items. */
  arm(count: number): void {
    this.times = new Array<number>(count).fill(Number.NaN)
    this.left = count
    this.done = new Promise((resolve) => {
      this.finish = resolve
    })
  }

  /** Call when item `index` arrives. */
  hit(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.times.length || !Number.isNaN(this.times[index])) return
    this.times[index] = clock()
    if (--this.left === 0) this.finish?.(this.times)
  }

  /** Arrival times by index, once all have come. */
  collected(): Promise<number[]> {
    return this.done
  }
}

/**
 * Calls `emit(i)` for i in 0..count-1, item i due at start + i / perSecond: whatever is due
 * goes out, then the loop sleeps until the next is due. Returns the time each went out.
 */
export async function paced(count: number, perSecond: number, emit: (i: number) => void): Promise<number[]> {
  const times: number[] = []
  const start = clock()
  const interval = 1000 / perSecond
  for (let i = 0; i < count;) {
    const now = clock()
    while (i < count && start + i * interval <= now) {
      times.push(clock())
      emit(i++)
    }
    // A timer, never a busy loop: the sleep rounds up to whole ms, items due meanwhile go out together.
    const wait = start + i * interval - clock()
    if (i < count) await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(wait))))
  }
  return times
}

/** A promise with its resolve function; resolving twice keeps the first value. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
}

/** A new `Deferred`. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
