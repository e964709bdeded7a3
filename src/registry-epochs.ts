/**
 * Registry epochs: the current registry document (registry.ts), and moving to a fresh one.
 *
 * A Y.Doc never forgets a writer: every dead incarnation leaves its client id and deleted
 * ranges behind (~650 bytes each, seen in heap snapshots), so a node outliving many peer
 * restarts would grow without bound. Once such history outweighs the owners present, a node
 * starts a fresh document, the next epoch, synced under its own name (`registryDocName`),
 * and writes its truth into it. A peer that hears of a later epoch moves to it at once and
 * writes its own; one on an earlier epoch is not answered, so old history never reaches a
 * fresh document. Nodes that move concurrently pick the same next epoch, and its documents
 * merge as any others do. Until a live owner's subtree arrives in the new document, what
 * this node kept of it stays shown (carried, registry-replicas.ts), so no name of a live
 * owner flickers.
 */
import * as Y from 'yjs'
import type { DocSync, Replication } from './doc-sync.js'
import { logger } from './log.js'
import { parseRegistryDocName, registryDocName } from './registry-keys.js'

/** Receives every transaction's changes to the owners map and its subtrees. */
export type OwnersObserver = (events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction) => void

/** What the epochs tell the registry. */
export interface EpochHooks {
  /** Observes the owners map of every epoch's document in turn. */
  readonly changed: OwnersObserver
  /** Every transaction of the current document is observed and cleaned up: it may be written again. */
  settled(): void
  /** The current document is about to be destroyed for a fresh one: keep what must outlive it. */
  leaving(): void
  /** The fresh document is there, not yet shared: write this node's truth into it. */
  entered(): void
}

const log = logger('registry')

/**
 * Writers a Y.Doc keeps after they are gone (dead incarnations, ~650 bytes each) before the
 * registry starts a fresh document; and only once they outnumber the owners present.
 */
const FRESH_AFTER_DEAD_WRITERS = 64

/** The registry document of the current epoch, replaced by a fresh one when worn. */
export class RegistryEpochs {
  private current = new Y.Doc()
  private ownersMap = this.current.getMap<Y.Array<string>>('owners')
  /** The epoch of the current document: how many times it was started afresh. */
  private epoch = 0
  /** Where the document is synced with peers; set by `shareWith`. */
  private docs: Pick<DocSync, 'share'> | undefined
  private unshare: (() => void) | undefined
  private moveQueued = false
  /** Cleared for good when the node leaves: a leaving node starts no epoch. */
  private moving = true

  constructor(
    private readonly replication: Replication,
    private readonly hooks: EpochHooks,
  ) {
    this.ownersMap.observeDeep(hooks.changed)
    this.current.on('afterAllTransactions', hooks.settled)
  }

  /** The current document (a fresh one each epoch). */
  get doc(): Y.Doc {
    return this.current
  }

  /** The current document's root map: one subtree per owner. */
  get owners(): Y.Map<Y.Array<string>> {
    return this.ownersMap
  }

  /** Starts syncing the document with peers through `docs`, and each later epoch's in turn. */
  shareWith(docs: Pick<DocSync, 'share'>): void {
    this.docs = docs
    this.unshare = docs.share(registryDocName(this.epoch), this.current, this.replication)
  }

  /** Whether `name` is the current document's. */
  isDocName(name: string): boolean {
    return name === registryDocName(this.epoch)
  }

  /** A peer syncs a document not shared here: if it is a later epoch of the registry, move to it. */
  peerShares(name: string): void {
    const epoch = parseRegistryDocName(name)
    if (epoch !== undefined && epoch > this.epoch) this.moveTo(epoch)
  }

  /** Past FRESH_AFTER_DEAD_WRITERS writers gone (each a client id Yjs keeps), the next epoch. */
  moveIfWorn(): void {
    const dead = this.current.store.clients.size - this.ownersMap.size
    if (this.moveQueued || dead < FRESH_AFTER_DEAD_WRITERS || dead <= this.ownersMap.size) return
    this.moveQueued = true
    const from = this.epoch
    // Not from inside this document's observer: the document is about to be destroyed.
    queueMicrotask(() => {
      this.moveQueued = false
      if (this.epoch === from) this.moveTo(from + 1)
    })
  }

  /** No more moves: the node is leaving. */
  stop(): void {
    this.moving = false
  }

  /** Releases the document. */
  destroy(): void {
    this.moving = false
    this.current.destroy()
  }

  /**
   * Starts the document of `epoch`, shared in place of the old one, which is destroyed with
   * its history; `leaving` and `entered` carry what must outlive it and write our truth.
   */
  private moveTo(epoch: number): void {
    if (!this.moving || this.docs === undefined || !Number.isSafeInteger(epoch)) return
    log('moving the registry to epoch %d', epoch)
    this.hooks.leaving()
    this.unshare?.()
    this.ownersMap.unobserveDeep(this.hooks.changed)
    this.current.off('afterAllTransactions', this.hooks.settled)
    this.current.destroy()
    this.epoch = epoch
    this.current = new Y.Doc()
    this.ownersMap = this.current.getMap('owners')
    this.ownersMap.observeDeep(this.hooks.changed)
    this.current.on('afterAllTransactions', this.hooks.settled)
    this.hooks.entered()
    this.unshare = this.docs.share(registryDocName(epoch), this.current, this.replication)
  }
}
