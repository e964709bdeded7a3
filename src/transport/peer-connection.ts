/**
 * Where `RTCPeerConnection` comes from: the browser's own, or in Node node-datachannel's
 * polyfill (libdatachannel), loaded on first use. The import's specifier is a variable, so
 * bundlers leave it alone and browser builds never see node-datachannel.
 */
import { ArgumentError, DistribunatorError } from '../errors.js'

/** The `RTCPeerConnection` class (the standard one, or a polyfill with its API). */
export type PeerConnectionClass = typeof RTCPeerConnection

const NODE_WEBRTC = 'node-datachannel/polyfill'

let polyfill: PeerConnectionClass | undefined
let loading: Promise<PeerConnectionClass> | undefined

/** The class, if this runtime has it or it has been loaded; else undefined. */
export function peerConnectionClass(): PeerConnectionClass | undefined {
  return (globalThis as { RTCPeerConnection?: PeerConnectionClass }).RTCPeerConnection ?? polyfill
}

/** True in Node, where WebRTC comes from node-datachannel (Deno and Bun say they are Node too). */
export function inNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string'
}

/** Resolves with the class, loading node-datachannel in Node; rejects where there is none. */
export function loadPeerConnectionClass(): Promise<PeerConnectionClass> {
  const ready = peerConnectionClass()
  if (ready !== undefined) return Promise.resolve(ready)
  if (!inNode()) {
    return Promise.reject(
      new ArgumentError('this runtime has no WebRTC (RTCPeerConnection); in a Web Worker, join through the page (node.attachWorker)'),
    )
  }
  loading ??= (
    import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_WEBRTC) as Promise<{ RTCPeerConnection: PeerConnectionClass }>
  ).then(
    (module) => (polyfill = module.RTCPeerConnection),
    (error: Error) => {
      throw new DistribunatorError(
        `WebRTC could not load (${NODE_WEBRTC}: is node-datachannel installed? npm install node-datachannel): ${error.message}`,
        {
          cause: error,
        },
      )
    },
  )
  return loading
}
