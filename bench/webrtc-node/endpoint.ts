/**
 * What every stack under test does in a benchmark process, so the main script drives ours,
 * a raw data channel and PeerJS alike. One endpoint per process; commands come from the
 * main script over IPC (endpoint-process.ts), and times are `clock()` readings, comparable
 * across processes.
 */

/** The stacks measured: our library, a bare RTCDataChannel (node-datachannel), PeerJS. */
export type Stack = 'ours' | 'raw' | 'peerjs'

/** Settings of one endpoint process, passed as its one argument. */
export interface EndpointSettings {
  readonly stack: Stack
  readonly id: string
  /** ours: the room, so groups of a run never meet. */
  readonly room: string
  /** ours: the signaling server URL. */
  readonly signaling?: string
  /** peerjs: where the PeerServer listens. */
  readonly peerServer?: { readonly host: string; readonly port: number; readonly path: string }
  /** ours: more node options (bench/relay.bench.ts: no WebRTC, a short connect timeout, relay limits). */
  readonly node?: {
    readonly webrtc?: boolean
    readonly connectTimeout?: number
    readonly relay?: { readonly maxPairs?: number; readonly maxBytesPerSecond?: number }
  }
}

/** One endpoint of a stack. */
export interface Endpoint {
  /** Joins (ours: starts the node; peerjs: registers with the PeerServer). */
  start(): Promise<void>
  /**
   * Connects to every peer (the lower id dials); resolves with the time when all are
   * connected — for ours, also when its registry holds every peer's `member-<id>` name.
   */
  mesh(peers: readonly string[]): Promise<number>
  /** `count` sequential request/response round trips of a small message, `gapMs` apart; ms each. */
  pingPong(peer: string, count: number, variant?: string, gapMs?: number): Promise<number[]>
  /** Readies the count of one-way payloads: `received` resolves at the `count`th. */
  arm(count: number): void
  /** Resolves with the time the `count`th payload since `arm` arrived. */
  received(): Promise<number>
  /** Sends `count` payloads of `bytes` one way, as fast as the stack takes them; returns the start time. */
  blast(peer: string, count: number, bytes: number): Promise<number>
  /** Readies the collection of a series (see `emit`): `collected` resolves once all `count` arrived. */
  armSeries(tag: string, count: number): void
  /** Arrival time of each item of the armed series, by index. */
  collected(): Promise<number[]>
  /**
   * Emits `count` items at `perSecond` to every connected peer (ours: registers names
   * `<tag>-<i>`; raw: small stamped messages); returns the time each was emitted.
   */
  emit(tag: string, count: number, perSecond: number): Promise<number[]>
  /** Resolves with the time `peer` is seen gone (ours: its names left; raw: its channel closed). */
  gone(peer: string): Promise<number>
  /** Passes everything between two peers on, as it came (raw only: bench:relay's floor). */
  forward?(a: string, b: string): void
  /** Negotiation data relayed by the main script (raw only: no signaling server). */
  signal?(from: string, data: unknown): void
  /** Signaling payloads received so far, from every server (ours only). */
  signalingPayloads?(): number
  /** How the node reaches `peer` now, as `node.links()` says ('webrtc', 'relay:h'…; ours only). */
  via?(peer: string): string | undefined
  stop(): Promise<void>
}

/** A command from the main script; `id` pairs it with its answer. */
export type Command =
  | { readonly cmd: 'start' }
  | { readonly cmd: 'mesh'; readonly peers: readonly string[] }
  | { readonly cmd: 'pingPong'; readonly peer: string; readonly count: number; readonly variant?: string; readonly gapMs?: number }
  | { readonly cmd: 'arm'; readonly count: number }
  | { readonly cmd: 'received' }
  | { readonly cmd: 'blast'; readonly peer: string; readonly count: number; readonly bytes: number }
  | { readonly cmd: 'armSeries'; readonly tag: string; readonly count: number }
  | { readonly cmd: 'collected' }
  | { readonly cmd: 'emit'; readonly tag: string; readonly count: number; readonly perSecond: number }
  | { readonly cmd: 'gone'; readonly peer: string }
  | { readonly cmd: 'signal'; readonly from: string; readonly data: unknown }
  | { readonly cmd: 'memory' }
  | { readonly cmd: 'signalingPayloads' }
  | { readonly cmd: 'via'; readonly peer: string }
  | { readonly cmd: 'cpu' }
  | { readonly cmd: 'forward'; readonly between: readonly [string, string] }
  | { readonly cmd: 'stop' }
  /** Stops, then starts afresh in the same process (ours: in `room`): a second join that runs warm code. */
  | { readonly cmd: 'rejoin'; readonly room: string }

/** Memory of the process after a full GC. */
export interface Memory {
  readonly rss: number
  readonly heapUsed: number
  /** Off-heap memory the JS side knows of (Buffers, ArrayBuffers). */
  readonly external: number
}

/** What an endpoint process sends back. */
export type Report =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
  | { readonly event: 'loaded'; readonly memory: Memory }
  | { readonly event: 'signal'; readonly to: string; readonly data: unknown }

/** Resolves after `ms` (0: at once). */
function pause(ms = 0): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()
}

/** Runs `roundTrip(i)` `count` times in sequence, `gapMs` apart; ms each. */
export async function timedRoundTrips(count: number, gapMs: number, roundTrip: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await roundTrip(i)
    samples.push(performance.now() - t0)
    await pause(gapMs)
  }
  return samples
}

/** Resolves after pending I/O callbacks have run (lets the stack send and read). */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
