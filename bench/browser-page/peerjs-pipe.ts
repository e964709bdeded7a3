/**
 * The library users pick today: PeerJS 1.5 with its defaults (a reliable DataConnection,
 * 'binary' serialization, i.e. BinaryPack, chunked above 16 KB), signaled by a local
 * PeerServer from the `peer` package.
 */
import { Peer, type DataConnection } from 'peerjs'
import type { Pipe } from './pipe.js'

/** Where the PeerServer listens. */
export interface PeerServerAddress {
  readonly host: string
  readonly port: number
  readonly path: string
}

/** A PeerJS peer and, once connected, its one DataConnection. */
export class PeerjsSide {
  private readonly peer: Peer
  private connection: DataConnection | undefined
  private handler: (message: unknown) => void = () => undefined
  private readonly connected: Promise<void>
  private resolveConnected: () => void = () => undefined

  private constructor(peer: Peer) {
    this.peer = peer
    this.connected = new Promise((resolve) => {
      this.resolveConnected = resolve
    })
    // The answering side: the other peer connects to us.
    peer.on('connection', (connection) => this.use(connection))
  }

  /** Opens a peer with id `id` on the server. */
  static async open(id: string, server: PeerServerAddress): Promise<PeerjsSide> {
    const peer = new Peer(id, { ...server, secure: false, config: { iceServers: [] } })
    await new Promise<void>((resolve, reject) => {
      peer.once('open', () => resolve())
      peer.once('error', reject)
    })
    return new PeerjsSide(peer)
  }

  /** Connects to peer `id` (the offering side). */
  connect(id: string): void {
    this.use(this.peer.connect(id, { reliable: true }))
  }

  /** Resolves once the DataConnection is open on this side. */
  opened(): Promise<void> {
    return this.connected
  }

  /** The DataConnection as a Pipe (PeerJS buffers on its own, so no backpressure here). */
  pipe(): Pipe {
    return {
      send: (message) => void this.connection?.send(message),
      ready: () => undefined,
      onMessage: (handler) => {
        this.handler = handler
      },
    }
  }

  close(): void {
    this.peer.destroy()
  }

  private use(connection: DataConnection): void {
    this.connection = connection
    connection.on('open', () => this.resolveConnected())
    connection.on('data', (data) => this.handler(data))
  }
}
