/**
 * The baseline: a bare RTCDataChannel from node-datachannel's polyfill, one reliable ordered
 * channel per pair, negotiation relayed by the main script (no signaling server, no
 * protocol, no codec; a failed negotiation is started over, as any app must). What a round
 * trip or a byte costs here is the floor for any library on this WebRTC stack. Messages are
 * one type byte and, for stamped ones, a u32 index.
 */
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { ArrivalCounter, SeriesCollector, deferred, paced, type Deferred } from './arrivals.js'
import { timedRoundTrips, type Endpoint } from './endpoint.js'
import { clock } from './stats.js'

const PING = 1
const PONG = 2
const DATA = 3
const ITEM = 4
/** A ping and its pong through a relay (see `forward`): the relay passes these on, and only these. */
const PING_VIA = 5
const PONG_VIA = 6

/** A blast waits while more than this is queued in the channel... */
const HIGH_WATER = 1024 * 1024
/** ...until it drains below this. */
const LOW_WATER = 256 * 1024

interface Pair {
  readonly pc: RTCPeerConnection
  /** Which negotiation of the two this is: a failed one is started over with the next number. */
  readonly attempt: number
  channel: RTCDataChannel | undefined
  isOpen: boolean
  /** Negotiation steps run one after the other: a candidate must follow its description. */
  steps: Promise<void>
  /** When the channel or the connection was first seen closed or failing. */
  readonly closed: Deferred<number>
}

/** Negotiation data between two endpoints, relayed by the main script. */
interface Signal {
  /** The sender's generation (see `RawEndpoint`): a late message from before a rejoin is ignored. */
  readonly generation: number
  readonly attempt: number
  readonly description?: RTCSessionDescriptionInit
  readonly candidate?: RTCIceCandidateInit
  /** The sender dropped this attempt (it failed on its side): start over. */
  readonly restart?: true
}

/** An endpoint over bare data channels. */
export class RawEndpoint implements Endpoint {
  private readonly pairs = new Map<string, Pair>()
  /** Resolves once a channel to the peer is open, whichever attempt opened it. */
  private readonly opened = new Map<string, Deferred<void>>()
  private readonly counter = new ArrivalCounter()
  private readonly series = new SeriesCollector()
  private pong: (() => void) | undefined
  /** Channels whose messages this endpoint passes on as they are, each to its pair's channel. */
  private readonly forwarding = new Map<RTCDataChannel, RTCDataChannel>()

  private readonly sendSignal: (to: string, data: Omit<Signal, 'generation'>) => void

  /** `generation`: how many times this process rejoined (endpoint-process.ts); both ends of a pair are at the same one. */
  constructor(
    private readonly selfId: string,
    private readonly generation: number,
    sendSignal: (to: string, data: Signal) => void,
  ) {
    this.sendSignal = (to, data) => sendSignal(to, { ...data, generation })
  }

  async start(): Promise<void> {}

  async mesh(peers: readonly string[]): Promise<number> {
    for (const peer of peers) if (this.dials(peer)) this.dial(peer, 1)
    await Promise.all(peers.map((peer) => this.openedTo(peer).promise))
    return clock()
  }

  /**
   * Negotiation from the peer. As in any WebRTC app, a negotiation can fail (on this machine
   * libdatachannel refuses a DTLS handshake that arrives before the answer does): the side
   * that sees it says `restart`, and the dialling side starts over with the next attempt.
   */
  signal(from: string, data: unknown): void {
    const message = data as Signal
    if (message.generation !== this.generation) return
    let pair = this.pairs.get(from)
    if (pair !== undefined && message.attempt < pair.attempt) return
    if (message.restart === true) {
      if (pair !== undefined && !pair.isOpen) this.drop(from, pair, false)
      return
    }
    if (pair === undefined || message.attempt > pair.attempt) {
      if (pair !== undefined) this.drop(from, pair, false)
      pair = this.pair(from, message.attempt)
    }
    const current = pair
    current.steps = current.steps
      .then(async () => {
        if (message.description !== undefined) {
          await current.pc.setRemoteDescription(message.description)
          if (message.description.type === 'offer') {
            const answer = await current.pc.createAnswer()
            await current.pc.setLocalDescription(answer)
            this.sendSignal(from, { attempt: current.attempt, description: { type: answer.type, sdp: answer.sdp } })
          }
        } else if (message.candidate !== undefined) {
          await current.pc.addIceCandidate(message.candidate)
        }
      })
      .catch(() => this.drop(from, current, true))
  }

  /** `variant` 'via:<id>': the pings go to `peer` through the endpoint `id`, which forwards them (see `forward`). */
  async pingPong(peer: string, count: number, variant?: string, gapMs = 0): Promise<number[]> {
    const via = variant?.startsWith('via:') === true ? variant.slice('via:'.length) : undefined
    const channel = this.channel(via ?? peer)
    const message = new Uint8Array(5)
    message[0] = via === undefined ? PING : PING_VIA
    return timedRoundTrips(
      count,
      gapMs,
      (i) =>
        new Promise<void>((resolve) => {
          new DataView(message.buffer).setUint32(1, i)
          this.pong = resolve
          channel.send(message)
        }),
    )
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

  /** Passes the pings and pongs for another endpoint between `a` and `b` on, bytes as they came: a relay's floor. */
  forward(a: string, b: string): void {
    const [x, y] = [this.channel(a), this.channel(b)]
    this.forwarding.set(x, y).set(y, x)
  }

  gone(peer: string): Promise<number> {
    const pair = this.pairs.get(peer)
    if (pair === undefined) throw new Error(`no channel to ${peer}`)
    return pair.closed.promise
  }

  async stop(): Promise<void> {
    for (const { pc } of this.pairs.values()) pc.close()
  }

  /** True when this side makes the offer to `peer` (the lower id does). */
  private dials(peer: string): boolean {
    return this.selfId < peer
  }

  private openedTo(peer: string): Deferred<void> {
    let open = this.opened.get(peer)
    if (open === undefined) this.opened.set(peer, (open = deferred()))
    return open
  }

  private dial(peer: string, attempt: number): void {
    const pair = this.pair(peer, attempt)
    this.attach(peer, pair, pair.pc.createDataChannel('bench', { ordered: true }))
    pair.steps = pair.steps
      .then(async () => {
        const offer = await pair.pc.createOffer()
        await pair.pc.setLocalDescription(offer)
        this.sendSignal(peer, { attempt, description: { type: offer.type, sdp: offer.sdp } })
      })
      .catch(() => this.drop(peer, pair, true))
  }

  /** Ends an attempt that failed before opening; `tell` the peer so it drops its half too. */
  private drop(peer: string, pair: Pair, tell: boolean): void {
    if (this.pairs.get(peer) !== pair || pair.isOpen) return
    this.pairs.delete(peer)
    pair.pc.onconnectionstatechange = null
    pair.pc.close()
    if (tell) this.sendSignal(peer, { attempt: pair.attempt, restart: true })
    if (this.dials(peer)) this.dial(peer, pair.attempt + 1)
  }

  private pair(peer: string, attempt: number): Pair {
    const pc = new RTCPeerConnection({ iceServers: [] })
    const pair: Pair = { pc, attempt, channel: undefined, isOpen: false, steps: Promise.resolve(), closed: deferred() }
    pc.onicecandidate = ({ candidate }) => {
      if (candidate !== null) this.sendSignal(peer, { attempt, candidate: candidate.toJSON() })
    }
    pc.ondatachannel = ({ channel }) => this.attach(peer, pair, channel)
    pc.onconnectionstatechange = () => {
      if (!['disconnected', 'failed', 'closed'].includes(pc.connectionState)) return
      pair.closed.resolve(clock())
      this.drop(peer, pair, true)
    }
    this.pairs.set(peer, pair)
    return pair
  }

  private attach(peer: string, pair: Pair, channel: RTCDataChannel): void {
    pair.channel = channel
    channel.binaryType = 'arraybuffer'
    const open = (): void => {
      pair.isOpen = true
      this.openedTo(peer).resolve()
    }
    channel.onopen = open
    channel.onclose = () => pair.closed.resolve(clock())
    channel.onmessage = ({ data }) => this.receive(channel, new Uint8Array(data as ArrayBuffer))
    if (channel.readyState === 'open') open()
  }

  private receive(channel: RTCDataChannel, message: Uint8Array<ArrayBuffer>): void {
    const onward = this.forwarding.get(channel)
    if (onward !== undefined && (message[0] === PING_VIA || message[0] === PONG_VIA)) return onward.send(message)
    switch (message[0]) {
      case PING:
      case PING_VIA:
        message[0] = message[0] === PING ? PONG : PONG_VIA
        channel.send(message)
        break
      case PONG:
      case PONG_VIA:
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
