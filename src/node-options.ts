/**
 * The options of `startNode`: their documentation, their defaults, and their checks. Every
 * option is checked before the node starts anything (a timer, a channel, a socket), so a
 * bad one throws `ArgumentError` and leaves nothing behind.
 */
import { ArgumentError } from './errors.js'
import { RELAY_DEFAULTS, type RelayLimits } from './gateway.js'
import type { ManagerOptions } from './manager.js'
import { isServerAddress, type SignalingServerAddress } from './signaling/client.js'
import type { Heartbeat } from './peers.js'
import { broadcastChannelTransport } from './transport/broadcast-channel.js'
import type { WorkerScope } from './transport/message-port.js'
import type { Transport } from './transport/transport.js'
import { webrtcTransport } from './transport/webrtc.js'

/** Options of `startNode`. */
export interface NodeOptions {
  /** Name of the room to join; nodes of other rooms are refused. */
  readonly room: string
  /** This node's id. @default a random id, new at every start */
  readonly nodeId?: string
  /**
   * y-webrtc-protocol signaling servers, e.g. `['ws://localhost:4444']`: joins the WebRTC mesh.
   * Each entry is a server the node stays connected to; several independent servers all
   * introduce it. A cluster of servers sharing one Redis is one entry,
   * `{ cluster: ['wss://a…', 'wss://b…'] }`: the node uses one of its URLs at a time (a random
   * one first, the next when it fails). `node.signaling()` tells how each is doing.
   * Not in a worker, which has no WebRTC (`startNode` rejects with ArgumentError): it joins
   * through its page (`parent`).
   */
  readonly signaling?: readonly SignalingServerAddress[]
  /** Room password: encrypts signaling end to end; nodes without it cannot join or read. */
  readonly password?: string
  /** STUN/TURN servers for WebRTC. @default [] (host candidates: same machine or LAN) */
  readonly iceServers?: readonly RTCIceServer[]
  /** 'relay': connect only through a TURN server of `iceServers`. @default 'all' */
  readonly iceTransportPolicy?: 'all' | 'relay'
  /**
   * Same-origin tabs and workers also meet over a BroadcastChannel: with no signaling server
   * reachable (offline), and mixed with the WebRTC mesh. @default true in browsers and
   * workers, unless `transport` is given; false in Node
   */
  readonly broadcastChannel?: boolean
  /**
   * In a Web Worker or SharedWorker: `self`. The node links to every page that calls
   * `attachWorker` on this worker, and reaches the whole mesh through those pages (workers
   * have no WebRTC); BroadcastChannel then defaults to off, so the page link is the one used.
   */
  readonly parent?: WorkerScope
  /** Another transport instead of WebRTC, e.g. `createMemoryNetwork().transport()`. */
  readonly transport?: Transport
  /** Default timeout of `call`, `nodeRpc` and `doNodeRpc`, ms. @default 5000 */
  readonly callTimeout?: number
  /** Largest frame accepted from a peer, bytes. @default 8 MiB */
  readonly maxFrameBytes?: number
  /** How long an unreachable node's names are kept (hidden) before they are deleted, ms. @default 30000 */
  readonly registryGracePeriod?: number
  /** Nodes the Manager keeps connected, and its timing. */
  readonly manager?: ManagerOptions
  /** How long `stop()` waits for peers to acknowledge the goodbye, ms. @default 1000 */
  readonly stopTimeout?: number
  /**
   * How much this node relays between two members it is up with that cannot link directly
   * (their WebRTC failed: symmetric NATs, a blocked path). `{ maxPairs: 0 }` relays for none.
   * @default { maxPairs: 16, maxBytesPerSecond: 1 MiB } (per tunnel)
   */
  readonly relay?: RelayLimits
  /** ms a WebRTC connection may take to open before it is given up (and a relay asked for). @default 10000 */
  readonly connectTimeout?: number
  /**
   * false: no WebRTC, on purpose — the node reaches every peer through signaling servers that
   * relay (`distribunator-signal --relay`; `node.signaling()` tells which do). A browser or worker
   * without `RTCPeerConnection` does so by itself. @default true
   */
  readonly webrtc?: boolean
  /**
   * ms within which each end of a link hears from the other: a link silent for most of this
   * carries a heartbeat (Ping, answered by Pong). @default 500
   */
  readonly heartbeatInterval?: number
  /**
   * ms of silence after which a peer is declared down (a crash, a closed laptop); it is seen
   * within this plus a quarter of a heartbeat interval (1.625 s at the defaults). @default 1500
   */
  readonly heartbeatTimeout?: number
}

/** The options of a node, checked, with their defaults filled in. */
export interface NodeSettings {
  readonly room: string
  readonly nodeId: string
  readonly callTimeout: number
  readonly maxFrameBytes: number
  readonly registryGracePeriod: number
  readonly stopTimeout: number
  readonly heartbeat: Heartbeat
  readonly relay: Required<RelayLimits>
  /** The transports the options ask for (the node adds its MessagePorts and tunnels). */
  readonly transports: readonly Transport[]
}

/** Checks the options of `startNode` and fills in the defaults; throws `ArgumentError` for a bad one. */
export function resolveOptions(options: NodeOptions): NodeSettings {
  if (typeof options?.room !== 'string' || options.room === '') throw new ArgumentError('room must be a non-empty string')
  const nodeId = options.nodeId ?? `node-${Math.random().toString(36).slice(2, 10)}`
  if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > 256) {
    throw new ArgumentError('nodeId must be a non-empty string of at most 256 characters')
  }
  const callTimeout = positive(options.callTimeout ?? 5000, 'callTimeout')
  const maxFrameBytes = positive(options.maxFrameBytes ?? 8 * 1024 * 1024, 'maxFrameBytes')
  const registryGracePeriod = positive(options.registryGracePeriod ?? 30_000, 'registryGracePeriod')
  const stopTimeout = positive(options.stopTimeout ?? 1000, 'stopTimeout')
  const transports = transportsOf(options, maxFrameBytes)
  const heartbeat = {
    interval: positive(options.heartbeatInterval ?? 500, 'heartbeatInterval'),
    timeout: positive(options.heartbeatTimeout ?? 1500, 'heartbeatTimeout'),
  }
  if (heartbeat.timeout <= heartbeat.interval) throw new ArgumentError('heartbeatTimeout must be longer than heartbeatInterval')
  const relay = { ...RELAY_DEFAULTS, ...options.relay }
  if (!(Number.isInteger(relay.maxPairs) && relay.maxPairs >= 0)) throw new ArgumentError('relay.maxPairs must be a whole number ≥ 0')
  positive(relay.maxBytesPerSecond, 'relay.maxBytesPerSecond')
  return { room: options.room, nodeId, callTimeout, maxFrameBytes, registryGracePeriod, stopTimeout, heartbeat, relay, transports }
}

/** The transports the options ask for. */
function transportsOf(options: NodeOptions, maxFrameBytes: number): Transport[] {
  const { signaling, transport, broadcastChannel = transport === undefined && options.parent === undefined && inBrowser() } = options
  if (typeof broadcastChannel !== 'boolean') throw new ArgumentError('broadcastChannel must be true or false')
  if (options.parent !== undefined && typeof options.parent?.addEventListener !== 'function') {
    throw new ArgumentError("parent must be a worker's global scope (self) or a MessagePort")
  }
  if (broadcastChannel && typeof BroadcastChannel !== 'function')
    throw new ArgumentError('broadcastChannel: this runtime has no BroadcastChannel')
  if (options.password !== undefined && (typeof options.password !== 'string' || options.password === '')) {
    throw new ArgumentError('password must be a non-empty string')
  }
  const { password } = options
  const transports: Transport[] = []
  if (broadcastChannel && password !== undefined && globalThis.crypto?.subtle === undefined) {
    throw new ArgumentError('a password needs Web Crypto (crypto.subtle): serve the page over https or from localhost')
  }
  if (broadcastChannel) transports.push(broadcastChannelTransport({ password }))
  if (signaling === undefined) {
    if (
      options.iceServers !== undefined ||
      options.iceTransportPolicy !== undefined ||
      options.connectTimeout !== undefined ||
      options.webrtc !== undefined
    ) {
      throw new ArgumentError('iceServers, iceTransportPolicy, connectTimeout and webrtc need signaling servers')
    }
    if (password !== undefined && !broadcastChannel) throw new ArgumentError('password needs signaling servers or broadcastChannel')
  } else {
    if (transport !== undefined) throw new ArgumentError('give either signaling or transport, not both')
    if (
      !Array.isArray(signaling) ||
      signaling.length === 0 ||
      !signaling.every((u) => isServerAddress(u, (url) => /^wss?:\/\//.test(url)))
    ) {
      throw new ArgumentError('signaling must be a non-empty list of ws:// or wss:// URLs, or { cluster: [URLs] }')
    }
    const { iceServers, iceTransportPolicy, connectTimeout, webrtc } = options
    if (connectTimeout !== undefined) positive(connectTimeout, 'connectTimeout')
    if (webrtc !== undefined && typeof webrtc !== 'boolean') throw new ArgumentError('webrtc must be true or false')
    transports.push(webrtcTransport({ signaling, password, iceServers, iceTransportPolicy, maxFrameBytes, connectTimeout, webrtc }))
  }
  if (transport !== undefined) transports.push(transport)
  return transports
}

/** True in a browser page or worker (not in Node, which has a BroadcastChannel of its own). */
function inBrowser(): boolean {
  return (
    typeof BroadcastChannel === 'function' &&
    (typeof document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined')
  )
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new ArgumentError(`${name} must be a positive number`)
  return value
}
