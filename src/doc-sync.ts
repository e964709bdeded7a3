/**
 * Keeps Yjs documents in sync with every connected peer, with the y-protocols sync
 * messages carried in `Sync` frames (see wire.ts):
 *
 * - when a peer joins, we send it step 1 (our state vector) for every shared document;
 * - on step 1 we answer step 2 (what the peer lacks), and our own step 1 if we had not sent
 *   one yet;
 * - a document shared while peers are already connected is also sent whole to each of
 *   them (they asked for it before we had it, and will not ask again);
 * - on step 2 the peer is synced for that document (`synced` hook);
 * - when a peer's frames move to another link, it is sent step 1 and our whole state as a
 *   step 2 again (`resync`): what went on the old link may be lost;
 * - every local change is sent as an update to every peer, with the cause its document's
 *   `causeOf` gives it. Updates from a peer are not relayed (the mesh is full, and each node
 *   hears every writer directly), except to the nodes the document's `relayTo` names: the
 *   registry's own rule (registry.ts).
 *
 * Presence (y-protocols awareness), when shared with a document: each node sends its own
 * client's state to every peer (on join and on every change, including the awareness's own
 * 15 s renewal), and drops the states a peer sent the moment that peer goes down — not
 * 30 s later, when awareness would time them out.
 *
 * Messages are read here rather than with y-protocols' `readSyncMessage`, which logs bad
 * updates to the console; a bad update from a peer becomes a `ProtocolError` instead.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as sync from 'y-protocols/sync'
import * as Y from 'yjs'
import { ArgumentError, EncodeError, ProtocolError } from './errors.js'
import { FrameType, type AwarenessFrame, type SyncFrame } from './wire.js'

/** The transaction origin of an update applied from a peer. */
export class RemoteUpdate {
  constructor(
    /** The node it came from. */
    readonly peer: string,
    /** Why its writer changed the document, as the writer's `causeOf` said. */
    readonly cause: string | null,
  ) {}
}

/** How a shared document replicates, beyond syncing with every peer. */
export interface Replication {
  /** Presence (y-protocols awareness) synced with the document. */
  readonly awareness?: awarenessProtocol.Awareness
  /** What a local transaction's origin says about it, sent along with its update. @default null */
  causeOf?(origin: unknown): string | null
  /** Nodes to pass an update from a peer on to, right after it was applied. @default none */
  relayTo?(): Iterable<string>
}

/** A peer as document sync sees it. */
export interface SyncPeer {
  readonly nodeId: string
  send(frame: SyncFrame | AwarenessFrame): void
}

/** What document sync tells its owner. */
export interface DocSyncHooks {
  /**
   * A message could not go to a peer (an update larger than the peer accepts): that peer
   * misses it until it syncs again, on its next link. Never thrown at the writer.
   */
  failed(error: EncodeError): void
  /** The peer's step 2 for `doc` arrived: we hold the peer's state of it. */
  synced(peer: SyncPeer, doc: string): void
  /**
   * A peer syncs `doc`, which is not shared here: the owner may share it now (the registry's
   * next epoch), and the message is then handled. @default ignored
   */
  unshared?(doc: string): void
}

interface SharedDoc {
  readonly doc: Y.Doc
  readonly stepOneSent: WeakSet<SyncPeer>
  readonly onUpdate: (update: Uint8Array, origin: unknown) => void
  /** Turns `onUpdate` on or off for each transaction, just before Yjs would encode its update. */
  readonly listen: (transaction: Y.Transaction) => void
  readonly presence?: Presence
}

/** An awareness instance synced with peers: each node sends its own client's state only. */
interface Presence {
  readonly awareness: awarenessProtocol.Awareness
  /** Awareness client ids whose states came from each peer, to remove when it goes. */
  readonly clientsOf: Map<SyncPeer, Set<number>>
  readonly onUpdate: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void
}

/** Syncs a set of named documents with a set of peers. */
export class DocSync {
  private readonly docs = new Map<string, SharedDoc>()
  private readonly peers = new Set<SyncPeer>()

  constructor(private readonly hooks: DocSyncHooks) {}

  /**
   * Starts syncing `doc` under `name` with every peer, replicated as `replication` says;
   * returns a function that stops it.
   */
  share(name: string, doc: Y.Doc, replication: Replication = {}): () => void {
    const { awareness } = replication
    if (this.docs.has(name)) throw new ArgumentError(`a document is already shared as ${JSON.stringify(name)}`)
    if (awareness !== undefined && awareness.doc !== doc) throw new ArgumentError('the awareness belongs to another document')
    // Who an update of a peer goes on to; decided per transaction in `listen`.
    let relayTo: readonly string[] = []
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      const remote = origin instanceof RemoteUpdate
      const cause = remote ? null : (replication.causeOf?.(origin) ?? null)
      const data = message((e) => sync.writeUpdate(e, update))
      for (const peer of this.peers)
        if (!remote || relayTo.includes(peer.nodeId)) this.send(peer, { type: FrameType.Sync, doc: name, data, cause })
    }
    // Yjs encodes a transaction's update only while something listens for it, and most
    // updates from peers go nowhere: listen for our own and for those relayed. The
    // transaction's observers have run by now, so `relayTo` knows what it changed.
    const listen = (transaction: Y.Transaction): void => {
      const remote = transaction.origin instanceof RemoteUpdate
      relayTo = remote ? [...(replication.relayTo?.() ?? [])] : []
      if (remote && relayTo.length === 0) doc.off('update', onUpdate)
      else doc.on('update', onUpdate)
    }
    const presence = awareness === undefined ? undefined : this.presence(name, awareness)
    const shared: SharedDoc = { doc, stepOneSent: new WeakSet(), onUpdate, listen, presence }
    this.docs.set(name, shared)
    doc.on('afterTransactionCleanup', listen)
    doc.on('update', onUpdate)
    presence?.awareness.on('update', presence.onUpdate)
    if (this.peers.size > 0) {
      // Peers that shared this name earlier sent their step 1 before we had the document,
      // so they will not ask again: send them our whole state along with our step 1.
      const state = message((e) => sync.writeUpdate(e, Y.encodeStateAsUpdate(doc)))
      for (const peer of this.peers) {
        this.sendStepOne(peer, name, shared)
        this.send(peer, { type: FrameType.Sync, doc: name, data: state, cause: null })
        this.sendOwnPresence(peer, name, shared)
      }
    }
    return () => {
      if (this.docs.get(name) !== shared) return
      this.stopSharing(shared)
      this.docs.delete(name)
    }
  }

  /** A peer completed its handshake: start syncing every document with it. */
  addPeer(peer: SyncPeer): void {
    this.peers.add(peer)
    for (const [name, shared] of this.docs) {
      this.sendStepOne(peer, name, shared)
      this.sendOwnPresence(peer, name, shared)
    }
  }

  /**
   * The peer's frames go out on another link now, and what went on the old one may be lost
   * (its gateway went): our updates, and the step 2 that answered the peer's step 1, which
   * the peer would never ask for again. Sends our step 1, our whole state as a step 2 (the
   * peer counts it as its answer), and our presence, for every document.
   */
  resync(peer: SyncPeer): void {
    for (const [name, shared] of this.docs) {
      this.sendStepOne(peer, name, shared)
      const state = message((e) => sync.writeSyncStep2(e, shared.doc))
      this.send(peer, { type: FrameType.Sync, doc: name, data: state, cause: null })
      this.sendOwnPresence(peer, name, shared)
    }
  }

  /** The peer is gone: so is its presence. */
  removePeer(peer: SyncPeer): void {
    this.peers.delete(peer)
    for (const { presence } of this.docs.values()) {
      const clients = presence?.clientsOf.get(peer)
      if (presence === undefined || clients === undefined) continue
      presence.clientsOf.delete(peer)
      awarenessProtocol.removeAwarenessStates(presence.awareness, [...clients], 'peer down')
    }
  }

  /** Handles an Awareness frame; throws `ProtocolError` for a malformed update. */
  receiveAwareness(peer: SyncPeer, frame: AwarenessFrame): void {
    const presence = this.docs.get(frame.doc)?.presence
    if (presence === undefined) return
    try {
      awarenessProtocol.applyAwarenessUpdate(presence.awareness, frame.data, new RemoteUpdate(peer.nodeId, null))
    } catch (cause) {
      throw new ProtocolError(`bad awareness update for ${frame.doc}`, peer.nodeId, { cause })
    }
  }

  /** Handles a Sync frame; throws `ProtocolError` for a malformed message or update. */
  receive(peer: SyncPeer, frame: SyncFrame): void {
    if (!this.docs.has(frame.doc)) this.hooks.unshared?.(frame.doc)
    const shared = this.docs.get(frame.doc)
    // A document the peer shares and we do not (yet): our step 1 will ask for it later.
    if (shared === undefined) return
    let kind: number
    let payload: Uint8Array
    try {
      const decoder = decoding.createDecoder(frame.data)
      kind = decoding.readVarUint(decoder)
      payload = decoding.readVarUint8Array(decoder)
    } catch (cause) {
      throw new ProtocolError(`malformed sync message for ${frame.doc}`, peer.nodeId, { cause })
    }
    switch (kind) {
      case sync.messageYjsSyncStep1: {
        let answer: Uint8Array
        try {
          answer = message((e) => sync.writeSyncStep2(e, shared.doc, payload))
        } catch (cause) {
          throw new ProtocolError(`malformed state vector for ${frame.doc}`, peer.nodeId, { cause })
        }
        this.send(peer, { type: FrameType.Sync, doc: frame.doc, data: answer, cause: null })
        if (!shared.stepOneSent.has(peer)) this.sendStepOne(peer, frame.doc, shared)
        return
      }
      case sync.messageYjsSyncStep2:
        this.apply(peer, frame, shared, payload)
        this.hooks.synced(peer, frame.doc)
        return
      case sync.messageYjsUpdate:
        this.apply(peer, frame, shared, payload)
        return
      default:
        throw new ProtocolError(`unknown sync message type ${kind}`, peer.nodeId)
    }
  }

  /** Stops syncing everything. */
  destroy(): void {
    for (const shared of this.docs.values()) this.stopSharing(shared)
    this.docs.clear()
    this.peers.clear()
  }

  private presence(name: string, awareness: awarenessProtocol.Awareness): Presence {
    const clientsOf = new Map<SyncPeer, Set<number>>()
    const peerOf = (origin: unknown): SyncPeer | undefined =>
      origin instanceof RemoteUpdate ? [...this.peers].find((p) => p.nodeId === origin.peer) : undefined
    const onUpdate: Presence['onUpdate'] = ({ added, updated, removed }, origin) => {
      const from = peerOf(origin)
      if (from !== undefined) {
        let clients = clientsOf.get(from)
        if (clients === undefined) clientsOf.set(from, (clients = new Set()))
        for (const id of [...added, ...updated]) clients.add(id)
        for (const id of removed) clients.delete(id)
        return
      }
      if (origin instanceof RemoteUpdate || ![...added, ...updated, ...removed].includes(awareness.clientID)) return
      const data = awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID])
      for (const peer of this.peers) this.send(peer, { type: FrameType.Awareness, doc: name, data })
    }
    return { awareness, clientsOf, onUpdate }
  }

  private sendOwnPresence(peer: SyncPeer, name: string, shared: SharedDoc): void {
    const awareness = shared.presence?.awareness
    if (awareness === undefined || awareness.getLocalState() === null) return
    const data = awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID])
    this.send(peer, { type: FrameType.Awareness, doc: name, data })
  }

  private stopSharing(shared: SharedDoc): void {
    shared.doc.off('afterTransactionCleanup', shared.listen)
    shared.doc.off('update', shared.onUpdate)
    const presence = shared.presence
    if (presence === undefined) return
    presence.awareness.off('update', presence.onUpdate)
    for (const clients of presence.clientsOf.values()) {
      awarenessProtocol.removeAwarenessStates(presence.awareness, [...clients], 'unshared')
    }
    presence.clientsOf.clear()
  }

  private apply(peer: SyncPeer, frame: SyncFrame, shared: SharedDoc, update: Uint8Array): void {
    try {
      Y.applyUpdate(shared.doc, update, new RemoteUpdate(peer.nodeId, frame.cause))
    } catch (cause) {
      throw new ProtocolError(`bad update for ${frame.doc}: ${(cause as Error).message}`, peer.nodeId, { cause })
    }
  }

  /** Sends to one peer; what cannot go is reported, not thrown (we may be inside a Yjs observer). */
  private send(peer: SyncPeer, frame: SyncFrame | AwarenessFrame): void {
    try {
      peer.send(frame)
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error
      this.hooks.failed(error)
    }
  }

  private sendStepOne(peer: SyncPeer, name: string, shared: SharedDoc): void {
    shared.stepOneSent.add(peer)
    this.send(peer, { type: FrameType.Sync, doc: name, data: message((e) => sync.writeSyncStep1(e, shared.doc)), cause: null })
  }
}

function message(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}
