/**
 * Many deadlines on one timer. A timer per call cost more than the rest of a call's own work
 * (setTimeout and clearTimeout take ~25 µs a call in Chromium's profile, see bench/RESULTS.md),
 * and the calls of a node mostly share one timeout. So deadlines are grouped by duration:
 * within a group they fall due in the order they were added, only each group's first needs
 * watching, and ending one early is a Map delete. The one timer is re-armed lazily — when
 * it fires for a deadline that already ended, it moves on to the next.
 */
export class Deadlines<K> {
  /** Duration (ms) → key → when it falls due (performance.now()), in the order added. */
  private readonly groups = new Map<number, Map<K, number>>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** When the timer fires; Infinity when none is armed. */
  private armedFor = Infinity

  constructor(private readonly expired: (key: K) => void) {}

  /** Calls `expired(key)` in `ms` milliseconds, unless `delete(key, ms)` comes first. */
  add(key: K, ms: number): void {
    let group = this.groups.get(ms)
    if (group === undefined) this.groups.set(ms, (group = new Map()))
    const due = performance.now() + ms
    group.set(key, due)
    if (due < this.armedFor) this.arm(due)
  }

  /**
   * Forgets a deadline added with `ms`. An emptied group stays until the timer next fires:
   * sequential calls would otherwise drop and rebuild their group on every call.
   */
  delete(key: K, ms: number): void {
    this.groups.get(ms)?.delete(key)
  }

  /** Forgets every deadline and stops the timer. */
  clear(): void {
    this.groups.clear()
    clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
  }

  private arm(due: number): void {
    clearTimeout(this.timer)
    this.armedFor = due
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - performance.now()))
  }

  private fire(): void {
    this.timer = undefined
    this.armedFor = Infinity
    const now = performance.now()
    const due: K[] = []
    let next = Infinity
    for (const [ms, group] of this.groups) {
      for (const [key, at] of group) {
        if (at > now) {
          next = Math.min(next, at)
          break
        }
        group.delete(key)
        due.push(key)
      }
      if (group.size === 0) this.groups.delete(ms)
    }
    if (next < Infinity) this.arm(next)
    for (const key of due) this.expired(key)
  }
}
