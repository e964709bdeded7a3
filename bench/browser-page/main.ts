/**
 * The browser benchmark page: ours (the library straight from src, bundled by Vite as an
 * app would), a raw RTCDataChannel, a raw BroadcastChannel and PeerJS, each behind
 * `window.bench` for the harness (bench/webrtc-browser.bench.ts) to drive.
 */
import { Ours } from './ours.js'
import { PeerjsSide, type PeerServerAddress } from './peerjs-pipe.js'
import { pingLoop, portPipe, serveEcho, serveSink, throughput, type Pipe } from './pipe.js'
import { rawBroadcastPipe } from './raw-broadcast.js'
import { RawWebrtc } from './raw-webrtc.js'
import workerUrl from './worker.ts?worker&url'

/** The baselines a page can hold, by kind ('port': a raw MessagePort to this page's worker). */
type PipeKind = 'raw' | 'broadcast' | 'peerjs' | 'port'

/** What the harness drives. */
export interface BenchApi {
  readonly ours: Ours
  /** Raw RTCPeerConnection set-up: SDP handed over by the harness. */
  rawOffer(): Promise<string>
  rawAnswer(offer: string): Promise<string>
  rawAccept(answer: string): Promise<void>
  rawOpened(): Promise<void>
  /** Joins the raw BroadcastChannel `name`. */
  broadcastJoin(name: string): void
  /** Opens a PeerJS peer `id` on the PeerServer; `connectTo` makes it the offering side. */
  peerjsOpen(id: string, server: PeerServerAddress): Promise<void>
  peerjsConnect(id: string): void
  peerjsOpened(): Promise<void>
  /** The baselines' loops (pipe.ts) over one of the pipes. */
  serveEcho(kind: PipeKind): void
  serveSink(kind: PipeKind, count: number): void
  pingLoop(kind: PipeKind, n: number, size: number): Promise<number[]>
  throughput(kind: PipeKind, count: number, size: number): Promise<number>
  /** Registry propagation: acks arrive over the raw data channel. */
  ackJoins(prefix: string): void
  registerUntilAcked(name: string): Promise<number>
  /**
   * Starts a dedicated worker running a node ('worker', serving 'echo' and 'sink') attached
   * to this page's node, and a raw MessagePort to it (the 'port' pipe); resolves once this
   * page's registry shows the worker's names.
   */
  workerStart(room: string): Promise<void>
  /** Has the worker's end of the raw port echo, or count `count` messages then answer 'done'. */
  workerServe(what: 'echo' | 'sink', count?: number): Promise<void>
  /** Whether performance.now() has its fine (5 µs) resolution. */
  isolated(): boolean
}

declare global {
  interface Window {
    bench: BenchApi
  }
}

const ours = new Ours()
let raw: RawWebrtc | undefined
let peerjs: PeerjsSide | undefined
let worker: Worker | undefined
const pipes = new Map<PipeKind, Pipe>()

function pipe(kind: PipeKind): Pipe {
  const found = pipes.get(kind)
  if (found === undefined) throw new Error(`no ${kind} pipe in this page`)
  return found
}

function rawSide(): RawWebrtc {
  if (raw === undefined) {
    raw = new RawWebrtc()
    pipes.set('raw', raw.pipe())
  }
  return raw
}

/** What each baseline sends per round trip: `size` bytes; PeerJS, a request with an id, as an app would. */
function message(kind: PipeKind, size: number): (i: number) => unknown {
  const payload = new Uint8Array(size)
  return kind === 'peerjs' ? (id) => ({ id, payload }) : () => payload
}

window.bench = {
  ours,
  rawOffer: () => rawSide().offer(),
  rawAnswer: (offer) => rawSide().answer(offer),
  rawAccept: (answer) => rawSide().accept(answer),
  rawOpened: () => rawSide().opened(),
  broadcastJoin: (name) => void pipes.set('broadcast', rawBroadcastPipe(name)),
  async peerjsOpen(id, server) {
    peerjs = await PeerjsSide.open(id, server)
    pipes.set('peerjs', peerjs.pipe())
  },
  peerjsConnect: (id) => peerjs?.connect(id),
  peerjsOpened: () => peerjs!.opened(),
  serveEcho: (kind) => serveEcho(pipe(kind)),
  serveSink: (kind, count) => serveSink(pipe(kind), count),
  pingLoop: (kind, n, size) => pingLoop(pipe(kind), n, message(kind, size)),
  throughput: (kind, count, size) => throughput(pipe(kind), count, new Uint8Array(size)),
  ackJoins: (prefix) => ours.ackJoins(prefix, pipe('raw')),
  registerUntilAcked: (name) => ours.registerUntilAcked(name, pipe('raw')),
  async workerStart(room) {
    worker = new Worker(`${workerUrl}?options=${encodeURIComponent(JSON.stringify({ room }))}`)
    ours.attachWorker(worker)
    const channel = new MessageChannel()
    worker.postMessage({ benchPort: channel.port2 }, [channel.port2])
    pipes.set('port', portPipe(channel.port1))
    await ours.namesShown(['echo', 'sink'])
  },
  workerServe(what, count) {
    const w = worker
    if (w === undefined) return Promise.reject(new Error('no worker in this page'))
    return new Promise((resolve) => {
      const serving = (event: MessageEvent): void => {
        if ((event.data as { benchServing?: string } | null)?.benchServing !== what) return
        w.removeEventListener('message', serving)
        resolve()
      }
      w.addEventListener('message', serving)
      w.postMessage({ benchServe: what, count })
    })
  },
  isolated: () => crossOriginIsolated,
}
document.body.dataset.ready = 'true'
