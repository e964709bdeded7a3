/**
 * The name registry, a replicated `:pg`: name → pids, held in a Yjs document.
 *
 * Layout: the root map `owners` has one subtree per node incarnation, keyed
 * `nodeId@incarnation`; a subtree maps `pidId:name` to a join count. Only the owner writes
 * its subtree (so no two nodes ever write one key). The one exception is garbage: a survivor
 * deletes the subtree of an incarnation that is certainly dead (a newer incarnation or a
 * Bye was seen) at once, and of one that stayed unreachable for the grace period later.
 * If the owner was only partitioned it sees its subtree deleted and writes it again from
 * the truth it keeps in memory — so a heal yields the union of each owner's current truth,
 * and nothing dead comes back, since the dead do not write.
 *
 * Lookups see only live owners: this node and the peers the node marked up (connected and
 * synced); the registry shows their entries in its `view` (name-view.ts) and hides the rest.
 * A replica of every subtree is kept in plain maps because a deleted Yjs type can no longer
 * be read, and leave events need to know what it held.
 *
 * Epochs. A Y.Doc never forgets a writer: every dead incarnation leaves its client id and
 * deleted ranges behind (~650 bytes each, seen in heap snapshots), so a node outliving many
 * peer restarts would grow without bound. Once such history outweighs the owners present, a
 * node starts a fresh document, the next epoch, synced under its own name
 * (`registryDocName`), and writes its truth into it. A peer that hears of a later epoch
 * moves to it at once and writes its own; one on an earlier epoch is not answered, so old
 * history never reaches a fresh document. Nodes that move concurrently pick the same next
 * epoch, and its documents merge as any others do. Until a live owner's subtree arrives in
 * the new document, what this node kept of it stays shown (`carried`), so no name of a live
 * owner flickers; the subtree then takes over that replica, and only differences show.
 */
import * as Y from 'yjs'
import { RemoteUpdate, type DocSync, type Replication } from './doc-sync.js'
import { ArgumentError } from './errors.js'
import { logger } from './log.js'
import { NameView, type WatchReason } from './name-view.js'
import { Pid } from './pid.js'
import { entryKey, ownerKey, parseEntryKey, parseOwnerKey, parseRegistryDocName, registryDocName } from './registry-keys.js'
import type { LocalEndpoint } from './transport/transport.js'

/** Transaction origin of this node's own registry writes; its reason travels as the cause. */
class LocalChange {
  constructor(readonly reason: WatchReason) {}
}

interface Replica {
  readonly nodeId: string
  readonly incarnation: number
  readonly entries: Map<string, number>
  /** One Pid object per process id with entries here, and how many entries it has. */
  readonly pids: Map<number, { pid: Pid; entries: number }>
}

const log = logger('registry')

/** Most registrations of one pid under one name; a larger count from a peer is ignored. */
const MAX_JOIN_COUNT = 65_536

/**
 * Every key ever deleted from a Y.Map stays in it as a tombstone (~18 bytes), so process
 * churn would grow our subtree, and every peer's copy, without bound. Past this many
 * deletions, outnumbering the live entries four to one, the owner replaces its subtree by a
 * fresh map of its truth; Yjs then collects the old map whole.
 */
const COMPACT_AFTER_DELETES = 1024

/**
 * Writers a Y.Doc keeps after they are gone (dead incarnations, ~650 bytes each) before the
 * registry starts a fresh document; and only once they outnumber the owners present.
 */
const FRESH_AFTER_DEAD_WRITERS = 64

type Observer = (events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction) => void

/** The registry of one node. */
export class Registry {
  private current = new Y.Doc()
  private owners = this.current.getMap<Y.Map<number>>('owners')
  private readonly observer: Observer = (events, transaction) => this.integrate(events, transaction)
  /** The epoch of the current document: how many times it was started afresh. */
  private epoch = 0
  /** Where the document is synced with peers; set by `shareWith`. */
  private docs: Pick<DocSync, 'share'> | undefined
  private unshare: (() => void) | undefined
  private moveQueued = false
  private readonly ownKey: string
  /** What lookups and watchers see. */
  readonly view: NameView
  private readonly replicas = new Map<string, Replica>()
  /** Replicas of live owners from an earlier epoch, shown until each writes its subtree in this one. */
  private carried = new Map<string, Replica>()
  private readonly live = new Map<string, number>()
  private readonly truth = new Map<string, number>()
  private readonly truthByPid = new Map<number, Set<string>>()
  /** Owners this node saw go down, since when: only these are ever collected here. */
  private readonly unreachableSince = new Map<string, number>()
  /** Live peers whose subtree a peer's update just deleted: they must hear of it. */
  private readonly deletedLive = new Set<string>()
  private destroyed = false
  /** Keys deleted from our own subtree since it was last written fresh. */
  private ownDeletes = 0

  /** One timer collects the subtrees of owners unreachable for the grace period; stopped for good by `stopCollecting`. */
  private collectTimer: ReturnType<typeof setTimeout> | undefined
  private collecting = true

  constructor(
    private readonly self: LocalEndpoint,
    /** How long an unreachable owner's names are kept (hidden) before they are deleted, ms. */
    private readonly gracePeriod: number,
    listenerFailed: (error: unknown) => void,
  ) {
    this.view = new NameView(listenerFailed)
    this.ownKey = ownerKey(self.nodeId, self.incarnation)
    this.live.set(self.nodeId, self.incarnation)
    this.owners.observeDeep(this.observer)
  }

  /** The current document (a fresh one each epoch). */
  get doc(): Y.Doc {
    return this.current
  }

  /** Starts syncing the document with peers through `docs`, and each later epoch's in turn. */
  shareWith(docs: Pick<DocSync, 'share'>): void {
    this.docs = docs
    this.unshare = docs.share(registryDocName(this.epoch), this.current, this.replication)
  }

  /** Whether `name` is the current document's: a peer's step 2 of it means the peer is synced. */
  isDocName(name: string): boolean {
    return name === registryDocName(this.epoch)
  }

  /** A peer syncs a document not shared here: if it is a later epoch of the registry, move to it. */
  peerShares(name: string): void {
    const epoch = parseRegistryDocName(name)
    if (epoch !== undefined && epoch > this.epoch) this.moveTo(epoch)
  }

  /** Adds one registration of a local pid (counted, like `:pg.join`). */
  join(name: string, pid: Pid): void {
    const key = entryKey(pid.id, name)
    const count = (this.truth.get(key) ?? 0) + 1
    if (count > MAX_JOIN_COUNT) throw new ArgumentError(`${pid} is already registered ${MAX_JOIN_COUNT} times as ${JSON.stringify(name)}`)
    this.truth.set(key, count)
    let names = this.truthByPid.get(pid.id)
    if (names === undefined) this.truthByPid.set(pid.id, (names = new Set()))
    names.add(name)
    this.doc.transact(() => this.ownSubtree().set(key, count), new LocalChange('register'))
  }

  /** Removes one registration of a local pid. */
  leave(name: string, pid: Pid): 'ok' | 'not_joined' {
    const key = entryKey(pid.id, name)
    const count = this.truth.get(key)
    if (count === undefined) return 'not_joined'
    this.doc.transact(() => {
      if (count > 1) {
        this.truth.set(key, count - 1)
        this.ownSubtree().set(key, count - 1)
      } else {
        this.forgetTruth(pid.id, name)
        this.ownSubtree().delete(key)
        this.ownDeletes++
      }
    }, new LocalChange('unregister'))
    this.compactIfWorn()
    return 'ok'
  }

  /** Removes every registration of a local pid in one transaction (process exit). */
  leaveAll(pid: Pid): void {
    const names = this.truthByPid.get(pid.id)
    if (names === undefined) return
    this.doc.transact(() => {
      const subtree = this.ownSubtree()
      for (const name of [...names]) {
        this.forgetTruth(pid.id, name)
        subtree.delete(entryKey(pid.id, name))
        this.ownDeletes++
      }
    }, new LocalChange('exit'))
    this.compactIfWorn()
  }

  /**
   * How the registry document replicates (doc-sync.ts): a write travels with its reason, for
   * peers' watch events; and an update from a peer that deleted the subtree of an owner this
   * node still reaches goes on to that owner, which must see it to write its names back.
   */
  readonly replication: Replication = {
    causeOf: (origin) => (origin instanceof LocalChange ? origin.reason : null),
    relayTo: () => {
      const owners = [...this.deletedLive]
      this.deletedLive.clear()
      return owners
    },
  }

  /** Shows the names of a peer incarnation (it is connected and synced). */
  markUp(nodeId: string, incarnation: number): void {
    const previous = this.live.get(nodeId)
    if (previous === incarnation) return
    if (previous !== undefined) this.markDown(nodeId)
    this.live.set(nodeId, incarnation)
    const key = ownerKey(nodeId, incarnation)
    this.unreachableSince.delete(key)
    const replica = this.replicas.get(key)
    if (replica !== undefined) {
      for (const [entry, count] of replica.entries) this.showEntry(replica, entry, count, 'nodeup')
    }
    this.view.flush()
    for (const other of [...this.replicas.values()]) {
      if (other.nodeId === nodeId && other.incarnation < incarnation) this.forget(nodeId, other.incarnation)
    }
  }

  /** Hides the names of a peer at once (it went down); `forget` or `collect` delete them. */
  markDown(nodeId: string, now = Date.now()): void {
    const incarnation = this.live.get(nodeId)
    if (incarnation === undefined || nodeId === this.self.nodeId) return
    this.live.delete(nodeId)
    const key = ownerKey(nodeId, incarnation)
    this.unreachableSince.set(key, now)
    this.scheduleCollect(this.gracePeriod)
    // A carried replica has no document to be collected from: it goes now.
    const replica = this.replicas.get(key) ?? this.carried.get(key)
    this.carried.delete(key)
    if (replica !== undefined) {
      for (const [entry, count] of replica.entries) this.showEntry(replica, entry, -count, 'nodedown')
    }
    this.view.flush()
  }

  /** Deletes the subtree of an incarnation that is certainly dead. */
  forget(nodeId: string, incarnation: number): void {
    if (this.live.get(nodeId) === incarnation) this.markDown(nodeId)
    const key = ownerKey(nodeId, incarnation)
    this.unreachableSince.delete(key)
    if (this.owners.has(key)) this.doc.transact(() => this.owners.delete(key), new LocalChange('sync'))
  }

  /** No more collecting: the node is leaving, and what it holds no longer matters to anyone. */
  stopCollecting(): void {
    this.collecting = false
    clearTimeout(this.collectTimer)
  }

  private scheduleCollect(delay: number): void {
    if (this.collectTimer !== undefined || !this.collecting) return
    this.collectTimer = setTimeout(() => {
      this.collectTimer = undefined
      const next = this.collect(this.gracePeriod)
      if (next !== undefined) this.scheduleCollect(next)
    }, delay)
  }

  /**
   * Deletes the subtrees of owners that went down here and stayed unreachable for `grace`
   * ms. Returns the ms until the next one is due, or undefined when none is waiting.
   */
  private collect(grace: number, now = Date.now()): number | undefined {
    let next: number | undefined
    const expired: string[] = []
    // Only owners this node saw go down: one it never reached may well be alive for others.
    for (const [key, since] of this.unreachableSince) {
      const replica = this.replicas.get(key)
      if (replica === undefined || this.isLive(replica)) {
        this.unreachableSince.delete(key)
        continue
      }
      const due = since + grace - now
      if (due <= 0) expired.push(key)
      else next = next === undefined ? due : Math.min(next, due)
    }
    if (expired.length > 0) {
      log('collecting %d unreachable subtrees', expired.length)
      this.doc.transact(() => {
        for (const key of expired) {
          this.unreachableSince.delete(key)
          this.owners.delete(key)
        }
      }, new LocalChange('sync'))
    }
    return next
  }

  /** Releases the document and every listener. */
  destroy(): void {
    this.stopCollecting()
    this.destroyed = true
    this.view.clear()
    this.current.destroy()
  }

  /** Past FRESH_AFTER_DEAD_WRITERS writers gone (each a client id Yjs keeps), the next epoch. */
  private moveIfWorn(): void {
    const dead = this.current.store.clients.size - this.owners.size
    if (this.moveQueued || dead < FRESH_AFTER_DEAD_WRITERS || dead <= this.owners.size) return
    this.moveQueued = true
    const from = this.epoch
    // Not from inside this document's observer: the document is about to be destroyed.
    queueMicrotask(() => {
      this.moveQueued = false
      if (this.epoch === from) this.moveTo(from + 1)
    })
  }

  /**
   * Starts the document of `epoch` with this node's truth in it, shared in place of the old
   * one, which is destroyed with its history. Live owners stay shown from their replicas
   * until their subtrees arrive; the subtrees of hidden owners are not carried (an owner
   * that is alive writes its own when it links again, as after a collection).
   */
  private moveTo(epoch: number): void {
    if (this.destroyed || !this.collecting || this.docs === undefined || !Number.isSafeInteger(epoch)) return
    log('moving the registry to epoch %d', epoch)
    const carried = new Map<string, Replica>()
    for (const replicas of [this.carried, this.replicas]) {
      for (const [key, replica] of replicas) if (this.isLive(replica)) carried.set(key, replica)
    }
    this.carried = carried
    this.replicas.clear()
    this.unreachableSince.clear()
    this.deletedLive.clear()
    this.unshare?.()
    this.owners.unobserveDeep(this.observer)
    this.current.destroy()
    this.epoch = epoch
    this.current = new Y.Doc()
    this.owners = this.current.getMap('owners')
    this.owners.observeDeep(this.observer)
    this.ownDeletes = 0
    // Even empty: our subtree tells every peer to stop showing what it kept of us.
    this.current.transact(() => this.owners.set(this.ownKey, this.freshSubtree()), new LocalChange('sync'))
    this.unshare = this.docs.share(registryDocName(epoch), this.current, this.replication)
  }

  /** Rewrites our subtree from our truth once deletions have worn it (see COMPACT_AFTER_DELETES). */
  private compactIfWorn(): void {
    if (this.ownDeletes < COMPACT_AFTER_DELETES || this.ownDeletes < 4 * this.truth.size) return
    this.ownDeletes = 0
    log('compacting own subtree (%d live entries)', this.truth.size)
    this.doc.transact(() => this.owners.set(this.ownKey, this.freshSubtree()), new LocalChange('sync'))
  }

  /** A new map holding exactly our truth, to put under our key. */
  private freshSubtree(): Y.Map<number> {
    const fresh = new Y.Map<number>()
    for (const [key, count] of this.truth) fresh.set(key, count)
    return fresh
  }

  private ownSubtree(): Y.Map<number> {
    let subtree = this.owners.get(this.ownKey)
    // Not a map: junk a peer wrote over our key; our truth replaces it.
    if (!(subtree instanceof Y.Map)) {
      subtree = new Y.Map<number>()
      this.owners.set(this.ownKey, subtree)
    }
    return subtree
  }

  private forgetTruth(pidId: number, name: string): void {
    this.truth.delete(entryKey(pidId, name))
    const names = this.truthByPid.get(pidId)
    names?.delete(name)
    if (names?.size === 0) this.truthByPid.delete(pidId)
  }

  /** Folds a transaction's changes into the replicas and the visible view. */
  private integrate(events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction): void {
    const reasons = reasonsOf(transaction.origin)
    const remote = transaction.origin instanceof RemoteUpdate
    let ownTouched = false
    const rebuilt = new Set<string>()
    for (const event of events) {
      if (event.target !== this.owners) continue
      for (const key of event.changes.keys.keys()) {
        rebuilt.add(key)
        // Our own entries come from our truth; a peer's change to them is repaired below.
        if (!(remote && key === this.ownKey)) this.rebuild(key, reasons, remote)
      }
    }
    for (const event of events) {
      if (event.target === this.owners) continue
      const key = event.path[0]
      // Deeper events are changes inside a nested type: junk, never an entry.
      if (typeof key !== 'string' || event.path.length !== 1 || rebuilt.has(key)) continue
      if (remote && key === this.ownKey) {
        ownTouched = true
        continue
      }
      const replica = this.replicas.get(key)
      if (replica === undefined) {
        this.rebuild(key, reasons, remote)
        continue
      }
      const subtree = event.target as Y.Map<unknown>
      for (const entry of event.changes.keys.keys()) this.setEntry(replica, entry, subtree.get(entry), reasons)
    }
    if (rebuilt.has(this.ownKey)) ownTouched = true
    this.view.flush()
    if (remote && ownTouched) this.reassert()
    this.moveIfWorn()
  }

  /** Re-reads one owner's whole subtree, e.g. after it was added or deleted. */
  private rebuild(key: string, reasons: Reasons, remote: boolean): void {
    const owner = parseOwnerKey(key)
    if (owner === undefined) {
      log('ignoring malformed owner key %o', key)
      return
    }
    const found: unknown = this.owners.get(key)
    // Anything but a map under an owner key is junk from a peer: read as no subtree.
    const subtree = found instanceof Y.Map ? (found as Y.Map<number>) : undefined
    let replica = this.replicas.get(key)
    if (subtree === undefined) {
      if (replica === undefined) return
      if (this.isLive(replica)) {
        // A peer collected the subtree of an owner we still reach (it lost the owner in a
        // partial split): the owner must learn of it to write its truth back.
        if (remote) this.deletedLive.add(replica.nodeId)
        for (const [entry, count] of replica.entries) this.showEntry(replica, entry, -count, reasons.leave)
      }
      this.replicas.delete(key)
      this.unreachableSince.delete(key)
      return
    }
    const liveIncarnation = this.live.get(owner.nodeId)
    if (liveIncarnation !== undefined && owner.incarnation < liveIncarnation) {
      // A subtree of an earlier run of a live node (maybe this one): its processes died with it.
      queueMicrotask(() => this.destroyed || this.forget(owner.nodeId, owner.incarnation))
    }
    if (replica === undefined) {
      // The owner's first subtree in this epoch takes over what was carried of it.
      replica = this.carried.get(key) ?? { ...owner, entries: new Map(), pids: new Map() }
      this.carried.delete(key)
      this.replicas.set(key, replica)
    }
    for (const entry of [...replica.entries.keys()]) {
      if (!subtree.has(entry)) this.setEntry(replica, entry, undefined, reasons)
    }
    for (const [entry, count] of subtree) this.setEntry(replica, entry, count, reasons)
  }

  /** Sets one entry of a replica to `value` (a count; anything else means absent). */
  private setEntry(replica: Replica, entry: string, value: unknown, reasons: Reasons): void {
    // A count over MAX_JOIN_COUNT is junk: expanding it into the view would exhaust memory.
    const count = typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= MAX_JOIN_COUNT ? value : 0
    if (value !== undefined && count === 0) log('ignoring malformed count %o for %o', value, entry)
    if (parseEntryKey(entry) === undefined) {
      log('ignoring malformed entry key %o', entry)
      return
    }
    const old = replica.entries.get(entry) ?? 0
    if (count === old) return
    if (count === 0) replica.entries.delete(entry)
    else replica.entries.set(entry, count)
    if (old === 0) this.countPidEntry(replica, entry, 1)
    if (this.isLive(replica)) this.showEntry(replica, entry, count - old, count > old ? reasons.join : reasons.leave)
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

  /** Writes this node's truth back after a peer deleted or changed its subtree. */
  private reassert(): void {
    log('re-asserting own subtree')
    this.doc.transact(() => {
      const subtree = this.truth.size > 0 || this.owners.has(this.ownKey) ? this.ownSubtree() : undefined
      if (subtree === undefined) return
      for (const [key, count] of this.truth) if (subtree.get(key) !== count) subtree.set(key, count)
      for (const key of [...subtree.keys()]) if (!this.truth.has(key)) subtree.delete(key)
    }, new LocalChange('sync'))
  }

  private isLive(replica: Replica): boolean {
    return this.live.get(replica.nodeId) === replica.incarnation
  }
}

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
