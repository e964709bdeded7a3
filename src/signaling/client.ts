/**
 * The signaling client: publish/subscribe on one topic (the room) across any number of
 * y-webrtc-protocol servers, each kept connected by its own `ServerConnection` — a server
 * may be a cluster, used at one of its URLs at a time. With a `directTopic`, the client also
 * listens on a topic of its own, where peers publish what is for it alone (negotiation), so
 * that nobody else receives it.
 *
 * A payload goes to every server connected at that moment and comes back from each server
 * the receiver is subscribed on: with several servers the same publish may arrive more
 * than once, so consumers handle payloads idempotently (or dedupe by an id they carry).
 *
 * With a password, payloads travel sealed (`crypto.ts`) and anything else is refused:
 * nobody without the password reads the room, and nothing plain gets into it. Sealing and
 * opening are asynchronous, so both directions run through queues — one for outgoing
 * payloads, one per server for incoming — to keep each sender's order.
 */
import { ArgumentError, DistribunatorError, ProtocolError } from '../errors.js'
import { SafeObservable } from '../events.js'
import { logger } from '../log.js'
import { DecryptionError, decryptJson, deriveKey, encryptText } from './crypto.js'
import { SERVER_INFO_TOPIC, encodePublish, isRecord, parseServerMessage, toJson, type ServerMessage } from './protocol.js'
import { ServerConnection, type ServerConnectionOptions } from './server-connection.js'

/**
 * A signaling server: its URL, or the URLs of a cluster of servers that share one Redis
 * (`{ cluster: [...] }`): one of them is used at a time, starting at a random one and moving
 * to the next when it fails.
 */
export type SignalingServerAddress = string | SignalingCluster

/** Signaling servers that share one Redis, reached at any of their URLs. */
export interface SignalingCluster {
  /** The members' URLs; one is used at a time. */
  readonly cluster: readonly string[]
}

/** How one signaling server (or cluster) is doing, for an app to show. */
export interface SignalingStatus {
  /** The server as given: a URL, or the URLs of a cluster. */
  readonly server: SignalingServerAddress
  /** The URL in use, or tried last. */
  readonly url: string
  /** 'connecting' before the first attempt is through; 'connected'; 'failing' while retrying after a failure. */
  readonly state: 'connecting' | 'connected' | 'failing'
  /** Why the last attempt failed or the connection was lost, while 'failing'. */
  readonly error?: string
  /** When it entered this state (`Date.now()`). */
  readonly since: number
  /** Payloads received from it so far (copies from other servers included). */
  readonly received: number
  /** It carries nodes' frames for nodes without WebRTC (it said so on `SERVER_INFO_TOPIC`). */
  readonly relay: boolean
}

/** Options of a `SignalingClient`. */
export interface SignalingClientOptions {
  /** y-webrtc-protocol servers; each gets its own connection (a cluster: one, to one member at a time). */
  readonly urls: readonly SignalingServerAddress[]
  /** Topic to subscribe to (the room). */
  readonly topic: string
  /** A topic of this client's own, also subscribed: `publish(payload, to)` reaches a client on its. */
  readonly directTopic?: string
  /** Also asks each server what it offers (`SERVER_INFO_TOPIC`): the `relay` of `status()`. @default false */
  readonly serverInfo?: boolean
  /** Room password: payloads are encrypted end to end; without it they travel as plain JSON objects. */
  readonly password?: string
  /** First retry after this many ms, doubling on each failure, ±25 % jitter. @default 250 */
  readonly minReconnectDelay?: number
  /** Upper bound of the reconnect delay before jitter. @default 10000 */
  readonly maxReconnectDelay?: number
  /** Sends `{type:'ping'}` this often; a server silent for 2 × this is reconnected. @default 10000 */
  readonly pingInterval?: number
}

/** Events of a `SignalingClient`. */
export interface SignalingClientEvents {
  /** A server connection opened and the topic is subscribed: announce yourself (new peers may be there). */
  connect: (url: string) => void
  /** A server connection that had `connect`ed is gone; it is being retried. */
  disconnect: (url: string) => void
  /** A payload published to the topic by someone (possibly yourself: filter by your own id upstream), decrypted. */
  message: (payload: Record<string, unknown>, url: string) => void
  /** A frame that could not be decrypted or parsed (wrong password, garbage from the server): dropped. */
  error: (error: DistribunatorError) => void
  /** A server's state changed (`status()` has them all). */
  status: (status: SignalingStatus) => void
}

/** The defaults of `SignalingClientOptions`. */
export const SIGNALING_DEFAULTS = { minReconnectDelay: 250, maxReconnectDelay: 10_000, pingInterval: 10_000 } as const

const log = logger('signaling')

/** Publish/subscribe on one room across several signaling servers, optionally end-to-end encrypted. */
export class SignalingClient extends SafeObservable<SignalingClientEvents> {
  private readonly topic: string
  private readonly directTopic: string | undefined
  private readonly askedServerInfo: boolean
  private readonly key: Promise<CryptoKey> | undefined
  private readonly connections: ServerConnection[]
  /** Each connection's server as given, and how many payloads came from it. */
  private readonly servers = new Map<ServerConnection, { readonly address: SignalingServerAddress; received: number; relay: boolean }>()
  private readonly inbox = new Map<ServerConnection, Promise<void>>()
  private outbox: Promise<void> = Promise.resolve()
  private closed = false
  private reporting = false

  constructor(options: SignalingClientOptions) {
    super((error) => this.report(new DistribunatorError('a signaling listener threw', { cause: error })))
    const timing = resolveOptions(options)
    this.topic = options.topic
    this.directTopic = options.directTopic
    this.askedServerInfo = options.serverInfo === true
    if (options.password !== undefined) {
      this.key = deriveKey(options.password, options.topic)
      this.key.catch((error: unknown) => this.report(new DistribunatorError('could not derive the room key', { cause: error })))
    }
    this.connections = uniqueServers(options.urls).map((address) => {
      const connection: ServerConnection = new ServerConnection(
        typeof address === 'string' ? [address] : address.cluster,
        timing,
        {
          opened: () => {
            if (!this.closed) this.emit('connect', [connection.url])
          },
          closed: () => {
            // A server that comes back is asked again what it offers.
            const server = this.servers.get(connection)
            if (server !== undefined) server.relay = false
            if (!this.closed) this.emit('disconnect', [connection.url])
          },
          received: (frame) => this.received(connection, frame),
          changed: () => {
            if (!this.closed) this.emit('status', [this.statusOf(connection)])
          },
        },
        log,
      )
      this.servers.set(connection, { address, received: 0, relay: false })
      return connection
    })
  }

  /** How each server is doing. */
  status(): SignalingStatus[] {
    return this.connections.map((connection) => this.statusOf(connection))
  }

  /**
   * Publishes a JSON object on every connected server (sealed with the password, if any) to
   * the room's topic, or to `to` (a peer's direct topic); servers that are down miss it.
   */
  publish(payload: Record<string, unknown>, to: string = this.topic): void {
    if (this.closed) return
    if (!isRecord(payload)) throw new ArgumentError('a signaling payload must be a plain object')
    const json = toJson(payload) // now: throws EncodeError to the caller and snapshots the payload
    const key = this.key
    if (key === undefined) {
      this.sendAll(encodePublish(to, json))
      return
    }
    this.outbox = this.outbox
      .then(async () => {
        const sealed = await encryptText(json, await key)
        if (!this.closed) this.sendAll(encodePublish(to, JSON.stringify(sealed)))
      })
      .catch((error: unknown) => this.report(new DistribunatorError('could not encrypt a signaling payload', { cause: error })))
  }

  /** Number of servers currently connected. */
  connectedCount(): number {
    return this.connections.filter((connection) => connection.connected).length
  }

  /** Closes every connection and timer for good and removes every listener; no event follows. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const connection of this.connections) connection.close()
    this.inbox.clear()
    this.destroy()
  }

  private sendAll(frame: string): void {
    let sent = 0
    for (const connection of this.connections) if (connection.send(frame)) sent++
    if (sent === 0) log('no signaling server connected: payload dropped')
  }

  private received(connection: ServerConnection, frame: unknown): void {
    if (this.closed) return
    const url = connection.url
    let message: ServerMessage
    try {
      message = parseServerMessage(frame, url)
    } catch (error) {
      this.report(error as ProtocolError)
      return
    }
    if (message.type === 'pong') return
    if (message.topic === SERVER_INFO_TOPIC && this.askedServerInfo) return this.serverInfo(connection, message.data)
    if (message.topic !== this.topic && message.topic !== this.directTopic) {
      this.report(new ProtocolError(`publish for topic ${JSON.stringify(message.topic)}, not subscribed`, url))
      return
    }
    const server = this.servers.get(connection)
    if (server !== undefined) server.received++
    const { data } = message
    const key = this.key
    if (key === undefined) {
      if (isRecord(data)) this.emit('message', [data, url])
      else
        this.report(new ProtocolError(typeof data === 'string' ? 'sealed payload, but no room password' : 'payload is not an object', url))
      return
    }
    if (typeof data !== 'string') {
      this.report(new ProtocolError('unsealed payload in a room with a password', url))
      return
    }
    const previous = this.inbox.get(connection) ?? Promise.resolve()
    this.inbox.set(
      connection,
      previous.then(() => this.open(data, key, url)),
    )
  }

  /** Decrypts one sealed payload and delivers it; never rejects (it sits in a queue). */
  private async open(data: string, key: Promise<CryptoKey>, url: string): Promise<void> {
    let payload: unknown
    try {
      payload = await decryptJson(data, await key)
    } catch (error) {
      // decryptJson knows no server: name the one that relayed the payload.
      const message = error instanceof Error ? error.message : 'undecryptable payload'
      if (!this.closed) this.report(new DecryptionError(message, url, { cause: error instanceof DecryptionError ? error.cause : error }))
      return
    }
    if (this.closed) return
    if (isRecord(payload)) this.emit('message', [payload, url])
    else this.report(new ProtocolError('decrypted payload is not an object', url))
  }

  /** What a server says it offers (in the clear: the server wrote it). */
  private serverInfo(connection: ServerConnection, data: unknown): void {
    const server = this.servers.get(connection)
    const relay = isRecord(data) && data.relay === true
    if (server === undefined || server.relay === relay) return
    server.relay = relay
    this.emit('status', [this.statusOf(connection)])
  }

  private statusOf(connection: ServerConnection): SignalingStatus {
    const { state, since, error, url } = connection
    const server = this.servers.get(connection)
    return {
      server: server?.address ?? url,
      url,
      state,
      since,
      received: server?.received ?? 0,
      // What a server offered holds while connected to it (a reconnect asks again).
      relay: state === 'connected' && server?.relay === true,
      ...(error === undefined ? {} : { error }),
    }
  }

  private report(error: DistribunatorError): void {
    log('%s', error.message)
    // A throwing 'error' listener comes back here: report it once, do not loop.
    if (this.reporting) return
    this.reporting = true
    this.emit('error', [error])
    this.reporting = false
  }
}

/** True for a URL, or a `{ cluster }` of at least one URL, each passing `valid`. */
export function isServerAddress(value: unknown, valid: (url: string) => boolean): value is SignalingServerAddress {
  if (typeof value === 'string') return valid(value)
  const cluster = (value as { cluster?: unknown } | null)?.cluster
  return Array.isArray(cluster) && cluster.length > 0 && cluster.every((url) => typeof url === 'string' && valid(url))
}

/** The servers, each once (a URL given twice, or a cluster given twice, is one server). */
function uniqueServers(addresses: readonly SignalingServerAddress[]): SignalingServerAddress[] {
  const seen = new Set<string>()
  return addresses.filter((address) => {
    const key = typeof address === 'string' ? address : JSON.stringify(address.cluster)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function resolveOptions(options: SignalingClientOptions): ServerConnectionOptions {
  if (!Array.isArray(options?.urls) || !options.urls.every((url) => isServerAddress(url, (u) => u !== ''))) {
    throw new ArgumentError('urls must be an array of WebSocket URLs or { cluster: [URLs] }')
  }
  if (typeof options.topic !== 'string' || options.topic === '') throw new ArgumentError('topic must be a non-empty string')
  if (options.password !== undefined && (typeof options.password !== 'string' || options.password === '')) {
    throw new ArgumentError('password must be a non-empty string (omit it for a room without one)')
  }
  const minReconnectDelay = positive(options.minReconnectDelay ?? SIGNALING_DEFAULTS.minReconnectDelay, 'minReconnectDelay')
  const maxReconnectDelay = positive(options.maxReconnectDelay ?? SIGNALING_DEFAULTS.maxReconnectDelay, 'maxReconnectDelay')
  if (maxReconnectDelay < minReconnectDelay) throw new ArgumentError('maxReconnectDelay must be at least minReconnectDelay')
  const pingInterval = positive(options.pingInterval ?? SIGNALING_DEFAULTS.pingInterval, 'pingInterval')
  const topics = [
    options.topic,
    ...(options.directTopic === undefined ? [] : [options.directTopic]),
    ...(options.serverInfo === true ? [SERVER_INFO_TOPIC] : []),
  ]
  if (!topics.every((topic) => typeof topic === 'string' && topic !== '')) throw new ArgumentError('directTopic must be a non-empty string')
  return { topics, minReconnectDelay, maxReconnectDelay, pingInterval }
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ArgumentError(`${name} must be a positive number`)
  return value
}
