/**
 * A token bucket per socket: `rate` messages a second sustained, up to `burst` at once. Two
 * numbers of state, whatever the client sends.
 */

/** Counts one socket's messages against its allowance. */
export class TokenBucket {
  #tokens: number
  #refilledAt: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number = performance.now(),
  ) {
    this.#tokens = burst
    this.#refilledAt = now
  }

  /** Takes one token; `false` when the allowance is spent. */
  take(now: number = performance.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#refilledAt) * this.rate) / 1000)
    this.#refilledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
