/** The part of `@thaunknown/simple-peer` (v10, which ships no types) that the WebRTC transport uses. */
declare module '@thaunknown/simple-peer/lite.js' {
  export interface SimplePeerOptions {
    initiator?: boolean
    trickle?: boolean
    config?: RTCConfiguration
    channelConfig?: RTCDataChannelInit
  }
  /** A WebRTC connection with one data channel; a streamx Duplex of Uint8Array chunks. */
  export default class SimplePeer {
    constructor(options?: SimplePeerOptions)
    readonly connected: boolean
    readonly destroyed: boolean
    signal(data: unknown): void
    /** Queues a chunk behind the channel's bufferedAmount (backpressure). */
    write(chunk: Uint8Array): boolean
    destroy(error?: Error): void
    on(event: 'signal', listener: (data: unknown) => void): this
    on(event: 'connect' | 'close', listener: () => void): this
    on(event: 'data', listener: (data: Uint8Array) => void): this
    on(event: 'error', listener: (error: Error & { code?: string }) => void): this
    removeAllListeners(): this
  }
}
