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
import { LocalChange, OwnRepair } from './registry-replicas.js'

const log = logger('registry')

/**
 * Yjs merges one writer's consecutive appends into one item by concatenating their arrays,
 * copying the whole item on each append (quadratic: 30k appends took 23 s). A tombstone
 * every ITEM_ELEMENTS appends ends the item, since a deleted item never merges with a live
 * one, so an append copies at most this many elements (30k: 0.6 s, ~0.4 bytes per entry).
 */
export const ITEM_ELEMENTS = 256

/** The registrations of this node's processes, and the subtree written from them. */
export class LocalRegistrations {
  private readonly truth = new Map<string, number>()
  private readonly truthByPid = new Map<number, Set<string>>()
  /**
   * Our subtree's elements in order, as we wrote them: where to delete one. Only this node
   * writes the subtree, and a peer's change to it is answered by `reassert`, which reads this
   * back from the document, so it never drifts from it.
   */
  private written: string[] = []
  /** Elements appended to the subtree's last item (see ITEM_ELEMENTS). */
  private inLastItem = 0

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
    this.registry.doc.transact(() => {
      const subtree = this.ownSubtree()
      this.truth.set(key, count)
      let names = this.truthByPid.get(pid.id)
      if (names === undefined) this.truthByPid.set(pid.id, (names = new Set()))
      names.add(name)
      this.append(subtree, [key])
    }, new LocalChange('register'))
  }

  /** Removes one registration of a local pid. */
  leave(name: string, pid: Pid): 'ok' | 'not_joined' {
    const key = entryKey(pid.id, name)
    const count = this.truth.get(key)
    if (count === undefined) return 'not_joined'
    this.registry.doc.transact(() => {
      const subtree = this.ownSubtree()
      if (count > 1) this.truth.set(key, count - 1)
      else this.forgetTruth(pid.id, name)
      const index = this.written.lastIndexOf(key)
      subtree.delete(index, 1)
      this.written.splice(index, 1)
    }, new LocalChange('unregister'))
    return 'ok'
  }

  /** Removes every registration of a local pid in one transaction (process exit). */
  leaveAll(pid: Pid): void {
    const names = this.truthByPid.get(pid.id)
    if (names === undefined) return
    this.registry.doc.transact(() => {
      const subtree = this.ownSubtree()
      const keys = new Set([...names].map((name) => entryKey(pid.id, name)))
      let elements = 0
      for (const key of keys) elements += this.truth.get(key) ?? 0
      for (const name of [...names]) this.forgetTruth(pid.id, name)
      this.deleteWritten(subtree, keys, elements)
    }, new LocalChange('exit'))
  }

  /**
   * Puts a fresh array of our truth under our key: our first write (in each epoch), or our
   * answer to a peer that deleted or replaced our subtree. Churn needs no rewrite: appends only ever go at the end, so
   * neighbours in the array are neighbours in Yjs's clock, and the tombstones of deleted
   * neighbours merge into one item; a subtree holds at most about two items per live entry.
   */
  writeFresh(): void {
    this.written = []
    this.inLastItem = 0
    const entries: string[] = []
    for (const [key, count] of this.truth) for (let i = 0; i < count; i++) entries.push(key)
    this.registry.doc.transact(() => {
      const fresh = new Y.Array<string>()
      this.registry.owners.set(this.ownKey, fresh)
      this.append(fresh, entries)
    }, new LocalChange('sync'))
  }

  /**
   * Writes our truth back after a peer deleted or changed our subtree. Where the subtree is
   * still an array, only what the peer changed is undone, so a peer's one junk element costs
   * an update of a few bytes, not a rewrite of all our names to every peer.
   */
  reassert(): void {
    const subtree = this.registry.owners.get(this.ownKey)
    if (this.truth.size === 0 && subtree === undefined) return
    log('re-asserting own subtree')
    if (!(subtree instanceof Y.Array)) return this.writeFresh()
    this.registry.doc.transact(() => {
      const elements: unknown[] = subtree.toArray()
      const wanted = new Map(this.truth)
      const kept: string[] = []
      const junk: number[] = []
      elements.forEach((element, index) => {
        const left = typeof element === 'string' ? (wanted.get(element) ?? 0) : 0
        if (left === 0) return junk.push(index)
        wanted.set(element as string, left - 1)
        kept.push(element as string)
      })
      // From the end, a run of neighbours at a time: a peer's junk comes in runs.
      for (let end = junk.length; end > 0;) {
        let start = end - 1
        while (start > 0 && junk[start - 1] === junk[start]! - 1) start--
        subtree.delete(junk[start]!, end - start)
        end = start
      }
      this.written = kept
      this.inLastItem = 0
      const missing: string[] = []
      for (const [key, count] of wanted) for (let i = 0; i < count; i++) missing.push(key)
      this.append(subtree, missing)
    }, new OwnRepair())
  }

  /** Appends `entries` to our subtree, in items of at most ITEM_ELEMENTS. */
  private append(subtree: Y.Array<string>, entries: readonly string[]): void {
    for (let from = 0; from < entries.length;) {
      const slice = entries.slice(from, from + ITEM_ELEMENTS - this.inLastItem)
      subtree.push(slice)
      for (const entry of slice) this.written.push(entry)
      from += slice.length
      this.inLastItem += slice.length
      if (this.inLastItem < ITEM_ELEMENTS) continue
      // Ends the item: an element appended and deleted at once, seen by no one.
      subtree.push([''])
      subtree.delete(subtree.length - 1, 1)
      this.inLastItem = 0
    }
  }

  /** Deletes the `elements` elements of our subtree that are in `keys`, looking from the end (a process's names are mostly recent). */
  private deleteWritten(subtree: Y.Array<string>, keys: ReadonlySet<string>, elements: number): void {
    for (let index = this.written.length - 1, left = elements; index >= 0 && left > 0; index--) {
      if (!keys.has(this.written[index] as string)) continue
      subtree.delete(index, 1)
      this.written.splice(index, 1)
      left--
    }
  }

  /** Our subtree; where it is missing (before our first write), written from our truth first. */
  private ownSubtree(): Y.Array<string> {
    const subtree = this.registry.owners.get(this.ownKey)
    if (subtree instanceof Y.Array) return subtree
    this.writeFresh()
    return this.registry.owners.get(this.ownKey) as Y.Array<string>
  }

  private forgetTruth(pidId: number, name: string): void {
    this.truth.delete(entryKey(pidId, name))
    const names = this.truthByPid.get(pidId)
    names?.delete(name)
    if (names?.size === 0) this.truthByPid.delete(pidId)
  }
}
