/**
 * Distribunator: name-based process lookup, call, cast and rpc across browser tabs, workers
 * and Node processes — Erlang's `:pg` over a mesh, with the registry in a Yjs document.
 * This file is the whole public surface.
 */
export { startNode, DistribunatorNode } from './node.js'
export { GenServer } from './gen-server.js'
export { Pid } from './pid.js'
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
  DecodeError,
  UndefinedFunctionError,
} from './errors.js'

export type { NodeOptions, CallOptions, RpcOptions, PickStrategy, NodeEvents, LinkInfo } from './node.js'
export type { ServiceClass, Target } from './gen-server.js'
export type { Behaviour, From, ProcessContext } from './process.js'
export type { WatchEvent, WatchListener, WatchReason } from './registry.js'
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
  CloseReason,
  FinalCloseReason,
} from './transport/transport.js'
