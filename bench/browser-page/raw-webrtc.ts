/**
 * The physical limit: a bare RTCPeerConnection with one negotiated, reliable, ordered data
 * channel, as an app would write it by hand. The harness hands the SDP from page to page
 * (no trickle: each side waits for ICE gathering to complete first), so no library and no
 * signaling protocol is involved.
 */
import type { Pipe } from './pipe.js'

/** Backpressure bounds of the sender: the usual bufferedAmountLowThreshold pattern. */
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024

/** One side of the raw connection. */
export class RawWebrtc {
  private readonly pc = new RTCPeerConnection({ iceServers: [] })
  private readonly channel = this.pc.createDataChannel('bench', { negotiated: true, id: 0, ordered: true })
  private handler: (message: unknown) => void = () => undefined
  private readonly open: Promise<void>

  constructor() {
    this.channel.binaryType = 'arraybuffer'
    this.channel.bufferedAmountLowThreshold = LOW_WATER
    this.channel.onmessage = (event: MessageEvent) => this.handler(event.data)
    this.open = new Promise((resolve) => this.channel.addEventListener('open', () => resolve(), { once: true }))
  }

  /** The offer, with every candidate in it. */
  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer())
    return this.gathered()
  }

  /** Takes the offer; returns the answer, with every candidate in it. */
  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer })
    await this.pc.setLocalDescription(await this.pc.createAnswer())
    return this.gathered()
  }

  /** Takes the answer (offering side). */
  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer })
  }

  /** Resolves once the data channel is open. */
  opened(): Promise<void> {
    return this.open
  }

  /** The data channel as a Pipe. */
  pipe(): Pipe {
    const channel = this.channel
    return {
      send: (message) => channel.send(message as ArrayBufferView<ArrayBuffer> & string),
      ready: () =>
        channel.bufferedAmount <= HIGH_WATER
          ? undefined
          : new Promise((resolve) => channel.addEventListener('bufferedamountlow', () => resolve(), { once: true })),
      onMessage: (handler) => {
        this.handler = handler
      },
    }
  }

  close(): void {
    this.pc.close()
  }

  private async gathered(): Promise<string> {
    if (this.pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) =>
        this.pc.addEventListener('icegatheringstatechange', () => {
          if (this.pc.iceGatheringState === 'complete') resolve()
        }),
      )
    }
    return this.pc.localDescription!.sdp
  }
}
