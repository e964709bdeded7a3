/**
 * When a WebRTC pair that this node initiates is tried again after a try failed before
 * opening: shortly, for a few tries in a row, for both sides to have cleaned up; then in
 * rounds, later each time, until one works; after enough rounds, only when the peer announces
 * itself again (it may be long gone). Announces do not hurry a round that waits.
 */
import { logger } from '../log.js'

/** Tries in a row that a failed one is followed by at once; after them, rounds. */
export const QUICK_REDIALS = 3
/** ms between a failed try and the next, for both sides to have cleaned up. */
const REDIAL_DELAY = 50
/** After a round of quick tries failed, the next round waits this long, doubling each time up to RETRY_MAX. */
const RETRY_BASE = 2000
const RETRY_MAX = 60_000
/** Rounds of tries before waiting for the peer's next announce instead. */
const RETRY_ROUNDS = 10

const log = logger('webrtc')

/** The retries of one session, by peer key. */
export class DialRetries {
  /** Tries in a row that failed before opening. */
  private readonly failures = new Map<string, number>()
  /** Pairs whose last round of tries failed: how many rounds, and the next one. */
  private readonly backoff = new Map<string, { rounds: number; timer: ReturnType<typeof setTimeout> }>()

  /** `self`: this node's id, for the log. */
  constructor(private readonly self: string) {}

  /** A try at `key` failed: `dial` runs again shortly, unless the quick tries are spent (false). */
  redial(key: string, dial: () => void): boolean {
    const failures = (this.failures.get(key) ?? 0) + 1
    if (failures > QUICK_REDIALS) {
      this.failures.delete(key)
      return false
    }
    this.failures.set(key, failures)
    setTimeout(dial, REDIAL_DELAY)
    return true
  }

  /** A round of tries at `key` failed: `dial` runs in the next round, unless there were enough. */
  later(key: string, dial: () => void): void {
    const rounds = (this.backoff.get(key)?.rounds ?? 0) + 1
    if (rounds > RETRY_ROUNDS) return void this.backoff.delete(key)
    const delay = Math.min(RETRY_MAX, RETRY_BASE * 2 ** (rounds - 1))
    log('%s: no link to %s after %d rounds; next try in %d ms', this.self, key, rounds, delay)
    this.backoff.set(key, { rounds, timer: setTimeout(dial, delay) })
  }

  /** True while a round for `key` waits: an announce does not start another try. */
  waiting(key: string): boolean {
    return this.backoff.has(key)
  }

  /** A try at `key` opened: its count starts over. */
  opened(key: string): void {
    this.failures.delete(key)
    clearTimeout(this.backoff.get(key)?.timer)
    this.backoff.delete(key)
  }

  /** The session closed: no round runs any more. */
  close(): void {
    for (const { timer } of this.backoff.values()) clearTimeout(timer)
    this.backoff.clear()
    this.failures.clear()
  }
}
