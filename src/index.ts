/**
 * Distribunator: name-based process lookup, call, cast and rpc across browser tabs, workers
 * and Node processes — Erlang's `:pg` over a mesh, with the registry in a Yjs document.
 * This file is the whole public surface.
 */
export { startNode, DistribunatorNode } from './node.js'
export { GenServer } from './gen-server.js'
export { Pid } from './pid.js'
export type { PidJSON } from './pid.js'
export { Monitor } from './monitors.js'
export { Manager } from './manager.js'
export { createMemoryNetwork } from './transport/memory.js'
export { webrtcTransport } from './transport/webrtc.js'
export { broadcastChannelTransport } from './transport/broadcast-channel.js'
export { combineTransports } from './transport/combined.js'
export {
  DistribunatorError,
  NoNodeError,
  NoPidError,
  DuplicateNodeError,
  NoProcError,
  NodeDownError,
  TimeoutError,
  CallingSelfError,
  BadRpcError,
  RemoteError,
  NotLocalError,
  ArgumentError,
  EncodeError,
  ProtocolError,
  NodeStoppedError,
  NodeIdTakenError,
  MessageTooLargeError,
  DecodeError,
  UndefinedFunctionError,
} from './errors.js'

export type { NodeEvents } from './node.js'
export type { SignalingStatus, SignalingServerAddress, SignalingCluster } from './signaling/client.js'
export type { LinkInfo } from './peer.js'
export type { NodeOptions } from './node-options.js'
export type { RelayLimits } from './gateway.js'
export type { CallOptions, RpcOptions } from './messaging.js'
export type { PickStrategy, WatchEvent, WatchListener, WatchReason } from './name-view.js'
export type { RemoteModule, RemoteFunction, ProxyOptions, ProxyTarget, ProxyToNode, ProxyToName } from './rpc-proxy.js'
export type {
  ServiceClass,
  ServiceName,
  Target,
  AnyGenServer,
  MessageTypes,
  TypesOf,
  ServerOf,
  CallOf,
  ReplyOf,
  CastOf,
  InfoOf,
} from './gen-server.js'
export type { Behaviour, From, ProcessContext } from './process.js'
export type { DownEvent } from './monitors.js'
export type { ManagerOptions } from './manager.js'
export type { RpcModule, RpcCallback } from './rpc.js'
export type { BadRpcReason } from './errors.js'
export type { MemoryNetwork, MemoryNetworkOptions } from './transport/memory.js'
export type { WebrtcTransportOptions } from './transport/webrtc.js'
export type { BroadcastChannelTransportOptions } from './transport/broadcast-channel.js'
export type { WorkerScope } from './transport/message-port.js'
export type {
  Transport,
  TransportSession,
  TransportHooks,
  Link,
  LocalEndpoint,
  Route,
  RouteKind,
  PortRoute,
  BroadcastChannelRoute,
  DirectRoute,
  TunnelRoute,
  ServerRoute,
  CloseReason,
  FinalCloseReason,
} from './transport/transport.js'
