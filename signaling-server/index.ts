/**
 * `distribunator/signaling-server`: a y-webrtc-compatible signaling server for Node. The
 * whole public surface of this entry point.
 */
export { startSignalingServer } from './server.js'
export { DEFAULT_SIGNALING_OPTIONS } from './options.js'
export { CloseCode } from './protocol.js'

export type { SignalingServer } from './server.js'
export type { SignalingServerOptions, SignalingDefaults, ClientInfo, SignalingLogger } from './options.js'
export type { Health } from './http.js'
