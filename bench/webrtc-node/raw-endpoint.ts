/**
 * The baseline: a bare RTCDataChannel from node-datachannel's polyfill, one reliable ordered
 * channel per pair, negotiation relayed by the main script (no signaling server, no
 * protocol, no codec). What a round trip or a byte costs here is the floor for any library
 * on this WebRTC stack. Messages are one type byte and, for stamped ones, a u32 index:
 */
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { ArrivalCounter, SeriesCollector, deferred, paced, type Deferred } from './arrivals.js'
import type { Endpoint } from './endpoint.js'
import { clock } from './stats.js'

const PING = 1
const PONG = 2
const DATA = 3
const ITEM = 4

/** A blast waits while more than this is queued in the channel... */
const HIGH_WATER = 1024 * 1024
/** ...until it drains below this. */
const LOW_WATER = 256 * 1024

interface Pair {
  readonly pc: RTCPeerConnection
  channel: RTCDataChannel | undefined
  /** Negotiation steps run one after the other: a candidate must follow its description. */
  steps: Promise<void>
  readonly open: Deferred<void>
  /** When the channel or the connection was first seen closed or failing. */
  readonly closed: Deferred<number>
}

/** An endpoint over bare data channels. */
export class RawEndpoint implements Endpoint {
  private readonly pairs = new Map<string, Pair>()
  private readonly counter = new ArrivalCounter()
  private readonly series = new SeriesCollector()
  private pong: (() => void) | undefined

  constructor(private readonly selfId: string, private readonly sendSignal: (to: string, data: unknown) => void) {}

  async start(): Promise<void> {}

  async mesh(peers: readonly string[]): Promise<number> {
    for (const peer of peers) if (this.selfId < peer) this.dial(peer)
    await Promise.all(peers.map((peer) => this.pair(peer).open.promise))
    return clock()
  }

  signal(from: string, data: unknown): void {
    const pair = this.pair(from)
    const message = data as { description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit }
    pair.steps = pair.steps.then(async () => {
      if (message.description !== undefined) {
        await pair.pc.setRemoteDescription(message.description)
        if (message.description.type === 'offer') {
          const answer = await pair.pc.createAnswer()
          await pair.pc.setLocalDescription(answer)
          this.sendSignal(from, { description: { type: answer.type, sdp: answer.sdp } })
        }
      } else if (message.candidate !== undefined) {
        await pair.pc.addIceCandidate(message.candidate)
      }
    })
  }

  async pingPong(peer: string, count: number): Promise<number[]> {
    const channel = this.channel(peer)
    const message = new Uint8Array(5)
    message[0] = PING
    const samples: number[] = []
    for (let i = 0; i < count; i++) {
      new DataView(message.buffer).setUint32(1, i)
      const t0 = performance.now()
      await new Promise<void>((resolve) => {
        this.pong = resolve
        channel.send(message)
      })
      samples.push(performance.now() - t0)
    }
    return samples
  }

  arm(count: number): void {
    this.counter.arm(count)
  }

  received(): Promise<number> {
    return this.counter.received()
  }

  async blast(peer: string, count: number, bytes: number): Promise<number> {
    const channel = this.channel(peer)
    channel.bufferedAmountLowThreshold = LOW_WATER
    const payload = new Uint8Array(bytes)
    payload[0] = DATA
    const start = clock()
    for (let i = 0; i < count; i++) {
      if (channel.bufferedAmount > HIGH_WATER) {
        await new Promise((resolve) => channel.addEventListener('bufferedamountlow', resolve, { once: true }))
      }
      channel.send(payload)
    }
    return start
  }

  armSeries(_tag: string, count: number): void {
    this.series.arm(count)
  }

  collected(): Promise<number[]> {
    return this.series.collected()
  }

  emit(_tag: string, count: number, perSecond: number): Promise<number[]> {
    const channels = [...this.pairs.values()].flatMap((p) => (p.channel?.readyState === 'open' ? [p.channel] : []))
    const message = new Uint8Array(5)
    message[0] = ITEM
    return paced(count, perSecond, (i) => {
      new DataView(message.buffer).setUint32(1, i)
      for (const channel of channels) channel.send(message)
    })
  }

  gone(peer: string): Promise<number> {
    return this.pair(peer).closed.promise
  }

  async stop(): Promise<void> {
    for (const { pc } of this.pairs.values()) pc.close()
  }

  private dial(peer: string): void {
    const pair = this.pair(peer)
    this.attach(pair, pair.pc.createDataChannel('bench', { ordered: true }))
    pair.steps = pair.steps.then(async () => {
      const offer = await pair.pc.createOffer()
      await pair.pc.setLocalDescription(offer)
      this.sendSignal(peer, { description: { type: offer.type, sdp: offer.sdp } })
    })
  }

  /** The pair with `peer`, created on first use (by our dial or by its offer). */
  private pair(peer: string): Pair {
    const existing = this.pairs.get(peer)
    if (existing !== undefined) return existing
    const pc = new RTCPeerConnection({ iceServers: [] })
    const pair: Pair = { pc, channel: undefined, steps: Promise.resolve(), open: deferred(), closed: deferred() }
    pc.onicecandidate = ({ candidate }) => {
      if (candidate !== null) this.sendSignal(peer, { candidate: candidate.toJSON() })
    }
    pc.ondatachannel = ({ channel }) => this.attach(pair, channel)
    pc.onconnectionstatechange = () => {
      if (['disconnected', 'failed', 'closed'].includes(pc.connectionState)) pair.closed.resolve(clock())
    }
    this.pairs.set(peer, pair)
    return pair
  }

  private attach(pair: Pair, channel: RTCDataChannel): void {
    pair.channel = channel
    channel.binaryType = 'arraybuffer'
    channel.onopen = () => pair.open.resolve()
    channel.onclose = () => pair.closed.resolve(clock())
    channel.onmessage = ({ data }) => this.receive(channel, new Uint8Array(data as ArrayBuffer))
    if (channel.readyState === 'open') pair.open.resolve()
  }

  private receive(channel: RTCDataChannel, message: Uint8Array<ArrayBuffer>): void {
    switch (message[0]) {
      case PING:
        message[0] = PONG
        channel.send(message)
        break
      case PONG:
        this.pong?.()
        break
      case DATA:
        this.counter.hit()
        break
      case ITEM:
        this.series.hit(new DataView(message.buffer, message.byteOffset).getUint32(1))
        break
    }
  }

  private channel(peer: string): RTCDataChannel {
    const channel = this.pairs.get(peer)?.channel
    if (channel?.readyState !== 'open') throw new Error(`no open channel to ${peer}`)
    return channel
  }
}
