/**
 * A node: one tab, worker or Node process in a room. It wires its parts together — local
 * processes (process-table.ts), the registry replica (registry.ts), one link per peer
 * (peers.ts), the messaging paths (messaging.ts), monitors, tunnels — and routes every frame
 * from a peer to the part it is for (see wire.ts for the protocol). The main flow:
 *
 *   transport link opens ──► Hello both ways ──► registry sync ──► peer up ('nodeup')
 *   frames ──► decodeFrame ──► peer ──► dispatch ──► registry | messaging | monitors | tunnels
 *   link closes, Bye, or a newer incarnation ──► peer down ('nodedown'): its names
 *   vanish, its pending calls reject with NodeDownError, monitors fire 'noconnection'
 */
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { DocSync } from './doc-sync.js'
import { ArgumentError, DistribunatorError, NodeIdTakenError, NodeStoppedError, NoNodeError, ProtocolError } from './errors.js'
import { SafeObservable } from './events.js'
import {
  nameOf,
  serviceNameOf,
  type AnyGenServer,
  type CallOf,
  type CastOf,
  type InfoOf,
  type ReplyOf,
  type ServerOf,
  type ServiceClass,
  type Target,
} from './gen-server.js'
import { logger } from './log.js'
import { Manager } from './manager.js'
import { Messaging, type CallOptions, type RpcOptions } from './messaging.js'
import { Monitors, type DownEvent, type Monitor } from './monitors.js'
import type { PickStrategy, WatchListener } from './name-view.js'
import { resolveOptions, type NodeOptions, type NodeSettings } from './node-options.js'
import type { LinkInfo, Peer } from './peer.js'
import { Peers } from './peers.js'
import { Pid, newIncarnation } from './pid.js'
import { exitReasonForWire, type Behaviour } from './process.js'
import { ProcessTable } from './process-table.js'
import { Registry } from './registry.js'
import { Requests } from './requests.js'
import { remoteModule, type ProxyOptions, type RemoteModule } from './rpc-proxy.js'
import { RpcModules, type RpcModule } from './rpc.js'
import type { SignalingStatus } from './signaling/client.js'
import { Tunnels } from './tunnels.js'
import { combineTransports } from './transport/combined.js'
import { MessagePortTransport, acceptPorts, portFor } from './transport/message-port.js'
import { inNode, loadPeerConnectionClass } from './transport/peer-connection.js'
import type { CloseReason, TransportSession } from './transport/transport.js'
import { FrameType, type Frame } from './wire.js'

/** Events of a node. */
export interface NodeEvents {
  /** A peer is connected and synced. */
  nodeup: (event: { node: string }) => void
  /** A peer went down; `reason` says how ('closed', 'stop', 'restarted', a transport reason...). */
  nodedown: (event: { node: string; reason: CloseReason }) => void
  /** A monitor fired. */
  down: (event: DownEvent) => void
  /** Something went wrong that no caller can be told about (bad peer frame, throwing handler). */
  error: (error: DistribunatorError) => void
  /** A signaling server changed state: connected, or failing (with why) — `node.signaling()` has them all. */
  signaling: (status: SignalingStatus) => void
}

const REGISTRY_DOC = 'distribunator/registry'
const log = logger('node')

/** Starts a node and joins its room. */
export async function startNode(options: NodeOptions): Promise<DistribunatorNode> {
  // In Node, WebRTC (node-datachannel) loads now, and without it this says what to install. A
  // browser or worker without RTCPeerConnection joins through servers that relay instead.
  if (options?.signaling !== undefined && options.webrtc !== false && inNode()) await loadPeerConnectionClass()
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
  /** The room this node is in. */
  readonly room: string
  private readonly settings: NodeSettings
  private readonly processes: ProcessTable
  private readonly names: Registry
  private readonly docs: DocSync
  private readonly requests = new Requests()
  private readonly rpc = new RpcModules()
  private readonly messaging: Messaging
  private readonly monitors: Monitors
  private readonly peers: Peers
  /** Links to workers and to the pages of a worker. */
  private readonly ports = new MessagePortTransport()
  private readonly tunnels: Tunnels
  private readonly session: TransportSession
  private readonly stopAcceptingPorts: (() => void) | undefined
  private stopped = false
  private stopping: Promise<void> | undefined
  /** A closing page says goodbye, so peers drop its names at once rather than after heartbeats. */
  private readonly onPageHide = (): void => void this.stop()

  /** Use `startNode`. */
  constructor(options: NodeOptions) {
    super((error) => this.report(new DistribunatorError('an event listener threw', { cause: error })))
    // Checked before anything below starts a timer that a throw would leave behind.
    const settings = resolveOptions(options)
    this.settings = settings
    this.room = settings.room
    this.id = settings.nodeId
    this.incarnation = newIncarnation()
    const self = { nodeId: this.id, incarnation: this.incarnation, room: this.room }
    this.processes = new ProcessTable(self, {
      exited: (pid, reason) => {
        if (!this.stopped) this.names.leaveAll(pid)
        this.monitors.processExited(pid, exitReasonForWire(reason))
      },
      handlerFailed: (pid, error) => this.report(new DistribunatorError(`a handler of ${pid} threw`, { cause: error })),
    })
    this.names = new Registry(self, settings.registryGracePeriod, (error) =>
      this.report(new DistribunatorError('a watch listener threw', { cause: error })),
    )
    this.docs = new DocSync({
      synced: (peer, doc) => doc === REGISTRY_DOC && this.peerSynced(peer as Peer),
      failed: (error) => this.report(error),
    })
    this.docs.share(REGISTRY_DOC, this.names.doc, this.names.replication)
    this.peers = new Peers(self, settings.maxFrameBytes, settings.heartbeat, {
      identified: (peer) => this.docs.addPeer(peer),
      frame: (peer, frame) => this.dispatch(peer, frame),
      down: (peer, reason) => this.peerDown(peer, reason),
      replaced: (peer) => this.names.forget(peer.nodeId, peer.incarnation),
      switched: (peer) => {
        // Frames still in flight on the link we left may never arrive (its gateway went):
        // sync again over the new one, which also finishes a sync that was half done.
        this.docs.addPeer(peer)
        this.tunnels.peerSwitched(peer)
      },
      superseded: () => {
        if (this.stopped) return
        this.report(new NodeIdTakenError(this.id))
        void this.stop()
      },
      error: (error) => this.report(error),
    })
    this.messaging = new Messaging({
      self,
      callTimeout: settings.callTimeout,
      peers: this.peers,
      requests: this.requests,
      rpc: this.rpc,
      names: this.names.view,
      process: (pid) => this.processes.get(pid),
    })
    this.monitors = new Monitors({
      self,
      isAlive: (pid) => this.processes.get(pid) !== undefined,
      upIncarnation: (node) => this.peers.up(node)?.incarnation,
      send: (node, frame) => this.peers.get(node)?.send(frame),
      fired: (event) => this.emit('down', [event]),
    })
    this.tunnels = new Tunnels(this.peers, this.ports, settings.relay)
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
    const transport = combineTransports([...settings.transports, this.ports, this.tunnels.transport])
    this.session = transport.open(self, {
      ...this.peers.transportHooks,
      signalingChanged: (status) => {
        if (!this.stopped) this.emit('signaling', [status])
      },
      unreachable: (node) => {
        if (!this.stopped) this.tunnels.requestRelay(node)
      },
    })
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
    return this.peers.links()
  }

  /**
   * How each signaling server is doing: 'connecting', 'connected', or 'failing' with the
   * reason, since when, and how many payloads came from it. Empty without signaling.
   */
  signaling(): SignalingStatus[] {
    return this.stopped ? [] : (this.session.signaling?.() ?? [])
  }

  /** Ids of the connected (up) nodes, not including this one (Erlang's `Node.list()`). */
  nodes(): string[] {
    return this.peers.upIds()
  }

  /** Starts a local process; returns its pid at once (init runs first, messages wait). */
  spawn<S extends AnyGenServer>(server: S): Pid<S>
  spawn(behaviour: Behaviour<DistribunatorNode>): Pid
  spawn(behaviour: Behaviour<DistribunatorNode> | AnyGenServer): Pid {
    this.assertRunning()
    return this.processes.spawn(behaviour, this).pid
  }

  /** Spawns a GenServer class, waits for its init, and registers it under its `serviceName`. */
  async start<C extends new (...args: never[]) => AnyGenServer>(
    service: C & { serviceName?: string },
    ...args: ConstructorParameters<C>
  ): Promise<Pid<InstanceType<C>>> {
    const name = serviceNameOf(service)
    this.assertRunning()
    const { pid, ready } = this.processes.spawn(new service(...args), this)
    await ready
    this.register(name, pid)
    return pid as Pid<InstanceType<C>>
  }

  /** Ends a local process: its names leave, its monitors fire, its pending calls fail. */
  exit(pid: Pid, reason: unknown = 'normal'): void {
    this.assertRunning()
    this.processes.exit(pid, reason)
  }

  /** Adds a registration of a local pid under a name (counted: twice → listed twice). */
  register(name: string | ServiceClass, pid: Pid): void {
    this.assertRunning()
    const key = nameOf(name)
    this.processes.checkLocal(pid, 'register', true)
    this.names.join(key, pid)
  }

  /** Removes one registration; 'not_joined' if the pid had none under the name. */
  unregister(name: string | ServiceClass, pid: Pid): 'ok' | 'not_joined' {
    this.assertRunning()
    this.processes.checkLocal(pid, 'unregister')
    return this.names.leave(nameOf(name), pid)
  }

  /** One live pid of a name, or undefined; by a service class, typed as its server. */
  pidOf<T extends string | ServiceClass>(name: T, options: { pick?: PickStrategy } = {}): Pid<ServerOf<T>> | undefined {
    return this.names.view.pick(nameOf(name), options.pick ?? 'random', this.id) as Pid<ServerOf<T>> | undefined
  }

  /** Every live pid of a name, once per registration, in the agreed order. */
  allPidsOf<T extends string | ServiceClass>(name: T): Pid<ServerOf<T>>[] {
    return this.names.view.pids(nameOf(name)) as Pid<ServerOf<T>>[]
  }

  /** Nodes having the name registered, each once, in the agreed order. */
  allNodesOf(name: string | ServiceClass): string[] {
    return this.names.view.nodes(nameOf(name))
  }

  /** Every non-empty name with its live pids. */
  registry(): Map<string, Pid[]> {
    return this.names.view.snapshot()
  }

  /** Watches joins and leaves of a name ('*' for all); returns the unsubscribe function. */
  watch(name: string | ServiceClass, listener: WatchListener): () => void {
    return this.names.view.watch(name === '*' ? '*' : nameOf(name), listener)
  }

  /**
   * Calls a process and resolves with its reply. By a service class or a typed pid, the
   * message and the reply are typed by its GenServer; by a plain pid or a name, the reply is
   * typed by `R` (e.g. `node.call<number>('counter', 'next')`).
   */
  async call<R = unknown, T extends Target = Target>(
    target: T,
    msg: CallOf<T>,
    options: CallOptions = {},
  ): Promise<unknown extends R ? ReplyOf<T> : R> {
    this.assertRunning()
    return (await this.messaging.call(target, msg, options)) as unknown extends R ? ReplyOf<T> : R
  }

  /** Casts to a process; false if no live target was found. Never throws for a dead pid. */
  cast<T extends Target>(target: T, msg: CastOf<T>): boolean {
    this.assertRunning()
    return this.messaging.post(target, 'cast', msg)
  }

  /** Sends a plain message, handled by `handleInfo`; false if no live target was found. */
  send<T extends Target>(target: T, msg: InfoOf<T>): boolean {
    this.assertRunning()
    return this.messaging.post(target, 'info', msg)
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
  async nodeRpc<R = unknown>(
    name: string | ServiceClass,
    module: string,
    fn: string,
    args: readonly unknown[],
    options: RpcOptions = {},
  ): Promise<R> {
    return this.doNodeRpc<R>(this.firstNodeOf(name), module, fn, args, options)
  }

  /** Runs `module.fn(...args)` on `node`; the callback runs there before the reply. */
  async doNodeRpc<R = unknown>(node: string, module: string, fn: string, args: readonly unknown[], options: RpcOptions = {}): Promise<R> {
    this.assertRunning()
    return (await this.messaging.rpc(node, module, fn, args, options)) as R
  }

  /**
   * A typed proxy of the module a node exposes: `node.proxy<typeof mathApi>('math', { node:
   * 'edge-1' })`, then `await math.add(1, 2)`. Each call is a `doNodeRpc` with these options
   * (by `name`: a `nodeRpc`, to the first node having it when called); the target still
   * refuses what it has not exposed.
   */
  proxy<M extends object>(module: string, options: ProxyOptions): RemoteModule<M> {
    this.assertRunning()
    return remoteModule<M>(module, options, (target, fn, args, rpcOptions) =>
      target.node !== undefined
        ? this.doNodeRpc(target.node, module, fn, args, rpcOptions)
        : this.nodeRpc(target.name, module, fn, args, rpcOptions),
    )
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
    this.names.stopCollecting()
    this.requests.failAll(() => new NodeStoppedError(this.id))
    await this.peers.sayGoodbye(this.settings.stopTimeout)
    this.stopAcceptingPorts?.()
    this.session.close()
    this.peers.clear()
    this.processes.exitAll('shutdown')
    this.monitors.stop()
    this.docs.destroy()
    this.names.destroy()
    this.destroy()
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
        this.tunnels.receive(peer, frame)
        return
      case FrameType.Sync:
        this.docs.receive(peer, frame)
        return
      case FrameType.Awareness:
        this.docs.receiveAwareness(peer, frame)
        return
      case FrameType.Call:
        this.messaging.receiveCall(peer, frame)
        return
      case FrameType.Reply:
      case FrameType.RpcReply:
        this.requests.answer(peer.nodeId, frame.ref, frame)
        return
      case FrameType.Cast:
      case FrameType.Info:
        this.messaging.receivePost(frame)
        return
      case FrameType.Rpc:
        this.messaging.receiveRpc(peer, frame)
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
    }
  }

  private peerSynced(peer: Peer): void {
    if (peer.up || this.peers.get(peer.nodeId) !== peer) return
    peer.up = true
    this.names.markUp(peer.nodeId, peer.incarnation)
    this.manager.nodeUp(peer.nodeId)
    this.tunnels.peerUp(peer)
    log('%s: %s up', this.id, peer.nodeId)
    this.emit('nodeup', [{ node: peer.nodeId }])
  }

  private peerDown(peer: Peer, reason: CloseReason): void {
    this.docs.removePeer(peer)
    this.names.markDown(peer.nodeId)
    this.requests.nodeDown(peer.nodeId)
    this.monitors.nodeDown(peer.nodeId)
    this.tunnels.peerDown(peer.nodeId, this.stopped)
    // While this node stops, its own leaving is the news, not each peer's.
    if (this.stopped || !peer.up) return
    this.manager.nodeDown(peer.nodeId)
    log('%s: %s down (%s)', this.id, peer.nodeId, reason)
    this.emit('nodedown', [{ node: peer.nodeId, reason }])
  }

  /** The first node, in the agreed order, having the name registered; throws `NoNodeError` if none. */
  private firstNodeOf(name: string | ServiceClass): string {
    const node = this.allNodesOf(name)[0]
    if (node === undefined) throw new NoNodeError(`no node has ${JSON.stringify(nameOf(name))} registered`)
    return node
  }

  private report(error: DistribunatorError): void {
    log('%s: %s', this.id, error.message)
    if (this._observers.has('error')) this.emit('error', [error])
  }

  private assertRunning(): void {
    if (this.stopped) throw new NodeStoppedError(this.id)
  }
}
