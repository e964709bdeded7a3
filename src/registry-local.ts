/**
 * This node's own registrations: the truth it keeps in memory, and its subtree in the
 * registry document (registry.ts), which only this node writes and always from that truth.
 * A peer may still delete or change the subtree (a collection during a partition, junk):
 * the truth is then written back, so nothing the node holds is lost and nothing it dropped
 * comes back.
 */
import * as Y from 'yjs'
import { ArgumentError } from './errors.js'
import { logger } from './log.js'
import type { Pid } from './pid.js'
import type { RegistryEpochs } from './registry-epochs.js'
import { entryKey, MAX_JOIN_COUNT } from './registry-keys.js'
import { LocalChange } from './registry-replicas.js'

const log = logger('registry')

/**
 * Every key ever deleted from a Y.Map stays in it as a tombstone (~18 bytes), so process
 * churn would grow our subtree, and every peer's copy, without bound. Past this many
 * deletions, outnumbering the live entries four to one, the owner replaces its subtree by a
 * fresh map of its truth; Yjs then collects the old map whole.
 */
const COMPACT_AFTER_DELETES = 1024

/** The registrations of this node's processes, and the subtree written from them. */
export class LocalRegistrations {
  private readonly truth = new Map<string, number>()
  private readonly truthByPid = new Map<number, Set<string>>()
  /** Keys deleted from our own subtree since it was last written fresh. */
  private ownDeletes = 0

  constructor(
    /** The current registry document, whichever epoch it is. */
    private readonly registry: Pick<RegistryEpochs, 'doc' | 'owners'>,
    private readonly ownKey: string,
  ) {}

  /** Adds one registration of a local pid (counted, like `:pg.join`). */
  join(name: string, pid: Pid): void {
    const key = entryKey(pid.id, name)
    const count = (this.truth.get(key) ?? 0) + 1
    if (count > MAX_JOIN_COUNT) throw new ArgumentError(`${pid} is already registered ${MAX_JOIN_COUNT} times as ${JSON.stringify(name)}`)
    this.truth.set(key, count)
    let names = this.truthByPid.get(pid.id)
    if (names === undefined) this.truthByPid.set(pid.id, (names = new Set()))
    names.add(name)
    this.registry.doc.transact(() => this.ownSubtree().set(key, count), new LocalChange('register'))
  }

  /** Removes one registration of a local pid. */
  leave(name: string, pid: Pid): 'ok' | 'not_joined' {
    const key = entryKey(pid.id, name)
    const count = this.truth.get(key)
    if (count === undefined) return 'not_joined'
    this.registry.doc.transact(() => {
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
    this.registry.doc.transact(() => {
      const subtree = this.ownSubtree()
      for (const name of [...names]) {
        this.forgetTruth(pid.id, name)
        subtree.delete(entryKey(pid.id, name))
        this.ownDeletes++
      }
    }, new LocalChange('exit'))
    this.compactIfWorn()
  }

  /** Puts a fresh map of our truth under our key: a compaction, or our first write in a new epoch. */
  writeFresh(): void {
    this.ownDeletes = 0
    this.registry.doc.transact(() => {
      const fresh = new Y.Map<number>()
      for (const [key, count] of this.truth) fresh.set(key, count)
      this.registry.owners.set(this.ownKey, fresh)
    }, new LocalChange('sync'))
  }

  /** Writes our truth back after a peer deleted or changed our subtree. */
  reassert(): void {
    log('re-asserting own subtree')
    this.registry.doc.transact(() => {
      const subtree = this.truth.size > 0 || this.registry.owners.has(this.ownKey) ? this.ownSubtree() : undefined
      if (subtree === undefined) return
      for (const [key, count] of this.truth) if (subtree.get(key) !== count) subtree.set(key, count)
      for (const key of [...subtree.keys()]) if (!this.truth.has(key)) subtree.delete(key)
    }, new LocalChange('sync'))
  }

  /** Rewrites our subtree once deletions have worn it (see COMPACT_AFTER_DELETES). */
  private compactIfWorn(): void {
    if (this.ownDeletes < COMPACT_AFTER_DELETES || this.ownDeletes < 4 * this.truth.size) return
    log('compacting own subtree (%d live entries)', this.truth.size)
    this.writeFresh()
  }

  private ownSubtree(): Y.Map<number> {
    let subtree = this.registry.owners.get(this.ownKey)
    // Not a map: junk a peer wrote over our key; our truth replaces it.
    if (!(subtree instanceof Y.Map)) {
      subtree = new Y.Map<number>()
      this.registry.owners.set(this.ownKey, subtree)
    }
    return subtree
  }

  private forgetTruth(pidId: number, name: string): void {
    this.truth.delete(entryKey(pidId, name))
    const names = this.truthByPid.get(pidId)
    names?.delete(name)
    if (names?.size === 0) this.truthByPid.delete(pidId)
  }
}
