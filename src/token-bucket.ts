/**
 * A token bucket: `rate` units a second sustained, up to `burst` at once — a signaling
 * server's messages per socket, a relay's bytes per tunnel. Two numbers of state, whatever
 * the other side sends.
 */

/** Counts use against an allowance. */
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

  /** Takes `cost` tokens; `false` (taking none) when the allowance does not cover them. */
  take(cost = 1, now: number = performance.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#refilledAt) * this.rate) / 1000)
    this.#refilledAt = now
    if (this.#tokens < cost) return false
    this.#tokens -= cost
    return true
  }
}
