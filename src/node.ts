/**
 * A node: one tab, worker or Node process in a room — its public methods. Each hands over to
 * a part of its machinery (node-core.ts, where the flow of frames, peers up and down, and
 * leaving are), and checks first that the node is still running.
 */
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { ArgumentError, DistribunatorError, NodeStoppedError, NoNodeError } from './errors.js'
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
import type { Manager } from './manager.js'
import type { CallOptions, RpcOptions } from './messaging.js'
import type { DownEvent, Monitor } from './monitors.js'
import type { PickStrategy, WatchListener } from './name-view.js'
import { NodeCore } from './node-core.js'
import { resolveOptions, type NodeOptions } from './node-options.js'
import type { LinkInfo } from './peer.js'
import { Pid, newIncarnation } from './pid.js'
import type { Behaviour } from './process.js'
import { remoteModule, type ProxyOptions, type RemoteModule } from './rpc-proxy.js'
import type { RpcModule } from './rpc.js'
import type { SignalingStatus } from './signaling/client.js'
import { portFor } from './transport/message-port.js'
import { inNode, loadPeerConnectionClass } from './transport/peer-connection.js'
import type { CloseReason } from './transport/transport.js'

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
  private readonly core: NodeCore
  private stopped = false
  private stopping: Promise<void> | undefined
  /** A closing page says goodbye, so peers drop its names at once rather than after heartbeats. */
  private readonly onPageHide = (): void => void this.stop()

  /** Use `startNode`. */
  constructor(options: NodeOptions) {
    super((error) => this.report(new DistribunatorError('an event listener threw', { cause: error })))
    // Checked before anything below starts a timer that a throw would leave behind.
    const settings = resolveOptions(options)
    this.room = settings.room
    this.id = settings.nodeId
    this.incarnation = newIncarnation()
    const self = { nodeId: this.id, incarnation: this.incarnation, room: this.room }
    this.core = new NodeCore(
      settings,
      self,
      {
        nodeUp: (node) => this.emit('nodeup', [{ node }]),
        nodeDown: (node, reason) => this.emit('nodedown', [{ node, reason }]),
        monitorFired: (event) => this.emit('down', [event]),
        signalingChanged: (status) => this.emit('signaling', [status]),
        failed: (error) => this.report(error),
        superseded: () => void this.stop(),
      },
      options.parent,
      options.manager,
    )
    this.manager = this.core.manager
    globalThis.addEventListener?.('pagehide', this.onPageHide)
  }

  /**
   * Links this node (a page) to a node running in `worker` (started with `parent: self`),
   * and makes the worker reachable from every node this one reaches. Returns a function
   * that detaches it. A MessagePort stands for a worker that listens on it.
   */
  attachWorker(worker: Worker | SharedWorker | MessagePort): () => void {
    this.assertRunning()
    return this.core.ports.add(portFor(worker), true)
  }

  /** Every link to another node, with its round trip and transport (for inspectors). */
  links(): LinkInfo[] {
    return this.core.peers.links()
  }

  /**
   * How each signaling server is doing: 'connecting', 'connected', or 'failing' with the
   * reason, since when, and how many payloads came from it. Empty without signaling.
   */
  signaling(): SignalingStatus[] {
    return this.stopped ? [] : (this.core.session.signaling?.() ?? [])
  }

  /** Ids of the connected (up) nodes, not including this one (Erlang's `Node.list()`). */
  nodes(): string[] {
    return this.core.peers.upIds()
  }

  /** Starts a local process; returns its pid at once (init runs first, messages wait). */
  spawn<S extends AnyGenServer>(server: S): Pid<S>
  spawn(behaviour: Behaviour<DistribunatorNode>): Pid
  spawn(behaviour: Behaviour<DistribunatorNode> | AnyGenServer): Pid {
    this.assertRunning()
    return this.core.processes.spawn(behaviour, this).pid
  }

  /** Spawns a GenServer class, waits for its init, and registers it under its `serviceName`. */
  async start<C extends new (...args: never[]) => AnyGenServer>(
    service: C & { serviceName?: string },
    ...args: ConstructorParameters<C>
  ): Promise<Pid<InstanceType<C>>> {
    const name = serviceNameOf(service)
    this.assertRunning()
    const { pid, ready } = this.core.processes.spawn(new service(...args), this)
    await ready
    this.register(name, pid)
    return pid as Pid<InstanceType<C>>
  }

  /** Ends a local process: its names leave, its monitors fire, its pending calls fail. */
  exit(pid: Pid, reason: unknown = 'normal'): void {
    this.assertRunning()
    this.core.processes.exit(pid, reason)
  }

  /** Adds a registration of a local pid under a name (counted: twice → listed twice). */
  register(name: string | ServiceClass, pid: Pid): void {
    this.assertRunning()
    const key = nameOf(name)
    this.core.processes.checkLocal(pid, 'register', true)
    this.core.names.join(key, pid)
  }

  /** Removes one registration; 'not_joined' if the pid had none under the name. */
  unregister(name: string | ServiceClass, pid: Pid): 'ok' | 'not_joined' {
    this.assertRunning()
    this.core.processes.checkLocal(pid, 'unregister')
    return this.core.names.leave(nameOf(name), pid)
  }

  /** One live pid of a name, or undefined; by a service class, typed as its server. */
  pidOf<T extends string | ServiceClass>(name: T, options: { pick?: PickStrategy } = {}): Pid<ServerOf<T>> | undefined {
    return this.core.names.view.pick(nameOf(name), options.pick ?? 'random', this.id) as Pid<ServerOf<T>> | undefined
  }

  /** Every live pid of a name, once per registration, in the agreed order. */
  allPidsOf<T extends string | ServiceClass>(name: T): Pid<ServerOf<T>>[] {
    return this.core.names.view.pids(nameOf(name)) as Pid<ServerOf<T>>[]
  }

  /** Nodes having the name registered, each once, in the agreed order. */
  allNodesOf(name: string | ServiceClass): string[] {
    return this.core.names.view.nodes(nameOf(name))
  }

  /** Every non-empty name with its live pids. */
  registry(): Map<string, Pid[]> {
    return this.core.names.view.snapshot()
  }

  /**
   * Watches joins and leaves of a name ('*' for all); returns the unsubscribe function.
   * Listeners run synchronously, in the order the changes happened; a listener may register
   * and unregister, and every watcher hears those changes after the one that caused them.
   */
  watch(name: string | ServiceClass, listener: WatchListener): () => void {
    return this.core.names.view.watch(name === '*' ? '*' : nameOf(name), listener)
  }

  /**
   * Calls a process and resolves with its reply. By a service class or a typed pid, the
   * message and the reply are typed by its GenServer; by a plain pid or a name, the reply is
   * typed by `R` (e.g. `node.call<number>('counter', 'next')`).
   */
  call<R = unknown, T extends Target = Target>(
    target: T,
    msg: CallOf<T>,
    options: CallOptions = {},
  ): Promise<unknown extends R ? ReplyOf<T> : R> {
    // Not async: one promise less per call. Still rejects rather than throws, as async would.
    if (this.stopped) return Promise.reject(new NodeStoppedError(this.id))
    return this.core.messaging.call(target, msg, options) as Promise<unknown extends R ? ReplyOf<T> : R>
  }

  /** Casts to a process; false if no live target was found. Never throws for a dead pid. */
  cast<T extends Target>(target: T, msg: CastOf<T>): boolean {
    this.assertRunning()
    return this.core.messaging.post(target, 'cast', msg)
  }

  /** Sends a plain message, handled by `handleInfo`; false if no live target was found. */
  send<T extends Target>(target: T, msg: InfoOf<T>): boolean {
    this.assertRunning()
    return this.core.messaging.post(target, 'info', msg)
  }

  /** Monitors a process: the Monitor resolves once with the reason it went down. */
  monitor(pid: Pid): Monitor {
    this.assertRunning()
    if (!(pid instanceof Pid)) throw new ArgumentError('monitor needs a pid')
    return this.core.monitors.monitor(pid)
  }

  /** Exposes functions to rpc under a module name; returns a function that withdraws them. */
  expose(module: string, functions: RpcModule): () => void {
    return this.core.rpc.expose(module, functions)
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
    return (await this.core.messaging.rpc(node, module, fn, args, options)) as R
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
    return this.core.docs.share(name, doc, { awareness: options.awareness })
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
    await this.core.leave()
    this.destroy()
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
