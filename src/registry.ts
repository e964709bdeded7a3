/**
 * The name registry, a replicated `:pg`: name → pids, held in a Yjs document.
 *
 * Layout: the root map `owners` has one subtree per node incarnation, keyed
 * `nodeId@incarnation`; a subtree is an array of `pidId:name` entries, each there once per
 * join. A Y.Array, not a map, because Yjs merges one writer's consecutive appends into one
 * item: a name costs tens of bytes of Yjs structure instead of hundreds. Only the owner
 * writes its subtree (so no two nodes ever write one key). The one exception is garbage: a
 * survivor deletes the subtree of an incarnation that is certainly dead (a newer incarnation
 * or a Bye was seen) at once, and of one that stayed unreachable for the grace period later.
 * If the owner was only partitioned it sees its subtree deleted and writes it again from
 * the truth it keeps in memory — so a heal yields the union of each owner's current truth,
 * and nothing dead comes back, since the dead do not write.
 *
 * Lookups see only live owners: this node and the peers the node marked up (connected and
 * synced); the registry shows their entries in its `view` (name-view.ts) and hides the rest.
 *
 * This class wires the parts, one file each: this node's truth and its subtree
 * (registry-local.ts), the replicas of every subtree and what of them is shown
 * (registry-replicas.ts, counting changes with registry-deltas.ts), the collection of unreachable owners' subtrees
 * (registry-collector.ts), and the document itself, started afresh when dead writers
 * outweigh the owners present (registry-epochs.ts).
 */
import type * as Y from 'yjs'
import type { DocSync, Replication } from './doc-sync.js'
import { NameView } from './name-view.js'
import type { Pid } from './pid.js'
import { SubtreeCollector } from './registry-collector.js'
import { RegistryEpochs } from './registry-epochs.js'
import { ownerKey } from './registry-keys.js'
import { LocalRegistrations } from './registry-local.js'
import { LocalChange, Replicas } from './registry-replicas.js'
import type { LocalEndpoint } from './transport/transport.js'

/** The registry of one node. */
export class Registry {
  /** What lookups and watchers see. */
  readonly view: NameView
  /**
   * How the registry document replicates (doc-sync.ts): a write travels with its reason, for
   * peers' watch events; and an update from a peer that deleted the subtree of an owner this
   * node still reaches goes on to that owner, which must see it to write its names back.
   */
  readonly replication: Replication = {
    causeOf: (origin) => (origin instanceof LocalChange ? origin.reason : null),
    relayTo: () => this.replicas.takeDeletedLive(),
  }
  private readonly replicas: Replicas
  private readonly collector: SubtreeCollector
  private readonly epochs: RegistryEpochs
  private readonly local: LocalRegistrations
  private destroyed = false
  /** A peer changed our subtree in a transaction not yet settled. */
  private ownChanged = false

  constructor(
    private readonly self: LocalEndpoint,
    /** How long an unreachable owner's names are kept (hidden) before they are deleted, ms. */
    gracePeriod: number,
    listenerFailed: (error: unknown) => void,
  ) {
    this.view = new NameView(listenerFailed)
    this.replicas = new Replicas(self, this.view, {
      dropped: (key) => this.collector.spare(key),
      // Deleted in a transaction of its own, once this one is folded in.
      superseded: (nodeId, incarnation) => queueMicrotask(() => this.destroyed || this.forget(nodeId, incarnation)),
    })
    this.collector = new SubtreeCollector(gracePeriod, {
      collectable: (key) => this.replicas.collectable(key),
      collect: (keys) => this.deleteSubtrees(keys),
    })
    this.epochs = new RegistryEpochs(this.replication, {
      changed: (events, transaction) => this.changed(events, transaction),
      settled: () => this.settled(),
      leaving: () => {
        this.replicas.carryLive()
        this.collector.clear()
      },
      // Even empty: our subtree tells every peer to stop showing what it kept of us.
      entered: () => this.local.writeFresh(),
    })
    this.local = new LocalRegistrations(this.epochs, ownerKey(self.nodeId, self.incarnation))
  }

  /** The current document (a fresh one each epoch). */
  get doc(): Y.Doc {
    return this.epochs.doc
  }

  /** Starts syncing the document with peers through `docs`, and each later epoch's in turn. */
  shareWith(docs: Pick<DocSync, 'share'>): void {
    this.epochs.shareWith(docs)
  }

  /** Whether `name` is the current document's: a peer's step 2 of it means the peer is synced. */
  isDocName(name: string): boolean {
    return this.epochs.isDocName(name)
  }

  /** A peer syncs a document not shared here: if it is a later epoch of the registry, move to it. */
  peerShares(name: string): void {
    this.epochs.peerShares(name)
  }

  /** Adds one registration of a local pid (counted, like `:pg.join`). */
  join(name: string, pid: Pid): void {
    this.local.join(name, pid)
  }

  /** Removes one registration of a local pid. */
  leave(name: string, pid: Pid): 'ok' | 'not_joined' {
    return this.local.leave(name, pid)
  }

  /** Removes every registration of a local pid in one transaction (process exit). */
  leaveAll(pid: Pid): void {
    this.local.leaveAll(pid)
  }

  /** Shows the names of a peer incarnation (it is connected and synced). */
  markUp(nodeId: string, incarnation: number): void {
    const previous = this.replicas.liveIncarnation(nodeId)
    if (previous === incarnation) return
    if (previous !== undefined) this.markDown(nodeId)
    this.collector.spare(ownerKey(nodeId, incarnation))
    this.replicas.showOwner(nodeId, incarnation)
    this.view.flush()
    for (const earlier of this.replicas.earlierIncarnations(nodeId, incarnation)) this.forget(nodeId, earlier)
  }

  /** Hides the names of a peer at once (it went down); `forget` or the collector delete them. */
  markDown(nodeId: string, now = Date.now()): void {
    const incarnation = this.replicas.liveIncarnation(nodeId)
    if (incarnation === undefined || nodeId === this.self.nodeId) return
    this.collector.lost(ownerKey(nodeId, incarnation), now)
    this.replicas.hideOwner(nodeId)
    this.view.flush()
  }

  /** Deletes the subtree of an incarnation that is certainly dead. */
  forget(nodeId: string, incarnation: number): void {
    if (this.replicas.liveIncarnation(nodeId) === incarnation) this.markDown(nodeId)
    const key = ownerKey(nodeId, incarnation)
    this.collector.spare(key)
    if (this.epochs.owners.has(key)) this.deleteSubtrees([key])
  }

  /** No more collecting (nor a fresh epoch): the node is leaving, and what it holds no longer matters to anyone. */
  stopCollecting(): void {
    this.collector.stop()
    this.epochs.stop()
  }

  /** Releases the document and every listener. */
  destroy(): void {
    this.stopCollecting()
    this.destroyed = true
    this.view.clear()
    this.epochs.destroy()
  }

  /** Folds a transaction's changes in; what follows from them waits until it is settled. */
  private changed(events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction): void {
    if (this.replicas.fold(this.epochs.owners, events, transaction)) this.ownChanged = true
  }

  /**
   * Undoes a peer's change to our subtree, then tells the watchers. Not from inside the
   * observers: Yjs would run a write made there (ours, or a watcher's `register`) before the
   * observed transaction is cleaned up, mixing its structs into the ones fold counts.
   */
  private settled(): void {
    if (this.destroyed) return
    if (this.ownChanged) {
      this.ownChanged = false
      this.local.reassert()
    }
    this.view.flush()
    this.epochs.moveIfWorn()
  }

  private deleteSubtrees(keys: readonly string[]): void {
    this.epochs.doc.transact(() => {
      for (const key of keys) this.epochs.owners.delete(key)
    }, new LocalChange('sync'))
  }
}
