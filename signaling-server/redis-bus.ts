/**
 * The link between the servers of a cluster: Redis pub/sub, through node-redis. Each server
 * relays what its clients publish to its own subscribers at once and also publishes it on the
 * topic's channel (`<prefix><topic>`); each server subscribes to a topic's channel only while
 * it has subscribers of that topic itself, and relays what the others publish there to them.
 * So a client on any server meets the clients of every other, and nothing is delivered twice:
 * a server drops the echo of its own publishes (each carries the server's random id first).
 *
 * Faults. Two connections: the publisher fails fast while Redis is down (a publish is dropped
 * and counted, never queued to arrive late), the subscriber queues (un)subscribes through an
 * outage. Both reconnect with capped exponential backoff, forever. node-redis subscribes again
 * to every channel it held when it reconnects; a subscribe that was in flight as the link
 * dropped is lost, so every reconnect also reconciles the channels held with those wanted.
 * A frozen Redis (no reset, no answer) is found by pinging and a socket timeout.
 *
 * Pub/sub is at most once: what was published while a server was cut off is gone. The server
 * makes up for it when the bus comes back up (server.ts): its clients reconnect and announce
 * themselves again, so nodes that missed each other meanwhile still meet.
 */
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import type { SignalingLogger } from './options.js'

/** Whether both connections to Redis are ready. */
export type BusState = 'up' | 'down'

/** What the bus tells its server. */
export interface BusHooks {
  /** A publish by a client of another server: its frame as the client sent it. */
  message(topic: string, text: string): void
  /** Redis went up or down. */
  state(state: BusState): void
}

/** Bytes of the server id that starts every payload. */
const ID_BYTES = 8
/** Reconnect backoff: 100 ms doubling to 5 s, with jitter so that servers do not retry in step. */
const reconnectStrategy = (retries: number): number => Math.min(100 * 2 ** retries, 5000) + Math.floor(Math.random() * 250)
/** A PING this often keeps traffic on an idle link, so that a frozen Redis trips `SOCKET_TIMEOUT`. */
const PING_INTERVAL = 10_000
const SOCKET_TIMEOUT = 25_000
/** At most one log line per this many ms for connection errors: every retry reports one. */
const ERROR_LOG_INTERVAL = 10_000

/** Pub/sub between the servers of one cluster. */
export class RedisBus {
  /** This server's id: the first ID_BYTES bytes of every payload it publishes. */
  private readonly id = randomBytes(ID_BYTES)
  private readonly prefixBytes: number
  private readonly pub: ReturnType<typeof createClient>
  private readonly sub: ReturnType<typeof createClient>
  /** Topics with at least one local subscriber: the channels the subscriber should hold. */
  private readonly wanted = new Set<string>()
  private current: BusState = 'down'
  private closed = false
  private lastErrorLog = 0

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly hooks: BusHooks,
    private readonly log: SignalingLogger,
  ) {
    this.prefixBytes = Buffer.byteLength(prefix)
    const socket = { reconnectStrategy, connectTimeout: 5000, socketTimeout: SOCKET_TIMEOUT }
    this.pub = createClient({ url, disableOfflineQueue: true, pingInterval: PING_INTERVAL, socket })
    this.sub = this.pub.duplicate({ disableOfflineQueue: false })
    for (const client of [this.pub, this.sub]) {
      // Without an 'error' listener, a dropped connection throws from an EventEmitter and ends the process.
      client.on('error', (error: Error) => this.failed(error))
      client.on('ready', () => this.update())
      client.on('reconnecting', () => this.update())
      client.on('end', () => this.update())
    }
    this.sub.on('ready', () => this.reconcile())
    for (const client of [this.pub, this.sub]) {
      // Resolves once Redis answers (retrying meanwhile); rejects only when close() comes first.
      client.connect().catch((error: unknown) => {
        if (!this.closed) this.log('redis: gave up connecting: %s', (error as Error).message)
      })
    }
  }

  /** Whether Redis is reachable now. */
  get state(): BusState {
    return this.current
  }

  /** Sends a client's publish to the other servers; false when Redis is down (dropped, not queued). */
  publish(topic: string, text: string): boolean {
    if (!this.pub.isReady) return false
    const payload = Buffer.concat([this.id, Buffer.from(text, 'utf8')])
    this.pub.publish(this.prefix + topic, payload).catch((error: unknown) => this.failed(error as Error))
    return true
  }

  /** A topic got its first local subscriber: listen to its channel. */
  subscribe(topic: string): void {
    if (this.wanted.has(topic)) return
    this.wanted.add(topic)
    // Lost if the link drops before Redis confirms: the next 'ready' reconciles.
    this.sub.subscribe(this.prefix + topic, this.listener, true).catch(() => undefined)
  }

  /** A topic lost its last local subscriber: stop listening. */
  unsubscribe(topic: string): void {
    if (!this.wanted.delete(topic)) return
    this.sub.unsubscribe(this.prefix + topic, this.listener, true).catch(() => undefined)
  }

  /** Drops both connections at once; idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.wanted.clear()
    // destroy(), not close(): close() waits for queued commands, forever while Redis is down.
    this.pub.destroy()
    this.sub.destroy()
    this.update()
  }

  /** One listener for every channel (node-redis keeps listeners in a Set: subscribing again never doubles delivery). */
  private readonly listener = (message: Buffer, channel: Buffer): void => {
    if (message.length < ID_BYTES || message.subarray(0, ID_BYTES).equals(this.id)) return
    const topic = channel.subarray(this.prefixBytes).toString('utf8')
    // An UNSUBSCRIBE may still be on its way.
    if (!this.wanted.has(topic)) return
    this.hooks.message(topic, message.subarray(ID_BYTES).toString('utf8'))
  }

  /** After a (re)connect: subscribes what is wanted and not held, unsubscribes what is held and not wanted. */
  private reconcile(): void {
    const held = new Set([...this.sub.getPubSubListeners('CHANNELS').keys()].map((channel) => String(channel).slice(this.prefix.length)))
    for (const topic of this.wanted) {
      if (!held.has(topic)) this.sub.subscribe(this.prefix + topic, this.listener, true).catch(() => undefined)
    }
    for (const topic of held) {
      if (!this.wanted.has(topic)) this.sub.unsubscribe(this.prefix + topic).catch(() => undefined)
    }
  }

  private update(): void {
    const state: BusState = !this.closed && this.pub.isReady && this.sub.isReady ? 'up' : 'down'
    if (state === this.current) return
    this.current = state
    this.log('redis %s', state)
    if (!this.closed) this.hooks.state(state)
  }

  private failed(error: Error): void {
    this.update()
    const now = Date.now()
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL) return
    this.lastErrorLog = now
    this.log('redis: %s', error.message)
  }
}
