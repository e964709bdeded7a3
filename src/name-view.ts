/**
 * What lookups see of the registry: the live pids of each name, kept sorted by
 * `Pid.compare` (so `pick: 'first'` agrees on every converged node), and the watchers told
 * of every join and leave. The registry (registry.ts) decides what is live and shows or
 * hides registrations here; a change's watch events go out once the registry calls
 * `flush`, after the whole transaction is folded in, so listeners never see half of one.
 */
import { ArgumentError } from './errors.js'
import { Pid } from './pid.js'

/** Why a name was joined or left, as seen by `watch`. */
export type WatchReason = 'register' | 'unregister' | 'exit' | 'nodeup' | 'nodedown' | 'sync'

/** A join or leave of one pid under one name. */
export interface WatchEvent {
  /** Whether registrations joined or left. */
  readonly type: 'join' | 'leave'
  /** The name. */
  readonly name: string
  /** The pid that joined or left it. */
  readonly pid: Pid
  /** Why: a local register or unregister, a process exit, a node coming up or going down, or a peer's sync. */
  readonly reason: WatchReason
  /** How many registrations joined or left: 1 for one register or unregister, more when a node holding counted joins comes up or goes down. */
  readonly count: number
}

/** Receives watch events. */
export type WatchListener = (event: WatchEvent) => void

/** Which pid `pidOf` returns: any at random, the first in the agreed order, or a local one if any. */
export type PickStrategy = 'random' | 'first' | 'local'

/** Consecutive registrations of one pid under a name: the view stores counts, not copies. */
interface Run {
  readonly pid: Pid
  count: number
}

/**
 * A name's live registrations: the pid itself when one pid holds it once (most names, and
 * no array or run for them: 10k names cost ~200 bytes less each), else the runs.
 */
type Held = Pid | Run[]

/** The live registrations of every name, and their watchers. */
export class NameView {
  private readonly visible = new Map<string, Held>()
  private readonly watchers = new Map<string, Set<WatchListener>>()
  private pending: WatchEvent[] = []
  /** A flush is telling the watchers: a nested flush leaves its events to it. */
  private flushing = false

  constructor(private readonly listenerFailed: (error: unknown) => void) {}

  /** Live pids of a name, sorted by `Pid.compare`, a pid once per join (a new array). */
  pids(name: string): Pid[] {
    return expand(runsOf(this.visible.get(name)))
  }

  /** Nodes having the name registered, each once, in the agreed order. */
  nodes(name: string): string[] {
    return [...new Set(runsOf(this.visible.get(name)).map((run) => run.pid.node))]
  }

  /** One live pid of a name by `strategy` ('local': one on `localNode` if any), or undefined. */
  pick(name: string, strategy: PickStrategy, localNode: string): Pid | undefined {
    if (strategy !== 'random' && strategy !== 'first' && strategy !== 'local') {
      throw new ArgumentError(`pick must be 'random', 'first' or 'local'`)
    }
    const held = this.visible.get(name)
    if (held === undefined || held instanceof Pid) return held
    const runs = held
    if (strategy === 'first') return runs[0]?.pid
    if (strategy === 'local') return runs.find((run) => run.pid.node === localNode)?.pid ?? pickRandom(runs)
    return pickRandom(runs)
  }

  /** Every non-empty name with its live pids. */
  snapshot(): Map<string, Pid[]> {
    const copy = new Map<string, Pid[]>()
    for (const [name, held] of this.visible) copy.set(name, expand(runsOf(held)))
    return copy
  }

  /** Calls `listener` for every join and leave of `name` ('*': of every name); returns the unsubscribe function. */
  watch(name: string, listener: WatchListener): () => void {
    let set = this.watchers.get(name)
    if (set === undefined) this.watchers.set(name, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.watchers.get(name) === set) this.watchers.delete(name)
    }
  }

  /** Adds (delta > 0) or removes (delta < 0) live registrations of `pid` under `name`, queueing the event. */
  show(name: string, pid: Pid, delta: number, reason: WatchReason): void {
    if (delta === 0) return
    const held = this.visible.get(name)
    const runs = held === undefined || held instanceof Pid ? runsOf(held) : held
    const at = lowerBound(runs, pid)
    const run = runs[at]
    if (run !== undefined && run.pid.equals(pid)) {
      run.count += delta
      if (run.count <= 0) runs.splice(at, 1)
    } else if (delta > 0) {
      runs.splice(at, 0, { pid, count: delta })
    }
    const only = runs.length === 1 ? (runs[0] as Run) : undefined
    if (runs.length === 0) this.visible.delete(name)
    else if (only !== undefined && only.count === 1) this.visible.set(name, only.pid)
    else if (runs !== held) this.visible.set(name, runs)
    if (this.watchers.has(name) || this.watchers.has('*')) {
      this.pending.push({ type: delta > 0 ? 'join' : 'leave', name, pid, reason, count: Math.abs(delta) })
    }
  }

  /**
   * Tells the watchers of every change shown since the last flush; a throwing listener goes
   * to `listenerFailed`. A listener's own register or unregister queues its events behind
   * the one being told, which every watcher hears first: a watcher never hears a leave
   * before the join it answers.
   */
  flush(): void {
    if (this.flushing) return
    this.flushing = true
    try {
      // `pending` grows while listeners run; `clear` empties it and ends the loop.
      for (let i = 0; i < this.pending.length; i++) {
        const event = this.pending[i] as WatchEvent
        for (const set of [this.watchers.get(event.name), this.watchers.get('*')]) {
          if (set === undefined) continue
          for (const listener of [...set]) {
            try {
              listener(event)
            } catch (error) {
              this.listenerFailed(error)
            }
          }
        }
      }
    } finally {
      this.pending = []
      this.flushing = false
    }
  }

  /** Drops every watcher. */
  clear(): void {
    this.watchers.clear()
    this.pending = []
  }
}

/** A pid at random, each registration counting once (a pid joined twice is twice as likely). */
function pickRandom(runs: readonly Run[]): Pid | undefined {
  let total = 0
  for (const run of runs) total += run.count
  let ticket = Math.random() * total
  for (const run of runs) {
    ticket -= run.count
    if (ticket < 0) return run.pid
  }
  return runs[runs.length - 1]?.pid
}

/** First index in the sorted runs whose pid is not before `pid`. */
function lowerBound(runs: readonly Run[], pid: Pid): number {
  let lo = 0
  let hi = runs.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (Pid.compare((runs[mid] as Run).pid, pid) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A name's registrations as runs (a new array for a lone pid, which is read-only here). */
function runsOf(held: Held | undefined): Run[] {
  if (held === undefined) return []
  return held instanceof Pid ? [{ pid: held, count: 1 }] : held
}

/** A pid once per registration, in order. */
function expand(runs: readonly Run[]): Pid[] {
  const pids: Pid[] = []
  for (const { pid, count } of runs) for (let i = 0; i < count; i++) pids.push(pid)
  return pids
}
