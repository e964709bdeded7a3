/**
 * PeerJS as a benchmark endpoint: a `Peer` registered with a local PeerServer (the `peer`
 * package), `DataConnection`s with PeerJS's default serialization (BinaryPack, large
 * messages chunked at 16300 bytes). A ping is a number i ≥ 0, answered with -1 - i; a
 * payload is a Uint8Array; a series item is `{ item: i }`.
 *
 * PeerJS is written for browsers; in Node it runs once it finds the WebRTC classes from
 * node-datachannel's polyfill and `ws`'s WebSocket as globals (installed before PeerJS is
 * loaded: it probes `RTCPeerConnection` when its module is evaluated), and is told
 * `secure: false` (else it reads `location.protocol`).
 */
import polyfill from 'node-datachannel/polyfill'
import type { DataConnection, Peer } from 'peerjs'
import WebSocket from 'ws'
import { ArrivalCounter, SeriesCollector, deferred, paced } from './arrivals.js'
import { timedRoundTrips, yieldToIo, type Endpoint, type EndpointSettings } from './endpoint.js'
import { clock } from './stats.js'

/** Sends between yields to the event loop, as for ours. */
const BLAST_BATCH = 16

/** An endpoint over PeerJS. */
export class PeerjsEndpoint implements Endpoint {
  private peer: Peer | undefined
  private readonly connections = new Map<string, DataConnection>()
  private readonly opened = new Map<string, ReturnType<typeof deferred<void>>>()
  private readonly counter = new ArrivalCounter()
  private readonly series = new SeriesCollector()
  private pong: (() => void) | undefined

  constructor(private readonly settings: EndpointSettings) {}

  async start(): Promise<void> {
    const globals = globalThis as Record<string, unknown>
    for (const [name, value] of Object.entries(polyfill)) globals[name] ??= value
    globals.WebSocket ??= WebSocket
    const module = await import('peerjs')
    const PeerClass = module.Peer ?? (module as unknown as { default: typeof module }).default.Peer
    const { host, port, path } = this.settings.peerServer!
    const peer = new PeerClass(this.settings.id, { host, port, path, secure: false, config: { iceServers: [] } })
    this.peer = peer
    peer.on('connection', (connection) => this.attach(connection))
    await new Promise<void>((resolve, reject) => {
      peer.once('open', () => resolve())
      peer.once('error', reject)
    })
  }

  async mesh(peers: readonly string[]): Promise<number> {
    for (const id of peers) if (this.settings.id < id) this.attach(this.peer!.connect(id, { reliable: true }))
    await Promise.all(peers.map((id) => this.open(id).promise))
    return clock()
  }

  async pingPong(peer: string, count: number, _variant?: string, gapMs = 0): Promise<number[]> {
    const connection = this.connection(peer)
    return timedRoundTrips(
      count,
      gapMs,
      (i) =>
        new Promise<void>((resolve) => {
          this.pong = resolve
          void connection.send(i)
        }),
    )
  }

  arm(count: number): void {
    this.counter.arm(count)
  }

  received(): Promise<number> {
    return this.counter.received()
  }

  async blast(peer: string, count: number, bytes: number): Promise<number> {
    const connection = this.connection(peer)
    const payload = new Uint8Array(bytes)
    const start = clock()
    for (let i = 0; i < count; i++) {
      void connection.send(payload)
      if (i % BLAST_BATCH === BLAST_BATCH - 1) await yieldToIo()
    }
    return start
  }

  armSeries(_tag: string, count: number): void {
    this.series.arm(count)
  }

  collected(): Promise<number[]> {
    return this.series.collected()
  }

  emit(_tag: string, count: number, perSecond: number): Promise<number[]> {
    const connections = [...this.connections.values()]
    return paced(count, perSecond, (i) => {
      for (const connection of connections) void connection.send({ item: i })
    })
  }

  gone(peer: string): Promise<number> {
    return new Promise((resolve) => this.connection(peer).once('close', () => resolve(clock())))
  }

  async stop(): Promise<void> {
    this.peer?.destroy()
  }

  private open(peer: string): ReturnType<typeof deferred<void>> {
    let open = this.opened.get(peer)
    if (open === undefined) this.opened.set(peer, (open = deferred()))
    return open
  }

  private attach(connection: DataConnection): void {
    this.connections.set(connection.peer, connection)
    connection.on('open', () => this.open(connection.peer).resolve())
    connection.on('data', (data) => {
      if (typeof data === 'number') {
        // A ping i ≥ 0 is answered with the pong -1 - i.
        if (data >= 0) void connection.send(-1 - data)
        else this.pong?.()
      } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
        this.counter.hit()
      } else if (typeof data === 'object' && data !== null && 'item' in data) {
        this.series.hit((data as { item: number }).item)
      }
    })
  }

  private connection(peer: string): DataConnection {
    const connection = this.connections.get(peer)
    if (connection?.open !== true) throw new Error(`no open connection to ${peer}`)
    return connection
  }
}
