/**
 * Collection of unreachable owners' subtrees in the registry document (registry.ts). An owner
 * this node saw go down may only be partitioned, so its names are hidden at once but its
 * subtree is deleted only once it stayed unreachable for the grace period; if it was alive
 * after all, it writes its subtree again when it links. An owner this node never reached is
 * never collected here: it may well be alive for others.
 */
import { logger } from './log.js'

/** What the collector asks of the registry. */
export interface CollectorHooks {
  /** Whether the subtree under `key` is still there and its owner down. */
  collectable(key: string): boolean
  /** Deletes the subtrees under `keys`, in one transaction. */
  collect(keys: readonly string[]): void
}

const log = logger('registry')

/** Deletes the subtrees of owners that stayed unreachable for the grace period. */
export class SubtreeCollector {
  /** Owners this node saw go down, since when: only these are ever collected here. */
  private readonly unreachableSince = new Map<string, number>()
  /** One timer collects every subtree that is due; stopped for good by `stop`. */
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = true

  constructor(
    /** How long an unreachable owner's subtree is kept before it is deleted, ms. */
    private readonly gracePeriod: number,
    private readonly hooks: CollectorHooks,
  ) {}

  /** The owner under `key` went down at `now`: its subtree goes after the grace period. */
  lost(key: string, now: number): void {
    this.unreachableSince.set(key, now)
    this.schedule(this.gracePeriod)
  }

  /** The owner under `key` is back, certainly dead, or its subtree gone: nothing to wait for. */
  spare(key: string): void {
    this.unreachableSince.delete(key)
  }

  /** Forgets every owner waiting: a fresh epoch holds none of their subtrees. */
  clear(): void {
    this.unreachableSince.clear()
  }

  /** No more collecting, for good. */
  stop(): void {
    this.running = false
    clearTimeout(this.timer)
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined || !this.running) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const next = this.collect()
      if (next !== undefined) this.schedule(next)
    }, delay)
  }

  /** Collects the subtrees that are due; returns the ms until the next one is, or undefined when none is waiting. */
  private collect(now = Date.now()): number | undefined {
    let next: number | undefined
    const expired: string[] = []
    for (const [key, since] of this.unreachableSince) {
      if (!this.hooks.collectable(key)) {
        this.unreachableSince.delete(key)
        continue
      }
      const due = since + this.gracePeriod - now
      if (due <= 0) expired.push(key)
      else next = next === undefined ? due : Math.min(next, due)
    }
    if (expired.length > 0) {
      log('collecting %d unreachable subtrees', expired.length)
      for (const key of expired) this.unreachableSince.delete(key)
      this.hooks.collect(expired)
    }
    return next
  }
}
