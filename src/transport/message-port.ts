/**
 * Links over MessagePorts: a page and its Web Worker or SharedWorker (or two Node worker
 * threads). The page makes a MessageChannel, keeps one port and hands the other to the
 * worker inside `{ distribunator: 'port', port }` (`node.attachWorker(worker)`); a worker node
 * started with `parent: self` links over every such port it receives. Messages on a port:
 *
 *   { type: 'announce', from: {nodeId, incarnation} }   each side's first message
 *   { type: 'frame', data }                              one frame of the link, or a batch of the
 *                                                        frames one task sent (batching.ts)
 *   { type: 'bye' }                                      the link is closed
 *
 * A port queues messages until its other side listens, so the announces cannot be missed;
 * the link opens when the other side's announce arrives. A terminated worker says nothing:
 * heartbeats find out, as for a crashed tab.
 */
import { ArgumentError } from '../errors.js'
import { logger } from '../log.js'
import { Batcher, unbatch } from './batching.js'
import { exactCopy } from './exact-buffers.js'
import type { CloseReason, Link, LocalEndpoint, Route, Transport, TransportHooks, TransportSession } from './transport.js'

/** The message that hands a port to a worker node. */
export interface PortHandover {
  readonly distribunator: 'port'
  readonly port: MessagePort
}

/** A worker's global scope, as much as `parent` needs of it: `self` in a Worker or SharedWorker, or a MessagePort. */
export interface WorkerScope {
  /** Listens for ports handed over by pages ('message'), or for pages connecting to a SharedWorker ('connect'). */
  addEventListener(type: 'message' | 'connect', listener: (event: MessageEvent) => void): void
  /** Stops listening (the node stopped). */
  removeEventListener(type: 'message' | 'connect', listener: (event: MessageEvent) => void): void
  /** Starts delivery, for a MessagePort standing in for a scope. */
  start?(): void
}

const log = logger('message-port')

/** A transport whose links are MessagePorts added while the node runs. */
export class MessagePortTransport implements Transport {
  private session: MessagePortSession | undefined

  /**
   * Links over `port` (its other end must be a node too); `toWorker` when this node made the
   * channel for a worker (it is then the worker's gateway). Returns a function that closes the link.
   */
  add(port: MessagePort, toWorker: boolean): () => void {
    if (this.session === undefined) throw new ArgumentError('the node is not running')
    return this.session.add(port, toWorker)
  }

  /** True for a link this node made to a worker with `attachWorker`. */
  leadsToWorker(link: Link): boolean {
    return link instanceof PortLink && link.toWorker
  }

  open(self: LocalEndpoint, hooks: TransportHooks): TransportSession {
    this.session = new MessagePortSession(self, hooks)
    return this.session
  }
}

/** True for `{ distribunator: 'port', port }`. */
export function isPortHandover(data: unknown): data is PortHandover {
  const d = data as Partial<PortHandover> | null
  return typeof d === 'object' && d !== null && d.distribunator === 'port' && typeof d.port?.postMessage === 'function'
}

/** Makes a channel for a worker: posts one port to it, returns the other. */
export function portFor(worker: Worker | SharedWorker | MessagePort): MessagePort {
  const target = 'port' in worker ? worker.port : worker
  if (typeof target?.postMessage !== 'function') throw new ArgumentError('attachWorker needs a Worker, SharedWorker or MessagePort')
  const channel = new MessageChannel()
  const handover: PortHandover = { distribunator: 'port', port: channel.port2 }
  target.postMessage(handover, [channel.port2])
  return channel.port1
}

/**
 * Listens on a worker's scope for ports handed over by pages; returns a function that stops
 * listening (on the scope and on every page's port). In a SharedWorker the node must be
 * started while the script loads, before any `await`: a 'connect' that came earlier is gone.
 */
export function acceptPorts(scope: WorkerScope, transport: MessagePortTransport): () => void {
  if (typeof scope?.addEventListener !== 'function') throw new ArgumentError("parent must be a worker's global scope (self)")
  const pagePorts = new Set<MessagePort>()
  const onMessage = (event: MessageEvent): void => {
    if (isPortHandover(event.data)) transport.add(event.data.port, false)
  }
  // A SharedWorker gets one 'connect' per page; the page's port then carries the handover.
  const onConnect = (event: MessageEvent): void => {
    const pagePort = event.ports[0]
    if (pagePort === undefined) return
    pagePorts.add(pagePort)
    pagePort.addEventListener('message', onMessage)
    pagePort.start()
  }
  scope.addEventListener('message', onMessage)
  scope.addEventListener('connect', onConnect)
  // A MessagePort standing in for the scope delivers to listeners only once started.
  scope.start?.()
  return () => {
    scope.removeEventListener('message', onMessage)
    scope.removeEventListener('connect', onConnect)
    for (const pagePort of pagePorts) pagePort.removeEventListener('message', onMessage)
  }
}

/** How long a port may stay silent before its announce: a worker that runs no node never sends one. */
const ANNOUNCE_TIMEOUT = 10_000

const PORT_ROUTE: Route = Object.freeze({ kind: 'port' })

class PortLink implements Link {
  readonly route: Route = PORT_ROUTE
  remoteNodeId = ''
  state: 'waiting' | 'open' | 'closed' = 'waiting'
  announceTimer: ReturnType<typeof setTimeout> | undefined
  /** Posts a frame, or packs it with the others of its task; a batch from a reused buffer of its size. */
  private readonly batcher = new Batcher((message, borrowed) =>
    this.port.postMessage({ type: 'frame', data: borrowed ? exactCopy(message) : message }),
  )

  constructor(
    readonly port: MessagePort,
    readonly toWorker: boolean,
    private readonly end: (link: PortLink, reason: CloseReason, tellPeer: boolean) => void,
  ) {}

  send(frame: Uint8Array): void {
    if (this.state === 'open') this.batcher.addUnflagged(frame, false)
  }

  /**
   * A frame in the encoder's buffer (Link.sendBorrowed): posted from a reused buffer of its
   * size, or batched, at once. Otherwise every frame would be encoded into fresh memory:
   * 64 KiB casts to a worker ran at 0.60× a raw MessagePort that way (bench/RESULTS.md).
   */
  sendBorrowed(frame: Uint8Array): void {
    if (this.state === 'open') this.batcher.addUnflagged(frame, true)
  }

  /** Ends the link's sending: what this task left in its batch goes first if `flush` (before a bye). */
  finish(flush: boolean): void {
    if (flush) this.batcher.flush()
    this.batcher.clear()
  }

  close(reason: CloseReason = 'closed'): void {
    if (this.state !== 'closed') this.end(this, reason, true)
  }
}

class MessagePortSession implements TransportSession {
  private readonly links = new Set<PortLink>()
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: TransportHooks,
  ) {}

  add(port: MessagePort, toWorker: boolean): () => void {
    if (this.closed) throw new ArgumentError('the node is not running')
    const link = new PortLink(port, toWorker, (ended, reason, tellPeer) => this.end(ended, reason, tellPeer))
    this.links.add(link)
    port.onmessage = (event: MessageEvent) => this.receive(link, event.data)
    port.postMessage({ type: 'announce', from: { nodeId: this.self.nodeId, incarnation: this.self.incarnation } })
    link.announceTimer = setTimeout(() => {
      log('%s: no node answered on a port within %d ms; closed', this.self.nodeId, ANNOUNCE_TIMEOUT)
      this.end(link, 'no announce', true)
    }, ANNOUNCE_TIMEOUT)
    return () => link.close()
  }

  /** Ports are linked by whoever adds them; there is no one to dial. */
  connect(): void {}

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const link of this.links) {
      clearTimeout(link.announceTimer)
      link.finish(link.state === 'open')
      link.state = 'closed'
      link.port.postMessage({ type: 'bye' })
      link.port.close()
    }
    this.links.clear()
  }

  private receive(link: PortLink, data: unknown): void {
    if (this.closed || link.state === 'closed') return
    const m = data as { type?: unknown; from?: { nodeId?: unknown; incarnation?: unknown }; data?: unknown } | null
    // No `linkedTo` check: a port cannot be made again, and it is the best link there is
    // (peers.ts prefers it to any other link to the same node).
    if (link.state === 'waiting' && m?.type === 'announce' && typeof m.from?.nodeId === 'string' && m.from.nodeId !== '') {
      clearTimeout(link.announceTimer)
      link.remoteNodeId = m.from.nodeId
      link.state = 'open'
      this.hooks.linkOpened(link)
    } else if (link.state === 'open' && m?.type === 'frame' && m.data instanceof Uint8Array) {
      this.frames(link, m.data)
    } else if (m?.type === 'bye') {
      this.end(link, 'closed', false)
    } else {
      log('%s: dropped a malformed message on a port', this.self.nodeId)
    }
  }

  /** Hands on a frame, or each frame of a batch while the link stays open; a malformed batch ends the link. */
  private frames(link: PortLink, data: Uint8Array): void {
    let frames: Uint8Array | Uint8Array[]
    try {
      frames = unbatch(data)
    } catch (error) {
      log('%s: %s', this.self.nodeId, (error as Error).message)
      return this.end(link, (error as Error).message, true)
    }
    if (frames instanceof Uint8Array) this.hooks.frameReceived(link, frames)
    else for (const frame of frames) if (link.state === 'open') this.hooks.frameReceived(link, frame)
  }

  private end(link: PortLink, reason: CloseReason, tellPeer: boolean): void {
    const wasOpen = link.state === 'open'
    link.finish(wasOpen && tellPeer)
    clearTimeout(link.announceTimer)
    link.state = 'closed'
    this.links.delete(link)
    if (tellPeer) link.port.postMessage({ type: 'bye' })
    link.port.close()
    if (wasOpen) this.hooks.linkClosed(link, reason)
  }
}
