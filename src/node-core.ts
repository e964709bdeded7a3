/**
 * The machinery of a node, behind its public methods (node.ts): the parts wired together —
 * local processes (process-table.ts), the registry replica (registry.ts), one link per peer
 * (peers.ts), the messaging paths (messaging.ts), monitors, tunnels — and the flow of frames
 * between them (see wire.ts for the protocol):
 *
 *   transport link opens ──► Hello both ways ──► registry sync ──► peer up ('nodeup')
 *   frames ──► decodeFrame ──► peer ──► dispatch ──► registry | messaging | monitors | tunnels
 *   link closes, Bye, or a newer incarnation ──► peer down ('nodedown'): its names
 *   vanish, its pending calls reject with NodeDownError, monitors fire 'noconnection'
 */
import { DocSync } from './doc-sync.js'
import { DistribunatorError, NodeIdTakenError, NodeStoppedError, ProtocolError } from './errors.js'
import { logger } from './log.js'
import { Manager, type ManagerOptions } from './manager.js'
import { Messaging } from './messaging.js'
import { Monitors, type DownEvent } from './monitors.js'
import type { NodeSettings } from './node-options.js'
import type { Peer } from './peer.js'
import { Peers } from './peers.js'
import { exitReasonForWire } from './process.js'
import { ProcessTable } from './process-table.js'
import { Registry } from './registry.js'
import { Requests } from './requests.js'
import { RpcModules } from './rpc.js'
import type { SignalingStatus } from './signaling/client.js'
import { Tunnels } from './tunnels.js'
import { combineTransports } from './transport/combined.js'
import { MessagePortTransport, acceptPorts, type WorkerScope } from './transport/message-port.js'
import type { CloseReason, LocalEndpoint, TransportSession } from './transport/transport.js'
import { FrameType, type Frame } from './wire.js'

const log = logger('node')

/** What the machinery tells the public node (each becomes one of its events). */
export interface NodeCoreHooks {
  nodeUp(node: string): void
  nodeDown(node: string, reason: CloseReason): void
  monitorFired(event: DownEvent): void
  signalingChanged(status: SignalingStatus): void
  /** Something went wrong that no caller can be told about. */
  failed(error: DistribunatorError): void
  /** Another node took this node's id: leave. */
  superseded(): void
}

export class NodeCore {
  readonly self: LocalEndpoint
  readonly processes: ProcessTable
  readonly names: Registry
  readonly docs: DocSync
  readonly requests = new Requests()
  readonly rpc = new RpcModules()
  readonly messaging: Messaging
  readonly monitors: Monitors
  readonly peers: Peers
  /** Links to workers and to the pages of a worker. */
  readonly ports = new MessagePortTransport()
  readonly tunnels: Tunnels
  readonly manager: Manager
  readonly session: TransportSession
  private readonly stopAcceptingPorts: (() => void) | undefined
  private stopped = false

  constructor(
    readonly settings: NodeSettings,
    self: LocalEndpoint,
    private readonly hooks: NodeCoreHooks,
    parent: WorkerScope | undefined,
    managerOptions: ManagerOptions | undefined,
  ) {
    this.self = self
    this.processes = new ProcessTable(self, {
      exited: (pid, reason) => {
        if (!this.stopped) this.names.leaveAll(pid)
        this.monitors.processExited(pid, exitReasonForWire(reason))
      },
      handlerFailed: (pid, error) => hooks.failed(new DistribunatorError(`a handler of ${pid} threw`, { cause: error })),
    })
    this.names = new Registry(self, settings.registryGracePeriod, (error) =>
      hooks.failed(new DistribunatorError('a watch listener threw', { cause: error })),
    )
    this.docs = new DocSync({
      synced: (peer, doc) => this.names.isDocName(doc) && this.peerSynced(peer as Peer),
      unshared: (doc) => this.names.peerShares(doc),
      failed: (error) => hooks.failed(error),
    })
    this.names.shareWith(this.docs)
    this.peers = new Peers(self, settings.maxFrameBytes, settings.heartbeat, {
      identified: (peer) => this.docs.addPeer(peer),
      frame: (peer, frame) => this.dispatch(peer, frame),
      down: (peer, reason) => this.peerDown(peer, reason),
      replaced: (peer) => this.names.forget(peer.nodeId, peer.incarnation),
      switched: (peer) => {
        // Frames still in flight on the link we left may never arrive (its gateway went):
        // sync again over the new one, which also finishes a sync that was half done.
        this.docs.resync(peer)
        this.tunnels.peerSwitched(peer)
      },
      superseded: () => {
        if (this.stopped) return
        hooks.failed(new NodeIdTakenError(self.nodeId))
        hooks.superseded()
      },
      error: (error) => hooks.failed(error),
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
      fired: (event) => hooks.monitorFired(event),
    })
    this.tunnels = new Tunnels(this.peers, this.ports, settings.relay)
    // After peers: managerOptions.nodes makes the Manager ask isUp() at once.
    this.manager = new Manager(
      {
        selfId: self.nodeId,
        isUp: (node) => this.peers.up(node) !== undefined,
        dial: (node) => this.session.connect(node),
        hangUp: (node) => {
          const peer = this.peers.get(node)
          if (peer !== undefined) this.peers.hangUp(peer, 'disconnect')
        },
      },
      managerOptions,
    )
    const transport = combineTransports([...settings.transports, this.ports, this.tunnels.transport])
    this.session = transport.open(self, {
      ...this.peers.transportHooks,
      signalingChanged: (status) => {
        if (!this.stopped) hooks.signalingChanged(status)
      },
      unreachable: (node) => {
        if (!this.stopped) this.tunnels.requestRelay(node)
      },
    })
    this.stopAcceptingPorts = parent === undefined ? undefined : acceptPorts(parent, this.ports)
  }

  /** Leaves: peers are told and given `stopTimeout` to hang up, then every part is released. */
  async leave(): Promise<void> {
    this.stopped = true
    log('%s stopping', this.self.nodeId)
    this.manager.stop()
    this.names.stopCollecting()
    this.requests.failAll(() => new NodeStoppedError(this.self.nodeId))
    await this.peers.sayGoodbye(this.settings.stopTimeout)
    this.stopAcceptingPorts?.()
    this.session.close()
    this.peers.clear()
    this.processes.exitAll('shutdown')
    this.monitors.stop()
    this.docs.destroy()
    this.names.destroy()
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
    log('%s: %s up', this.self.nodeId, peer.nodeId)
    this.hooks.nodeUp(peer.nodeId)
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
    log('%s: %s down (%s)', this.self.nodeId, peer.nodeId, reason)
    this.hooks.nodeDown(peer.nodeId, reason)
  }
}
