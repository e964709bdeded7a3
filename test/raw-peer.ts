/**
 * Test-only helpers for speaking the wire protocol by hand.
 *
 * Design: a raw peer is just another endpoint on the same in-memory network, opened with
 * `network.transport().open(...)` and scripted by the test instead of by a node. So the
 * links under test are real memory-network links (same ordering, same close semantics);
 * nothing in src/ is wrapped or patched. The raw peer sends whatever bytes the test gives
 * it, decodes (with `decodeFrame`) and records what the nodes send it, and can act as a
 * well-behaved peer: `join()` sends Hello and its Sync step 1, and it answers every step 1
 * with a step 2 from its own registry Y.Doc, so the node counts it as up. Its Hello is
 * whatever the test says, so it can claim another id, room or protocol version than the
 * endpoint the network knows (the network itself would never link across rooms or ids).
 *
 * `tapTransport` is a Transport decorator that records every frame a real node receives,
 * to get genuine frames of a live session for mutation.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as sync from 'y-protocols/sync'
import * as Y from 'yjs'
import type { MemoryNetwork } from '../src/transport/memory.js'
import type { Link, Transport, TransportSession } from '../src/transport/transport.js'
import { FrameType, PROTOCOL_VERSION, decodeFrame, encodeFrame, type Frame, type HelloFrame } from '../src/wire.js'
import { Conditions } from './helpers.js'

/** Name of the registry document on the wire (node.ts keeps it private). */
export const REGISTRY_DOC = 'distribunator/registry'

const REMOTE = Symbol('applied from a node')

/** A scripted endpoint on a memory network. */
export class RawPeer {
  /** The open links, by the node id of the other side. */
  readonly links = new Map<string, Link>()
  /** Every frame received, decoded, by sender (a node never sends an undecodable one: that throws). */
  readonly received = new Map<string, Frame[]>()
  /** Links that closed, with their reason. */
  readonly closed: { node: string; reason: string }[] = []
  /** This peer's copy of the registry document, synced with the nodes it joined. */
  readonly doc = new Y.Doc()
  private readonly session: TransportSession
  private readonly joined = new Set<string>()
  private readonly conditions = new Conditions()

  constructor(
    network: MemoryNetwork,
    readonly nodeId: string,
    readonly incarnation = 1,
    readonly room = 'test',
  ) {
    this.session = network.transport().open(
      { nodeId, incarnation, room },
      {
        linkOpened: (link) => {
          this.links.set(link.remoteNodeId, link)
          this.notify()
        },
        frameReceived: (link, bytes) => this.onFrame(link, bytes),
        linkClosed: (link, reason) => {
          if (this.links.get(link.remoteNodeId) === link) this.links.delete(link.remoteNodeId)
          this.joined.delete(link.remoteNodeId)
          this.closed.push({ node: link.remoteNodeId, reason })
          this.notify()
        },
      },
    )
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return
      const data = message((e) => sync.writeUpdate(e, update))
      for (const node of this.joined) this.sendFrame(node, { type: FrameType.Sync, doc: REGISTRY_DOC, data, cause: null })
    })
  }

  /** Resolves once `condition` holds, re-checked whenever something arrives or a link changes. */
  when(condition: () => boolean): Promise<void> {
    return this.conditions.when(condition)
  }

  /** Resolves with the link to `node` once the network opened it. */
  async link(node: string): Promise<Link> {
    await this.when(() => this.links.has(node))
    return this.links.get(node) as Link
  }

  /** Sends raw bytes to `node` (dropped if not linked). */
  send(node: string, bytes: Uint8Array): void {
    this.links.get(node)?.send(bytes)
  }

  /** Encodes and sends a frame. */
  sendFrame(node: string, frame: Frame): void {
    this.send(node, encodeFrame(frame))
  }

  /** A Hello as this peer, with any field overridden. */
  hello(overrides: Partial<Omit<HelloFrame, 'type'>> = {}): HelloFrame {
    return {
      type: FrameType.Hello,
      version: PROTOCOL_VERSION,
      room: this.room,
      nodeId: this.nodeId,
      incarnation: this.incarnation,
      maxFrameBytes: 8 * 1024 * 1024,
      ...overrides,
    }
  }

  /** Handshakes with `node` and starts syncing the registry, as a real node would. */
  async join(node: string): Promise<void> {
    await this.link(node)
    this.sendFrame(node, this.hello())
    this.joined.add(node)
    this.sendFrame(node, { type: FrameType.Sync, doc: REGISTRY_DOC, data: message((e) => sync.writeSyncStep1(e, this.doc)), cause: null })
  }

  /** Frames received from `node` so far. */
  from(node: string): Frame[] {
    return this.received.get(node) ?? []
  }

  /** Resolves with the first frame from `node` (already received or coming) that matches. */
  async expectFrame<F extends Frame>(node: string, match: (frame: Frame) => frame is F): Promise<F>
  async expectFrame(node: string, match: (frame: Frame) => boolean): Promise<Frame>
  async expectFrame(node: string, match: (frame: Frame) => boolean): Promise<Frame> {
    let found: Frame | undefined
    await this.when(() => (found = this.from(node).find(match)) !== undefined)
    return found as Frame
  }

  /** Leaves the network. */
  close(): void {
    this.session.close()
    this.doc.destroy()
    this.conditions.clear()
  }

  private onFrame(link: Link, bytes: Uint8Array): void {
    const frame = decodeFrame(bytes, Infinity)
    const list = this.received.get(link.remoteNodeId) ?? []
    list.push(frame)
    this.received.set(link.remoteNodeId, list)
    if (frame.type === FrameType.Sync && frame.doc === REGISTRY_DOC && this.joined.has(link.remoteNodeId)) this.syncWith(link, frame.data)
    this.notify()
  }

  private syncWith(link: Link, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data)
    const kind = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (kind === sync.messageYjsSyncStep1) {
      const answer = message((e) => sync.writeSyncStep2(e, this.doc, payload))
      link.send(encodeFrame({ type: FrameType.Sync, doc: REGISTRY_DOC, data: answer, cause: null }))
    } else {
      Y.applyUpdate(this.doc, payload, REMOTE)
    }
  }

  private notify(): void {
    this.conditions.check()
  }
}

/** One frame a tapped node received. */
export interface TappedFrame {
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
}

/** Wraps a transport so that every frame the node receives is also pushed to `log`. */
export function tapTransport(inner: Transport, log: TappedFrame[]): Transport {
  return {
    open(self, handlers) {
      return inner.open(self, {
        linkOpened: (link) => handlers.linkOpened(link),
        frameReceived: (link, bytes) => {
          log.push({ from: link.remoteNodeId, to: self.nodeId, bytes: new Uint8Array(bytes) })
          handlers.frameReceived(link, bytes)
        },
        linkClosed: (link, reason) => handlers.linkClosed(link, reason),
      })
    },
  }
}

/** A y-protocols sync message built by `write`. */
export function message(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}
