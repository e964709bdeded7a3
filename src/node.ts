/**
 * A node: one tab, worker or Node process in a room. It owns the local processes, the
 * registry replica, and one link per peer, and routes every frame (see wire.ts for the
 * protocol). The main flow:
 *
 *   transport link opens ──► Hello both ways ──► registry sync ──► peer up ('nodeup')
 *   frames ──► decodeFrame ──► peer ──► registry | requests | processes | monitors | rpc
 *   link closes, Bye, or a newer incarnation ──► peer down ('nodedown'): its names
 *   vanish, its pending calls reject with NodeDownError, monitors fire 'noconnection'
 */
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { DocSync } from './doc-sync.js'
import {
  ArgumentError,
  CallingSelfError,
  DistribunatorError,
  EncodeError,
  NodeDownError,
  NodeIdTakenError,
  NodeStoppedError,
  NoNodeError,
  NoPidError,
  NoProcError,
  NotLocalError,
  ProtocolError,
  RemoteError,
  TimeoutError,
  BadRpcError,
} from './errors.js'
import { SafeObservable } from './events.js'
import { GenServer, attachGenServer, serviceNameOf, type ServiceClass, type Target } from './gen-server.js'
import { logger } from './log.js'
import { Manager, type ManagerOptions } from './manager.js'
import { Monitors, type DownEvent, type Monitor } from './monitors.js'
import { Peers, type Peer } from './peers.js'
import { Pid, newIncarnation } from './pid.js'
import { LocalProcess, executingPid, exitReasonForWire, toWireError, type Behaviour, type Envelope } from './process.js'
import { Registry, type WatchListener } from './registry.js'
import { Requests } from './requests.js'
import { RpcModules, rpcExitError, type RpcCallback, type RpcModule } from './rpc.js'
import { describeRoute, type CloseReason, type Transport, type TransportSession } from './transport/transport.js'
import { Gateway } from './gateway.js'
import { broadcastChannelTransport } from './transport/broadcast-channel.js'
import { MessagePortTransport, acceptPorts, portFor, type WorkerScope } from './transport/message-port.js'
import { RelayedTransport } from './transport/relayed.js'
import { combineTransports } from './transport/combined.js'
import { loadPeerConnectionClass } from './transport/peer-connection.js'
import { webrtcTransport } from './transport/webrtc.js'
import { FrameType, type Frame, type Outcome, type TunnelFrame } from './wire.js'

/** Options of `startNode`. */
export interface NodeOptions {
  /** Name of the room to join; nodes of other rooms are refused. */
  readonly room: string
  /** This node's id. @default a random id, new at every start */
  readonly nodeId?: string
  /**
   * y-webrtc-protocol signaling servers, e.g. `['ws://localhost:4444']`: joins the WebRTC mesh.
   * Not in a worker, which has no WebRTC (`startNode` rejects with ArgumentError): it joins
   * through its page (`parent`).
   */
  readonly signaling?: readonly string[]
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
  /** ms between heartbeats on every link. @default 500 */
  readonly heartbeatInterval?: number
  /**
   * ms of silence after which a peer is declared down (a crash, a closed laptop); it is seen
   * within this plus half a heartbeat interval (1.75 s at the defaults). @default 1500
   */
  readonly heartbeatTimeout?: number
}

/** Options of `call`. */
export interface CallOptions {
  /** ms to wait for the reply. @default the node's `callTimeout` (5000) */
  readonly timeout?: number
  /** Aborts the call; it rejects with `signal.reason`. */
  readonly signal?: AbortSignal
  /** The calling process, when the call is made on its behalf (GenServer.call sets it). */
  readonly from?: Pid
  /** Which pid of a name to call. @default 'first' (as the seed) */
  readonly pick?: PickStrategy
}

/** Options of `nodeRpc` and `doNodeRpc`. */
export interface RpcOptions {
  /** Runs on the target with the result before the reply: `'module.fn'`, or a function for this node. */
  readonly callback?: RpcCallback
  /** ms to wait. @default the node's `callTimeout` (5000); `Infinity` waits for the node */
  readonly timeout?: number
  readonly signal?: AbortSignal
  /** The calling process, passed to the callback. */
  readonly from?: Pid
}

/** One link of the node, as `links()` reports it. */
export interface LinkInfo {
  /** The node at the other end. */
  readonly node: string
  readonly incarnation: number
  /** True once connected and synced (it is in `nodes()`). */
  readonly up: boolean
  /** Last heartbeat round trip, ms; undefined before the first. */
  readonly rtt: number | undefined
  /** What carries it: 'webrtc', 'broadcast-channel', 'memory', or a custom transport's name. */
  readonly via: string
}

/** Which pid `pidOf` returns: any at random, the first in the agreed order, or a local one if any. */
export type PickStrategy = 'random' | 'first' | 'local'

/** Events of a node. */
export interface NodeEvents {
  /** A peer is connected and synced. */
  nodeup: (event: { node: string }) => void
  /** A peer went down; `reason` says how ('closed', 'stop', 'restarted', a transport reason...). */
  nodedown: (event: { node: string; reason: string }) => void
  /** A monitor fired. */
  down: (event: DownEvent) => void
  /** Something went wrong that no caller can be told about (bad peer frame, throwing handler). */
  error: (error: DistribunatorError) => void
}

const REGISTRY_DOC = 'distribunator/registry'
/**
 * Tunnels accepted from a gateway at most this deep: 1 lets the workers of two pages reach
 * each other (one page's tunnel runs inside the other's); more only costs a wrapping per
 * level on every frame, which a hostile member could stack up.
 */
const MAX_TUNNEL_DEPTH = 1
const log = logger('node')

/** Starts a node and joins its room. */
export async function startNode(options: NodeOptions): Promise<DistribunatorNode> {
  // In Node, WebRTC (node-datachannel) loads now; where there is none, this says so.
  if (options?.signaling !== undefined) await loadPeerConnectionClass()
  return new DistribunatorNode(options)
}

/** A node of the mesh. Create it with `startNode`. */
export class DistribunatorNode extends SafeObservable<NodeEvents> {
  /** This node's id (Erlang's `node()`). */
  readonly id: string
  /** This start's incarnation: pids of an earlier start of the same id are dead. */
  readonly incarnation: number
  /** Keeps a list of nodes connected. */
  readonly manager: Manager
  readonly room: string
  private readonly callTimeout: number
  private readonly maxFrameBytes: number
  private readonly gracePeriod: number
  private readonly stopTimeout: number
  private readonly processes = new Map<number, LocalProcess>()
  private nextPidId = 1
  private readonly names: Registry
  private readonly docs: DocSync
  private readonly requests = new Requests()
  private readonly monitors: Monitors
  private readonly rpc = new RpcModules()
  private readonly peers: Peers
  private readonly session: TransportSession
  /** Links to workers and to the pages of a worker. */
  private readonly ports = new MessagePortTransport()
  /** Links through gateways (a worker's page), and this node's part as a gateway. */
  private readonly relayed: RelayedTransport
  private readonly gateway: Gateway
  private readonly stopAcceptingPorts: (() => void) | undefined
  private collectTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private stopping: Promise<void> | undefined
  /** A closing page says goodbye, so peers drop its names at once rather than after heartbeats. */
  private readonly onPageHide = (): void => void this.stop()

  /** Use `startNode`. */
  constructor(options: NodeOptions) {
    super((error) => this.report(new DistribunatorError('an event listener threw', { cause: error })))
    if (typeof options?.room !== 'string' || options.room === '') throw new ArgumentError('room must be a non-empty string')
    this.room = options.room
    this.id = options.nodeId ?? `node-${Math.random().toString(36).slice(2, 10)}`
    if (typeof this.id !== 'string' || this.id === '' || this.id.length > 256) {
      throw new ArgumentError('nodeId must be a non-empty string of at most 256 characters')
    }
    this.incarnation = newIncarnation()
    this.callTimeout = positive(options.callTimeout ?? 5000, 'callTimeout')
    this.maxFrameBytes = positive(options.maxFrameBytes ?? 8 * 1024 * 1024, 'maxFrameBytes')
    this.gracePeriod = positive(options.registryGracePeriod ?? 30_000, 'registryGracePeriod')
    this.stopTimeout = positive(options.stopTimeout ?? 1000, 'stopTimeout')
    const self = { nodeId: this.id, incarnation: this.incarnation, room: this.room }
    // Validated before anything below starts a timer that a throw would leave behind.
    const sendTunnel = (node: string, frame: TunnelFrame): boolean => {
      const peer = this.peers.get(node)
      peer?.send(frame)
      return peer !== undefined
    }
    this.relayed = new RelayedTransport(sendTunnel)
    this.gateway = new Gateway({ send: sendTunnel, upIds: () => this.peers.upIds() })
    const transport = combineTransports([...transportsOf(options, this.maxFrameBytes), this.ports, this.relayed])
    this.names = new Registry(self, (error) => this.report(new DistribunatorError('a watch listener threw', { cause: error })))
    this.docs = new DocSync({ synced: (peer, doc) => doc === REGISTRY_DOC && this.peerSynced(peer as Peer) })
    this.docs.share(REGISTRY_DOC, this.names.doc, this.names.replication)
    this.monitors = new Monitors({
      self,
      isAlive: (pid) => this.localProcess(pid) !== undefined,
      upIncarnation: (node) => this.peers.up(node)?.incarnation,
      send: (node, frame) => this.sendTo(node, frame),
      fired: (event) => this.emit('down', [event]),
    })
    const heartbeat = {
      interval: positive(options.heartbeatInterval ?? 500, 'heartbeatInterval'),
      timeout: positive(options.heartbeatTimeout ?? 1500, 'heartbeatTimeout'),
    }
    if (heartbeat.timeout <= heartbeat.interval) throw new ArgumentError('heartbeatTimeout must be longer than heartbeatInterval')
    this.peers = new Peers(self, this.maxFrameBytes, heartbeat, {
      identified: (peer) => this.docs.addPeer(peer),
      frame: (peer, frame) => this.dispatch(peer, frame),
      down: (peer, reason) => this.peerDown(peer, reason),
      replaced: (peer) => this.names.forget(peer.nodeId, peer.incarnation),
      switched: (peer) => {
        // Frames still in flight on the link we left may never arrive (its gateway went):
        // sync again over the new one, which also finishes a sync that was half done.
        this.docs.addPeer(peer)
        // A worker that was reached through a tunnel and is now attached here: be its gateway.
        if (peer.up && this.ports.leadsToWorker(peer.link)) this.gateway.peerUp(peer.nodeId, true)
      },
      superseded: () => {
        if (this.stopped) return
        this.report(new NodeIdTakenError(this.id))
        void this.stop()
      },
      error: (error) => this.report(error),
    })
    // After peers: options.manager.nodes makes the Manager ask isUp() at once.
    this.manager = new Manager(
      {
        selfId: this.id,
        isUp: (node) => this.peers.up(node) !== undefined,
        dial: (node) => this.session.connect(node),
        hangUp: (node) => {
          const peer = this.peers.get(node)
          if (peer !== undefined) this.peers.hangUp(peer, 'disconnect')
        },
      },
      options.manager,
    )
    this.session = transport.open(self, this.peers.transportHooks)
    this.stopAcceptingPorts = options.parent === undefined ? undefined : acceptPorts(options.parent, this.ports)
    globalThis.addEventListener?.('pagehide', this.onPageHide)
  }

  /**
   * Links this node (a page) to a node running in `worker` (started with `parent: self`),
   * and makes the worker reachable from every node this one reaches. Returns a function
   * that detaches it. A MessagePort stands for a worker that listens on it.
   */
  attachWorker(worker: Worker | SharedWorker | MessagePort): () => void {
    this.assertRunning()
    return this.ports.add(portFor(worker), true)
  }

  /** Every link to another node, with its round trip and transport (for inspectors). */
  links(): LinkInfo[] {
    return [...this.peers.all()].map((peer) => ({
      node: peer.nodeId,
      incarnation: peer.incarnation,
      up: peer.up,
      rtt: peer.rtt,
      via: describeRoute(peer.link.route),
    }))
  }

  /** Ids of the connected (up) nodes, not including this one (Erlang's `Node.list()`). */
  nodes(): string[] {
    return this.peers.upIds()
  }

  /** Starts a local process; returns its pid at once (init runs first, messages wait). */
  spawn(behaviour: GenServer<never, unknown, never, never>): Pid
  spawn(behaviour: Behaviour<DistribunatorNode>): Pid
  spawn(behaviour: Behaviour<DistribunatorNode> | GenServer<never, unknown, never, never>): Pid {
    return this.spawnProcess(behaviour).pid
  }

  /** Spawns a GenServer class, waits for its init, and registers it under its `serviceName`. */
  async start<C extends new (...args: never[]) => GenServer<never, unknown, never, never>>(
    service: C & { serviceName?: string },
    ...args: ConstructorParameters<C>
  ): Promise<Pid> {
    const name = serviceNameOf(service)
    const { pid, ready } = this.spawnProcess(new service(...args))
    await ready
    this.register(name, pid)
    return pid
  }

  /** Ends a local process: its names leave, its monitors fire, its pending calls fail. */
  exit(pid: Pid, reason: unknown = 'normal'): void {
    this.assertRunning()
    if (!(pid instanceof Pid)) throw new ArgumentError('exit needs a pid')
    if (pid.node !== this.id) throw new NotLocalError(pid.toString())
    this.localProcess(pid)?.exit(reason)
  }

  /** Adds a registration of a local pid under a name (counted: twice → listed twice). */
  register(name: string | ServiceClass, pid: Pid): void {
    this.assertRunning()
    const key = nameOf(name)
    if (!(pid instanceof Pid)) throw new ArgumentError('register needs a pid')
    if (pid.node !== this.id || pid.incarnation !== this.incarnation) throw new NotLocalError(pid.toString())
    if (this.localProcess(pid) === undefined) throw new NoProcError(pid.toString())
    this.names.join(key, pid)
  }

  /** Removes one registration; 'not_joined' if the pid had none under the name. */
  unregister(name: string | ServiceClass, pid: Pid): 'ok' | 'not_joined' {
    this.assertRunning()
    if (!(pid instanceof Pid)) throw new ArgumentError('unregister needs a pid')
    if (pid.node !== this.id || pid.incarnation !== this.incarnation) throw new NotLocalError(pid.toString())
    return this.names.leave(nameOf(name), pid)
  }

  /** One live pid of a name, or undefined. */
  pidOf(name: string | ServiceClass, options: { pick?: PickStrategy } = {}): Pid | undefined {
    const pick = options.pick ?? 'random'
    if (pick !== 'random' && pick !== 'first' && pick !== 'local') throw new ArgumentError(`pick must be 'random', 'first' or 'local'`)
    const runs = this.names.runs(nameOf(name))
    if (runs.length === 0) return undefined
    if (pick === 'first') return runs[0]?.pid
    if (pick === 'local') return runs.find((r) => r.pid.node === this.id)?.pid ?? pickRandom(runs)
    return pickRandom(runs)
  }

  /** Every live pid of a name, once per registration, in the agreed order. */
  allPidsOf(name: string | ServiceClass): Pid[] {
    return this.names.pids(nameOf(name))
  }

  /** Nodes having the name registered, each once, in the agreed order. */
  allNodesOf(name: string | ServiceClass): string[] {
    return [...new Set(this.names.runs(nameOf(name)).map((r) => r.pid.node))]
  }

  /** Every non-empty name with its live pids. */
  registry(): Map<string, Pid[]> {
    return this.names.snapshot()
  }

  /** Watches joins and leaves of a name ('*' for all); returns the unsubscribe function. */
  watch(name: string | ServiceClass, listener: WatchListener): () => void {
    return this.names.watch(name === '*' ? '*' : nameOf(name), listener)
  }

  /** Calls a process and resolves with its reply. */
  async call<R = unknown>(target: Target, msg: unknown, options: CallOptions = {}): Promise<R> {
    this.assertRunning()
    const pid = this.resolve(target, options.pick ?? 'first')
    if (pid === undefined) throw new NoPidError(nameOf(target as string | ServiceClass))
    const from = options.from ?? executingPid() ?? null
    if (from !== null && from.equals(pid)) throw new CallingSelfError(pid.toString())
    const request = {
      timeout: options.timeout ?? this.callTimeout,
      signal: options.signal,
      onTimeout: () => new TimeoutError(options.timeout ?? this.callTimeout),
      onNodeDown: () => new NodeDownError(pid.node),
    }
    let outcome: Outcome
    if (pid.node === this.id) {
      const process = this.localProcess(pid)
      if (process === undefined) throw new NoProcError(pid.toString())
      outcome = await this.requests.open(this.id, request, (ref) =>
        process.deliver({
          kind: 'call',
          msg,
          from: { pid: from, node: this.id },
          reply: (o) => this.requests.answer(this.id, ref, o),
        }),
      )
    } else {
      const peer = this.peers.up(pid.node)
      if (peer === undefined) throw new NodeDownError(pid.node)
      if (peer.incarnation !== pid.incarnation) throw new NoProcError(pid.toString())
      outcome = await this.requests.open(pid.node, request, (ref) => peer.send({ type: FrameType.Call, ref, to: pid, from, msg }))
    }
    if (outcome.ok) return outcome.value as R
    const { error } = outcome
    if (error.name === 'NoProcError') throw new NoProcError(pid.toString(), error.reason ?? 'noproc')
    throw new RemoteError(error.name, error.message)
  }

  /** Casts to a process; false if no live target was found. Never throws for a dead pid. */
  cast(target: Target, msg: unknown): boolean {
    return this.post(target, 'cast', msg)
  }

  /** Sends a plain message, handled by `handleInfo`; false if no live target was found. */
  send(target: Target, msg: unknown): boolean {
    return this.post(target, 'info', msg)
  }

  /** Monitors a process: the Monitor resolves once with the reason it went down. */
  monitor(pid: Pid): Monitor {
    this.assertRunning()
    if (!(pid instanceof Pid)) throw new ArgumentError('monitor needs a pid')
    return this.monitors.monitor(pid)
  }

  /** Exposes functions to rpc under a module name; returns a function that withdraws them. */
  expose(module: string, functions: RpcModule): () => void {
    return this.rpc.expose(module, functions)
  }

  /** Runs `module.fn(...args)` on the first node having `name` registered. */
  async nodeRpc(
    name: string | ServiceClass,
    module: string,
    fn: string,
    args: readonly unknown[],
    options: RpcOptions = {},
  ): Promise<unknown> {
    const node = this.allNodesOf(name)[0]
    if (node === undefined) throw new NoNodeError(`no node has ${JSON.stringify(nameOf(name))} registered`)
    return this.doNodeRpc(node, module, fn, args, options)
  }

  /** Runs `module.fn(...args)` on `node`; the callback runs there before the reply. */
  async doNodeRpc(node: string, module: string, fn: string, args: readonly unknown[], options: RpcOptions = {}): Promise<unknown> {
    this.assertRunning()
    if (!Array.isArray(args)) throw new ArgumentError('rpc args must be an array')
    const timeout = options.timeout ?? this.callTimeout
    const caller = options.from ?? executingPid() ?? null
    const callback = options.callback ?? null
    const request = {
      timeout,
      signal: options.signal,
      onTimeout: () => new BadRpcError('timeout', `no answer from ${node} in ${timeout} ms`, { cause: new TimeoutError(timeout) }),
      onNodeDown: () => new BadRpcError('nodedown', `node ${node} went down`, { cause: new NodeDownError(node) }),
    }
    let outcome: Outcome
    if (node === this.id) {
      // Through the request table like a remote rpc: timeout, abort and stop() apply alike.
      outcome = await this.requests.open(this.id, request, (ref) => {
        this.rpc.run(module, fn, args, callback, caller).then(
          (value) => this.requests.answer(this.id, ref, { ok: true, value }),
          (error: unknown) => this.requests.answer(this.id, ref, { ok: false, error: toWireError(error) }),
        )
      })
    } else {
      if (typeof callback === 'function') throw new ArgumentError("a remote rpc's callback must name an exposed function ('module.fn')")
      const peer = this.peers.up(node)
      if (peer === undefined) throw new BadRpcError('nodedown', `node ${node} is not connected`)
      outcome = await this.requests.open(node, request, (ref) =>
        peer.send({ type: FrameType.Rpc, ref, module, fn, args, callback, from: caller }),
      )
    }
    if (outcome.ok) return outcome.value
    throw rpcExitError(outcome.error)
  }

  /**
   * Syncs an app's Y.Doc with every peer that shares one under the same name, and its
   * y-protocols `awareness` (presence), if given. Returns a function that stops sharing.
   */
  share(doc: Y.Doc, name: string, options: { awareness?: Awareness } = {}): () => void {
    this.assertRunning()
    if (typeof name !== 'string' || name === '' || name.startsWith('distribunator/')) {
      throw new ArgumentError(`cannot share a document as ${JSON.stringify(name)}`)
    }
    return this.docs.share(name, doc, { awareness: options.awareness })
  }

  /**
   * Leaves gracefully: peers drop this node's names at once (they are told, and the node
   * waits up to `stopTimeout` for them to hang up); local processes exit with 'shutdown'.
   */
  stop(): Promise<void> {
    this.stopping ??= this.leave()
    return this.stopping
  }

  private async leave(): Promise<void> {
    this.stopped = true
    globalThis.removeEventListener?.('pagehide', this.onPageHide)
    log('%s stopping', this.id)
    this.manager.stop()
    clearTimeout(this.collectTimer)
    this.requests.failAll(() => new NodeStoppedError(this.id))
    await this.peers.sayGoodbye(this.stopTimeout)
    this.stopAcceptingPorts?.()
    this.session.close()
    this.peers.clear()
    for (const process of [...this.processes.values()]) process.exit('shutdown')
    this.monitors.stop()
    this.docs.destroy()
    this.names.destroy()
    this.destroy()
  }

  private spawnProcess(behaviour: Behaviour<DistribunatorNode> | GenServer<never, unknown, never, never>): {
    pid: Pid
    ready: Promise<void>
  } {
    this.assertRunning()
    if (typeof behaviour !== 'object' || behaviour === null) throw new ArgumentError('spawn needs a behaviour object or GenServer')
    const pid = new Pid(this.id, this.incarnation, this.nextPidId++)
    const context = { self: pid, node: this }
    if (behaviour instanceof GenServer) attachGenServer(behaviour, context)
    const process = new LocalProcess(pid, behaviour as Behaviour, {
      exited: (exitedPid, reason) => {
        this.processes.delete(exitedPid.id)
        if (!this.stopped) this.names.leaveAll(exitedPid)
        this.monitors.processExited(exitedPid, exitReasonForWire(reason))
      },
      handlerFailed: (failedPid, error) => this.report(new DistribunatorError(`a handler of ${failedPid} threw`, { cause: error })),
    })
    this.processes.set(pid.id, process)
    const ready = process.start(context)
    // A failed init is the process's exit reason; `start` callers see it through `ready`.
    ready.catch(() => undefined)
    return { pid, ready }
  }

  /** How many tunnels deep a peer is reached: 0 directly, 1 through a gateway reached directly... */
  private tunnelDepth(peer: Peer): number {
    let depth = 0
    for (let route = peer.link.route; route.kind === 'tunnel' && depth <= MAX_TUNNEL_DEPTH;) {
      depth++
      const gateway = this.peers.get(route.gateway)
      if (gateway === undefined) break
      route = gateway.link.route
    }
    return depth
  }

  private localProcess(pid: Pid): LocalProcess | undefined {
    if (pid.node !== this.id || pid.incarnation !== this.incarnation) return undefined
    return this.processes.get(pid.id)
  }

  private resolve(target: Target, pick: PickStrategy): Pid | undefined {
    if (target instanceof Pid) return target
    if (typeof target === 'string' || typeof target === 'function') return this.pidOf(target, { pick })
    throw new ArgumentError('target must be a pid, a name or a GenServer class')
  }

  private post(target: Target, kind: 'cast' | 'info', msg: unknown): boolean {
    this.assertRunning()
    const pid = this.resolve(target, 'first')
    if (pid === undefined) return false
    if (pid.node === this.id) {
      const process = this.localProcess(pid)
      if (process === undefined) return false
      process.deliver({ kind, msg })
      return true
    }
    const peer = this.peers.up(pid.node)
    if (peer === undefined || peer.incarnation !== pid.incarnation) return false
    peer.send({ type: kind === 'cast' ? FrameType.Cast : FrameType.Info, to: pid, msg })
    return true
  }

  private sendTo(node: string, frame: Frame): void {
    this.peers.get(node)?.send(frame)
  }

  /** Handles one well-formed frame from an identified peer. */
  private dispatch(peer: Peer, frame: Frame): void {
    switch (frame.type) {
      case FrameType.Hello:
        throw new ProtocolError('a second Hello on one link', peer.nodeId)
      case FrameType.Bye:
        this.names.forget(peer.nodeId, peer.incarnation)
        this.peers.hangUp(peer, 'stop')
        return
      case FrameType.Tunnel:
        if (!frame.deliver) this.gateway.forward(peer.nodeId, frame)
        else if (this.tunnelDepth(peer) <= MAX_TUNNEL_DEPTH) this.relayed.delivered(peer.nodeId, frame)
        else throw new ProtocolError(`a tunnel through ${peer.nodeId}, itself ${MAX_TUNNEL_DEPTH + 1} tunnels deep, refused`, peer.nodeId)
        return
      case FrameType.Sync:
        this.docs.receive(peer, frame)
        return
      case FrameType.Awareness:
        this.docs.receiveAwareness(peer, frame)
        return
      case FrameType.Call: {
        const process = this.localProcess(frame.to)
        const reply = (outcome: Outcome): void => this.reply(peer, FrameType.Reply, frame.ref, outcome)
        const envelope: Envelope = { kind: 'call', msg: frame.msg, from: { pid: frame.from, node: peer.nodeId }, reply }
        if (process === undefined) reply({ ok: false, error: { name: 'NoProcError', message: `no process ${frame.to}`, reason: 'noproc' } })
        else process.deliver(envelope)
        return
      }
      case FrameType.Reply:
      case FrameType.RpcReply:
        this.requests.answer(peer.nodeId, frame.ref, frame)
        return
      case FrameType.Cast:
      case FrameType.Info:
        this.localProcess(frame.to)?.deliver({ kind: frame.type === FrameType.Cast ? 'cast' : 'info', msg: frame.msg })
        return
      case FrameType.Monitor:
        this.monitors.peerMonitors(peer.nodeId, frame.ref, frame.pid)
        return
      case FrameType.Demonitor:
        this.monitors.peerDemonitors(peer.nodeId, frame.ref)
        return
      case FrameType.Down:
        this.monitors.peerReportsDown(peer.nodeId, frame.ref, frame.reason)
        return
      case FrameType.Rpc:
        this.rpc.run(frame.module, frame.fn, frame.args, frame.callback, frame.from).then(
          (value) => this.reply(peer, FrameType.RpcReply, frame.ref, { ok: true, value }),
          (error: unknown) => this.reply(peer, FrameType.RpcReply, frame.ref, { ok: false, error: toWireError(error) }),
        )
        return
    }
  }

  /** Sends an answer; a value that cannot travel is answered with its EncodeError. */
  private reply(peer: Peer, type: typeof FrameType.Reply | typeof FrameType.RpcReply, ref: number, outcome: Outcome): void {
    try {
      peer.send({ type, ref, ...outcome })
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error
      peer.send({ type, ref, ok: false, error: toWireError(error) })
    }
  }

  private peerSynced(peer: Peer): void {
    if (peer.up || this.peers.get(peer.nodeId) !== peer) return
    peer.up = true
    this.names.markUp(peer.nodeId, peer.incarnation)
    this.manager.nodeUp(peer.nodeId)
    this.gateway.peerUp(peer.nodeId, this.ports.leadsToWorker(peer.link))
    log('%s: %s up', this.id, peer.nodeId)
    this.emit('nodeup', [{ node: peer.nodeId }])
  }

  private peerDown(peer: Peer, reason: CloseReason): void {
    this.docs.removePeer(peer)
    this.names.markDown(peer.nodeId)
    this.scheduleCollect(this.gracePeriod)
    this.requests.nodeDown(peer.nodeId)
    this.monitors.nodeDown(peer.nodeId)
    this.relayed.gatewayDown(peer.nodeId)
    // While this node stops, its own leaving is the news, not each peer's.
    if (this.stopped) return
    // Up or not: a peer still syncing may have asked for a tunnel.
    this.gateway.peerDown(peer.nodeId)
    if (!peer.up) return
    this.manager.nodeDown(peer.nodeId)
    log('%s: %s down (%s)', this.id, peer.nodeId, reason)
    this.emit('nodedown', [{ node: peer.nodeId, reason }])
  }

  /** One timer deletes the names of nodes unreachable for the grace period. */
  private scheduleCollect(delay: number): void {
    if (this.collectTimer !== undefined || this.stopped) return
    this.collectTimer = setTimeout(() => {
      this.collectTimer = undefined
      const next = this.names.collect(this.gracePeriod)
      if (next !== undefined) this.scheduleCollect(next)
    }, delay)
  }

  private report(error: DistribunatorError): void {
    log('%s: %s', this.id, error.message)
    if (this._observers.has('error')) this.emit('error', [error])
  }

  private assertRunning(): void {
    if (this.stopped) throw new NodeStoppedError(this.id)
  }
}

/** The transports the options ask for (the node adds MessagePorts and tunnels to them). */
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
    if (options.iceServers !== undefined || options.iceTransportPolicy !== undefined) {
      throw new ArgumentError('iceServers and iceTransportPolicy need signaling servers')
    }
    if (password !== undefined && !broadcastChannel) throw new ArgumentError('password needs signaling servers or broadcastChannel')
  } else {
    if (transport !== undefined) throw new ArgumentError('give either signaling or transport, not both')
    if (!Array.isArray(signaling) || signaling.length === 0 || !signaling.every((u) => typeof u === 'string' && /^wss?:\/\//.test(u))) {
      throw new ArgumentError('signaling must be a non-empty list of ws:// or wss:// URLs')
    }
    const { iceServers, iceTransportPolicy } = options
    transports.push(webrtcTransport({ signaling, password, iceServers, iceTransportPolicy, maxFrameBytes }))
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

function nameOf(name: string | ServiceClass): string {
  if (typeof name === 'string') {
    if (name === '') throw new ArgumentError('a name must be a non-empty string')
    return name
  }
  if (typeof name === 'function') return serviceNameOf(name)
  throw new ArgumentError('a name must be a string or a GenServer class')
}

/** A pid at random, each registration counting once (a pid joined twice is twice as likely). */
function pickRandom(runs: readonly { readonly pid: Pid; readonly count: number }[]): Pid {
  let total = 0
  for (const run of runs) total += run.count
  let ticket = Math.random() * total
  for (const run of runs) {
    ticket -= run.count
    if (ticket < 0) return run.pid
  }
  return (runs[runs.length - 1] as { pid: Pid }).pid
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new ArgumentError(`${name} must be a positive number`)
  return value
}
