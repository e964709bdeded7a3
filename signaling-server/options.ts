/**
 * Options of the signaling server: every limit with its default, and their validation.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { ArgumentError } from '../src/errors.js'

/** What `verifyClient` learns about a connection attempt. */
export interface ClientInfo {
  /** The `Origin` header (browsers always send it). */
  readonly origin?: string
  /** The request target, e.g. `/?token=abc`. */
  readonly url: string
  /** The request headers, e.g. `x-forwarded-for` or `authorization` from non-browser clients. */
  readonly headers: IncomingHttpHeaders
  /** The `token` query parameter: browsers cannot set headers on a WebSocket. */
  readonly token?: string
  /** The IP address the connection comes from (a proxy's, behind one: see `headers`). */
  readonly remoteAddress?: string
}

/** A printf-style log function, like a `debug` logger. */
export type SignalingLogger = (format: string, ...args: unknown[]) => void

/** Options of `startSignalingServer`. */
export interface SignalingServerOptions {
  /** TCP port; 0 picks a free one. @default 4444 */
  port?: number
  /** Interface to listen on: loopback, so nothing is exposed by accident; '0.0.0.0' or '::' serves the network. @default '127.0.0.1' */
  host?: string
  /** Largest frame accepted; a larger one closes its socket with 1009. @default 65536 */
  maxMessageBytes?: number
  /** Topics one socket may be subscribed to at once; more closes it with 1008. @default 32 */
  maxTopicsPerSocket?: number
  /** Longest topic name, in UTF-16 units; longer closes the socket with 1008. @default 256 */
  maxTopicLength?: number
  /** Sustained messages per second per socket; faster closes it with 1008. @default 100 */
  maxMessagesPerSecond?: number
  /** Messages a socket may send at once, above the sustained rate (a newcomer answering a large room). @default 3 × maxMessagesPerSecond */
  maxMessageBurst?: number
  /** Open connections; an upgrade beyond is refused with HTTP 503. @default 1000 */
  maxConnections?: number
  /**
   * Open connections from one address; an upgrade beyond is refused with HTTP 503, so one
   * machine cannot fill the server. Raise it where many users share an address (an office
   * NAT). @default 64
   */
  maxConnectionsPerAddress?: number
  /**
   * The server is behind one reverse proxy: a client's address is the last entry of
   * `X-Forwarded-For` (what the proxy appended), not the proxy's. Leave it off without a proxy:
   * clients could then write any address there. @default false
   */
  trustProxy?: boolean
  /** A socket subscribed to no topic for this long is closed (1008): an idle socket holds a slot for nothing. @default 5000 */
  subscribeTimeout?: number
  /**
   * Redis URL (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS): every server given the
   * same Redis acts as one server — a client on any of them meets the clients of all. Without
   * it, the server is on its own. @default none
   */
  redis?: string
  /** Prefix of the Redis channels, so that several clusters can share one Redis. @default 'distribunator:signal:' */
  redisPrefix?: string
  /**
   * Also carry nodes' frames, for nodes that have no WebRTC (a browser without it, a worker)
   * or chose not to use it: they link to their peers through this server, sealed end to end
   * with the room password. It tells clients so on the topic `distribunator:server-info`.
   * Raises the message rate's default to 1000/s, and sets `maxBytesPerSecond`'s. @default false
   */
  relay?: boolean
  /** Bytes a socket may send per second (four seconds' worth at once, and never less than 12 MiB: a node's largest frame); more closes it with 1008. @default 1 MiB with `relay`, else no limit */
  maxBytesPerSecond?: number
  /** Bytes queued to a socket that is not reading; beyond, it is dropped. @default 1048576 */
  maxBufferedBytes?: number
  /** Milliseconds between WebSocket pings; a socket that missed the previous pong is dropped. @default 30000 */
  pingInterval?: number
  /** Admits or refuses a connection attempt (refused → HTTP 401; throws → HTTP 500). @default admit all */
  verifyClient?: (info: ClientInfo) => boolean | Promise<boolean>
  /** Where the server logs. @default logger('signal'): silent unless `DEBUG=distribunator:signal` */
  logger?: SignalingLogger
  /** Aborting closes the server (or fails the start). */
  signal?: AbortSignal
}

/** The options that have a default, and nothing else to say. */
export type SignalingDefaults = Readonly<
  Required<
    Pick<
      SignalingServerOptions,
      | 'port'
      | 'host'
      | 'maxMessageBytes'
      | 'maxTopicsPerSocket'
      | 'maxTopicLength'
      | 'maxMessagesPerSecond'
      | 'maxConnections'
      | 'maxConnectionsPerAddress'
      | 'trustProxy'
      | 'subscribeTimeout'
      | 'redisPrefix'
      | 'maxBufferedBytes'
      | 'pingInterval'
    >
  >
>

/** The defaults of every limit. */
export const DEFAULT_SIGNALING_OPTIONS: SignalingDefaults = {
  port: 4444,
  host: '127.0.0.1',
  maxMessageBytes: 64 * 1024,
  maxTopicsPerSocket: 32,
  maxTopicLength: 256,
  maxMessagesPerSecond: 100,
  maxConnections: 1000,
  maxConnectionsPerAddress: 64,
  trustProxy: false,
  subscribeTimeout: 5000,
  redisPrefix: 'distribunator:signal:',
  maxBufferedBytes: 1024 * 1024,
  pingInterval: 30_000,
}

/** Options with every default applied, validated; throws `ArgumentError`. */
export function resolveOptions(options: SignalingServerOptions) {
  const relay = options.relay ?? false
  const o = { ...DEFAULT_SIGNALING_OPTIONS, ...(relay ? RELAY_DEFAULTS : {}), ...definedOnly(options) }
  const maxBytesPerSecond = options.maxBytesPerSecond ?? (relay ? 1024 * 1024 : undefined)
  const resolved = { ...o, relay, maxBytesPerSecond, maxMessageBurst: options.maxMessageBurst ?? 3 * o.maxMessagesPerSecond }
  validate(resolved)
  if (typeof relay !== 'boolean') throw new ArgumentError('relay must be true or false')
  if (maxBytesPerSecond !== undefined && !(Number.isInteger(maxBytesPerSecond) && maxBytesPerSecond >= 1)) {
    throw new ArgumentError(`maxBytesPerSecond must be a positive integer, got ${String(maxBytesPerSecond)}`)
  }
  return resolved
}

/** What `relay` changes of the defaults: frames of live links come far faster than signaling does. */
const RELAY_DEFAULTS = { maxMessagesPerSecond: 1000 }

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>
}

function validate(o: Record<string, unknown>): void {
  const port = o.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ArgumentError(`port must be an integer in 0..65535, got ${String(port)}`)
  }
  for (const key of [
    'maxMessageBytes',
    'maxTopicsPerSocket',
    'maxTopicLength',
    'maxMessagesPerSecond',
    'maxMessageBurst',
    'maxConnections',
    'maxConnectionsPerAddress',
    'subscribeTimeout',
    'maxBufferedBytes',
    'pingInterval',
  ]) {
    const value = o[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new ArgumentError(`${key} must be a positive integer, got ${String(value)}`)
    }
  }
  if (typeof o.host !== 'string' || o.host === '') throw new ArgumentError('host must be a non-empty string')
  if (typeof o.trustProxy !== 'boolean') throw new ArgumentError('trustProxy must be true or false')
  if (typeof o.redisPrefix !== 'string') throw new ArgumentError('redisPrefix must be a string')
  if (o.redis !== undefined && (typeof o.redis !== 'string' || !/^rediss?:\/\//.test(o.redis))) {
    throw new ArgumentError('redis must be a redis:// or rediss:// URL')
  }
}
