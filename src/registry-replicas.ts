/**
 * The replicas of every owner's subtree in the registry document (registry.ts), and how a
 * transaction's changes fold into them and into the view (name-view.ts). A replica is kept in
 * plain maps because a deleted Yjs type can no longer be read, and hiding an owner's names
 * needs to know what it held. Only live owners are shown: this node and the peers marked up;
 * the entries of the rest are kept, hidden, until their owner comes up or its subtree goes.
 */
import * as Y from 'yjs'
import { RemoteUpdate } from './doc-sync.js'
import { logger } from './log.js'
import type { NameView, WatchReason } from './name-view.js'
import { Pid } from './pid.js'
import { elementDeltas } from './registry-deltas.js'
import { MAX_JOIN_COUNT, ownerKey, parseEntryKey, parseOwnerKey } from './registry-keys.js'

/** Transaction origin of this node's own registry writes; its reason travels as the cause. */
export class LocalChange {
  constructor(readonly reason: WatchReason) {}
}

/** The origin of an owner undoing a peer's change to its subtree: its names stay as they were. */
export class OwnRepair extends LocalChange {
  constructor() {
    super('sync')
  }
}

/** What the replicas tell the registry. */
export interface ReplicaHooks {
  /** The subtree under `key` is gone: there is nothing left of it to collect. */
  dropped(key: string): void
  /** A subtree of an earlier incarnation of a live node was read: that incarnation is dead. */
  superseded(nodeId: string, incarnation: number): void
}

interface Replica {
  readonly nodeId: string
  readonly incarnation: number
  /** How many times the subtree holds each well-formed entry: its join count. */
  readonly entries: Map<string, number>
  /** One Pid object per process id with entries here, and how many entries it has. */
  readonly pids: Map<number, { pid: Pid; entries: number }>
}

const log = logger('registry')

/** The replicas of one node's registry, and which owners are live. */
export class Replicas {
  private readonly replicas = new Map<string, Replica>()
  /** Replicas of live owners from an earlier epoch, shown until each writes its subtree in this one. */
  private carried = new Map<string, Replica>()
  /** The incarnation of every live owner, this node's included. */
  private readonly live = new Map<string, number>()
  /** Live peers whose subtree a peer's update just deleted: they must hear of it. */
  private readonly deletedLive = new Set<string>()
  private readonly ownKey: string

  constructor(
    self: { readonly nodeId: string; readonly incarnation: number },
    private readonly view: NameView,
    private readonly hooks: ReplicaHooks,
  ) {
    this.ownKey = ownerKey(self.nodeId, self.incarnation)
    this.live.set(self.nodeId, self.incarnation)
  }

  /** The incarnation of `nodeId` that is live, or undefined while it is down. */
  liveIncarnation(nodeId: string): number | undefined {
    return this.live.get(nodeId)
  }

  /** Marks an owner's incarnation live and shows its entries (not flushed). */
  showOwner(nodeId: string, incarnation: number): void {
    this.live.set(nodeId, incarnation)
    const replica = this.replicas.get(ownerKey(nodeId, incarnation))
    if (replica !== undefined) {
      for (const [entry, count] of replica.entries) this.showEntry(replica, entry, shown(count), 'nodeup')
    }
  }

  /** Marks a live owner down and hides its entries (not flushed). */
  hideOwner(nodeId: string): void {
    const incarnation = this.live.get(nodeId)
    if (incarnation === undefined) return
    this.live.delete(nodeId)
    const key = ownerKey(nodeId, incarnation)
    // A carried replica has no document to be collected from: it goes now.
    const replica = this.replicas.get(key) ?? this.carried.get(key)
    this.carried.delete(key)
    if (replica !== undefined) {
      for (const [entry, count] of replica.entries) this.showEntry(replica, entry, -shown(count), 'nodedown')
    }
  }

  /** The incarnations of `nodeId` before `incarnation` that still have a subtree. */
  earlierIncarnations(nodeId: string, incarnation: number): number[] {
    const earlier: number[] = []
    for (const replica of this.replicas.values()) {
      if (replica.nodeId === nodeId && replica.incarnation < incarnation) earlier.push(replica.incarnation)
    }
    return earlier
  }

  /** Whether the subtree under `key` may be collected: it is here and its owner is down. */
  collectable(key: string): boolean {
    const replica = this.replicas.get(key)
    return replica !== undefined && !this.isLive(replica)
  }

  /** The live peers whose subtree a peer's update deleted since the last call. */
  takeDeletedLive(): string[] {
    const owners = [...this.deletedLive]
    this.deletedLive.clear()
    return owners
  }

  /** Before a fresh document: live owners stay shown (carried) until their subtrees arrive in it; the rest go. */
  carryLive(): void {
    const carried = new Map<string, Replica>()
    for (const replicas of [this.carried, this.replicas]) {
      for (const [key, replica] of replicas) if (this.isLive(replica)) carried.set(key, replica)
    }
    this.carried = carried
    this.replicas.clear()
    this.deletedLive.clear()
  }

  /**
   * Folds a transaction's changes to `owners` into the replicas and the view (not flushed).
   * Returns whether a peer changed this node's own subtree, which must then be written back.
   */
  fold(owners: Y.Map<Y.Array<string>>, events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction): boolean {
    const reasons = reasonsOf(transaction.origin)
    const remote = transaction.origin instanceof RemoteUpdate
    let ownTouched = false
    const rebuilt = new Set<string>()
    for (const event of events) {
      if (event.target !== owners) continue
      for (const key of event.changes.keys.keys()) {
        rebuilt.add(key)
        // Our own entries come from our truth; a peer's change to them is repaired by the caller.
        if (!(remote && key === this.ownKey)) this.rebuild(owners, key, reasons, remote)
      }
    }
    const changed = new Map<Y.AbstractType<unknown>, Replica>()
    for (const event of events) {
      if (event.target === owners) continue
      const key = event.path[0]
      // Deeper events are changes inside a nested type: junk, never an entry.
      if (typeof key !== 'string' || event.path.length !== 1 || rebuilt.has(key)) continue
      if (remote && key === this.ownKey) {
        ownTouched = true
        continue
      }
      // The repair of that change: our replica never left our truth, which it restores.
      if (key === this.ownKey && transaction.origin instanceof OwnRepair) continue
      const replica = this.replicas.get(key)
      if (replica === undefined) this.rebuild(owners, key, reasons, remote)
      else changed.set(event.target, replica)
    }
    // Only owners' elements changed: count what was inserted and deleted.
    const counted = changed.size === 0 ? [] : elementDeltas(transaction, new Set(changed.keys()))
    for (const [subtree, deltas] of counted) {
      const replica = changed.get(subtree)!
      for (const [entry, delta] of deltas) {
        if (typeof entry !== 'string' || delta === 0) continue
        this.setEntry(replica, entry, Math.max(0, (replica.entries.get(entry) ?? 0) + delta), reasons)
      }
    }
    if (rebuilt.has(this.ownKey)) ownTouched = true
    return remote && ownTouched
  }

  /** Re-reads one owner's whole subtree, e.g. after it was added or deleted. */
  private rebuild(owners: Y.Map<Y.Array<string>>, key: string, reasons: Reasons, remote: boolean): void {
    const owner = parseOwnerKey(key)
    if (owner === undefined) {
      log('ignoring malformed owner key %o', key)
      return
    }
    const found: unknown = owners.get(key)
    // Anything but an array under an owner key is junk from a peer: read as no subtree.
    const subtree = found instanceof Y.Array ? (found as Y.Array<unknown>) : undefined
    let replica = this.replicas.get(key)
    if (subtree === undefined) {
      if (replica === undefined) return
      if (this.isLive(replica)) {
        // A peer collected the subtree of an owner we still reach (it lost the owner in a
        // partial split): the owner must learn of it to write its truth back.
        if (remote) this.deletedLive.add(replica.nodeId)
        for (const [entry, count] of replica.entries) this.showEntry(replica, entry, -shown(count), reasons.leave)
      }
      this.replicas.delete(key)
      this.hooks.dropped(key)
      return
    }
    const liveIncarnation = this.live.get(owner.nodeId)
    // A subtree of an earlier run of a live node (maybe this one): its processes died with it.
    if (liveIncarnation !== undefined && owner.incarnation < liveIncarnation) this.hooks.superseded(owner.nodeId, owner.incarnation)
    if (replica === undefined) {
      // The owner's first subtree in this epoch takes over what was carried of it.
      replica = this.carried.get(key) ?? { ...owner, entries: new Map(), pids: new Map() }
      this.carried.delete(key)
      this.replicas.set(key, replica)
    }
    const counts = new Map<string, number>()
    subtree.forEach((element) => {
      if (typeof element === 'string') counts.set(element, (counts.get(element) ?? 0) + 1)
    })
    for (const entry of [...replica.entries.keys()]) {
      if (!counts.has(entry)) this.setEntry(replica, entry, 0, reasons)
    }
    for (const [entry, count] of counts) this.setEntry(replica, entry, count, reasons)
  }

  /** Sets how many times a replica holds one entry (its elements in the subtree). */
  private setEntry(replica: Replica, entry: string, count: number, reasons: Reasons): void {
    if (parseEntryKey(entry) === undefined) {
      log('ignoring malformed entry %o', entry)
      return
    }
    const old = replica.entries.get(entry) ?? 0
    if (count === old) return
    if (count > MAX_JOIN_COUNT && old <= MAX_JOIN_COUNT) log('ignoring %o, held more than %d times', entry, MAX_JOIN_COUNT)
    if (count === 0) replica.entries.delete(entry)
    else replica.entries.set(entry, count)
    if (old === 0) this.countPidEntry(replica, entry, 1)
    const delta = shown(count) - shown(old)
    if (this.isLive(replica)) this.showEntry(replica, entry, delta, delta > 0 ? reasons.join : reasons.leave)
    if (count === 0) this.countPidEntry(replica, entry, -1)
  }

  /** Keeps one Pid object per process id while it has entries, dropping it with the last. */
  private countPidEntry(replica: Replica, entry: string, delta: 1 | -1): void {
    const pidId = (parseEntryKey(entry) as { pidId: number }).pidId
    const known = replica.pids.get(pidId)
    if (known === undefined) {
      if (delta > 0) replica.pids.set(pidId, { pid: new Pid(replica.nodeId, replica.incarnation, pidId), entries: 1 })
      return
    }
    known.entries += delta
    if (known.entries <= 0) replica.pids.delete(pidId)
  }

  /** Adds (delta > 0) or removes (delta < 0) visible registrations of one entry. */
  private showEntry(replica: Replica, entry: string, delta: number, reason: WatchReason): void {
    const parsed = parseEntryKey(entry)
    if (parsed === undefined) return
    const pid = replica.pids.get(parsed.pidId)?.pid ?? new Pid(replica.nodeId, replica.incarnation, parsed.pidId)
    this.view.show(parsed.name, pid, delta, reason)
  }

  private isLive(replica: Replica): boolean {
    return this.live.get(replica.nodeId) === replica.incarnation
  }
}

/**
 * The joins of an entry held `count` times that are shown: none past MAX_JOIN_COUNT, which
 * only a peer's junk reaches (a pid's joins would fill lookups, e.g. `allPidsOf`).
 */
function shown(count: number): number {
  return count <= MAX_JOIN_COUNT ? count : 0
}

/** The watch reasons of a transaction's joins and leaves. */
interface Reasons {
  readonly join: WatchReason
  readonly leave: WatchReason
}

function reasonsOf(origin: unknown): Reasons {
  const cause = origin instanceof LocalChange ? origin.reason : origin instanceof RemoteUpdate ? origin.cause : null
  return {
    join: cause === 'register' ? 'register' : 'sync',
    leave: cause === 'unregister' || cause === 'exit' ? cause : 'sync',
  }
}
