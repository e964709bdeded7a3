/**
 * One signaling server, kept connected: opens the socket, subscribes to the topics, pings,
 * and reconnects with backoff whenever the socket closes, fails or falls silent. A server
 * may be a cluster reached at several URLs (servers sharing one Redis): it is then used at
 * one URL at a time, starting at a random one and moving to the next after every failure.
 *
 * State, for the app to show: 'connecting' until the first attempt is through, then
 * 'connected' while subscribed, or 'failing' — with the reason of the last failure — while
 * it retries.
 *
 * The subscription has no acknowledgement in this protocol, so a ping follows it at once:
 * the first frame back (the pong, or a publish the server forwards) confirms it, and only
 * then is the connection reported `opened` — a peer that publishes after that reaches us.
 *
 * Liveness: a ping goes out on open and every `pingInterval`; any frame from the server
 * proves it alive. A socket that shows no sign of life for 2 × `pingInterval` — one stuck
 * in its opening handshake or never confirming the subscription too — is dropped.
 * Backoff: the first retry waits `minReconnectDelay`, each further failure doubles the
 * wait up to `maxReconnectDelay`, all ±25 % jitter so that a restarted server is not hit
 * by every client at once. The count resets once a server has answered on a socket, so a
 * server that accepts and at once closes (or never answers) gets no tight reconnect loop.
 */
import type { Logger } from '../log.js'
import { encodeMessage } from './protocol.js'
import { openWebSocket, type WebSocketLike } from './websocket.js'

/** Timing of one server connection, every field resolved (see `SignalingClientOptions`). */
export interface ServerConnectionOptions {
  /** Topics to subscribe to on every socket. */
  readonly topics: readonly string[]
  readonly minReconnectDelay: number
  readonly maxReconnectDelay: number
  readonly pingInterval: number
}

/** What a server connection reports to its owner. */
export interface ServerConnectionHooks {
  /** The socket is open and the server has confirmed the subscription (its first frame). */
  opened(): void
  /** A socket that had `opened` is gone; a reconnect is scheduled unless closed. */
  closed(): void
  /** A frame from the server, unparsed. */
  received(frame: unknown): void
  /** The state changed: 'connected', or 'failing' with the reason. */
  changed(): void
}

/** How a server connection is doing. */
export type ServerState = 'connecting' | 'connected' | 'failing'

/** A self-healing connection to one signaling server, until `close()`. */
export class ServerConnection {
  private socket: WebSocketLike | undefined
  private isOpen = false
  private stopped = false
  private failures = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private watchdog: ReturnType<typeof setTimeout> | undefined
  /** When the socket last showed life (performance.now()); the watchdog reads it when it fires. */
  private lastLife = 0
  /** Which of `urls` is in use (or tried next). */
  private index: number
  /** The last error a socket reported, for the reason of its close. */
  private lastError: string | undefined
  /** The connection's state, since when, and why it is failing. */
  state: ServerState = 'connecting'
  since = Date.now()
  error: string | undefined

  constructor(
    /** One URL, or the URLs of one cluster. */
    readonly urls: readonly string[],
    private readonly options: ServerConnectionOptions,
    private readonly hooks: ServerConnectionHooks,
    private readonly log: Logger,
  ) {
    this.index = Math.floor(Math.random() * urls.length)
    this.connect()
  }

  /** The URL in use, or tried last. */
  get url(): string {
    return this.urls[this.index] as string
  }

  /** Whether the socket is open and the subscription confirmed. */
  get connected(): boolean {
    return this.isOpen
  }

  /** Sends a text frame if connected; returns whether it went out. */
  send(text: string): boolean {
    return this.isOpen && this.socket !== undefined && this.socket.send(text)
  }

  /** Closes the socket and every timer for good. */
  close(): void {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.reconnectTimer)
    this.drop('closed by the client')
  }

  private connect(): void {
    this.reconnectTimer = undefined
    const socket = openWebSocket(this.url)
    this.socket = socket
    this.lastError = undefined
    this.armWatchdog()
    socket.onopen = () => {
      this.armWatchdog()
      socket.send(encodeMessage({ type: 'subscribe', topics: [...this.options.topics] }))
      socket.send(encodeMessage({ type: 'ping' }))
      this.pingTimer = setInterval(() => socket.send(encodeMessage({ type: 'ping' })), this.options.pingInterval)
    }
    socket.onmessage = (data) => {
      this.armWatchdog()
      if (!this.isOpen) {
        // The server handles a connection's frames in order: whatever it sends after our
        // subscribe (at the latest, the pong to the ping that follows it) shows the topic
        // subscribed. Before that, a publish from a peer could still miss us.
        this.isOpen = true
        this.failures = 0
        this.log('subscribed on %s', this.url)
        this.setState('connected', undefined)
        this.hooks.opened()
        if (this.socket !== socket) return
      }
      this.hooks.received(data)
    }
    socket.onerror = (error) => {
      this.lastError = error instanceof Error ? error.message : undefined
      this.log('socket error on %s: %O', this.url, error)
    }
    socket.onclose = (code, reason) => {
      if (this.socket !== socket) return
      const closed = `closed (${code}${reason === '' ? '' : ` ${reason}`})`
      this.drop(this.lastError === undefined ? closed : `${this.lastError}; ${closed}`)
    }
  }

  /**
   * The socket showed life. One timer watches it, re-armed only when it fires before the
   * silence is long enough: a timer per message would cost more than handling the message
   * (see deadlines.ts).
   */
  private armWatchdog(): void {
    this.lastLife = performance.now()
    this.watchdog ??= this.watchFor(2 * this.options.pingInterval)
  }

  private watchFor(ms: number): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      const limit = 2 * this.options.pingInterval
      const silent = performance.now() - this.lastLife
      this.watchdog = undefined
      if (silent < limit) this.watchdog = this.watchFor(limit - silent)
      else this.drop('silent for 2 ping intervals')
    }, ms)
  }

  /** Forgets the current socket, reports the loss, and schedules the next attempt. */
  private drop(why: string): void {
    const socket = this.socket
    if (socket === undefined) return
    this.socket = undefined
    clearTimeout(this.watchdog)
    clearInterval(this.pingTimer)
    this.watchdog = undefined
    this.pingTimer = undefined
    socket.close()
    const wasOpen = this.isOpen
    this.isOpen = false
    this.log('%s: %s', this.url, why)
    if (this.stopped) return
    this.setState('failing', why)
    // A listener of `closed` may close the whole client: check `stopped` after it.
    if (wasOpen) this.hooks.closed()
    if (this.stopped) return
    // A cluster: the next member, in case this one is gone.
    this.index = (this.index + 1) % this.urls.length
    this.scheduleReconnect()
  }

  private setState(state: ServerState, error: string | undefined): void {
    if (this.state === state && this.error === error) return
    this.state = state
    this.error = error
    this.since = Date.now()
    this.hooks.changed()
  }

  private scheduleReconnect(): void {
    const { minReconnectDelay: min, maxReconnectDelay: max } = this.options
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 30))
    const delay = base * (0.75 + Math.random() * 0.5)
    this.failures++
    this.log('reconnecting to %s in %d ms', this.url, Math.round(delay))
    this.reconnectTimer = setTimeout(() => this.connect(), delay)
  }
}
