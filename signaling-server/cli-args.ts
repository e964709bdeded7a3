/**
 * The command line of `distribunator-signal`, parsed with Node's `util.parseArgs`: pure (argv
 * and environment in, server options out), so it is tested without spawning a process.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { parseArgs } from 'node:util'
import { DEFAULT_SIGNALING_OPTIONS, type SignalingServerOptions } from './options.js'

/** The environment variable that may hold the token, kept out of `ps` listings. */
export const TOKEN_ENV = 'DISTRIBUNATOR_SIGNAL_TOKEN'
/** The environment variable that may hold the Redis URL (it may carry a password): out of `ps` listings too. */
export const REDIS_ENV = 'DISTRIBUNATOR_SIGNAL_REDIS'

/** The text `--help` prints. */
export const USAGE = `Usage: distribunator-signal [options]

A signaling server for distribunator and y-webrtc: introduces the peers of a room.

Options:
  --port <n>               port to listen on; 0 = any free port (default: $PORT or ${DEFAULT_SIGNALING_OPTIONS.port})
  --host <address>         interface to listen on; 0.0.0.0 or :: for every one (default: ${DEFAULT_SIGNALING_OPTIONS.host})
  --token <secret>         admit only clients connecting with ?token=<secret> (or set $${TOKEN_ENV})
  --relay                  also carry the frames of nodes without WebRTC (sealed with their room password)
  --max-bytes-per-second <n>
                           bytes a connection may send per second (default: 1 MiB with --relay, else no limit)
  --redis <url>            join the cluster of servers sharing this Redis (redis:// or rediss://; or set $${REDIS_ENV})
  --redis-prefix <text>    prefix of the Redis channels, for several clusters on one Redis (default: ${DEFAULT_SIGNALING_OPTIONS.redisPrefix})
  --max-connections <n>    open connections at once (default: ${DEFAULT_SIGNALING_OPTIONS.maxConnections})
  --max-connections-per-address <n>
                           open connections from one address (default: ${DEFAULT_SIGNALING_OPTIONS.maxConnectionsPerAddress})
  --trust-proxy            behind one reverse proxy: a client's address is the last X-Forwarded-For entry
  --subscribe-timeout <ms> close sockets subscribed to nothing for this long (default: ${DEFAULT_SIGNALING_OPTIONS.subscribeTimeout})
  --max-message-bytes <n>  largest message (default: ${DEFAULT_SIGNALING_OPTIONS.maxMessageBytes})
  --max-topics <n>         topics (rooms) per connection (default: ${DEFAULT_SIGNALING_OPTIONS.maxTopicsPerSocket})
  --max-rate <n>           messages per second per connection (default: ${DEFAULT_SIGNALING_OPTIONS.maxMessagesPerSecond})
  --ping-interval <ms>     WebSocket ping period; silent sockets are dropped (default: ${DEFAULT_SIGNALING_OPTIONS.pingInterval})
  -h, --help               show this help

Logs: DEBUG=distribunator:signal
GET /health answers {"status":"ok","connections":n,"topics":n} (and "redis":"up"|"down" in a cluster);
GET /metrics answers Prometheus text.
`

/** A command line that cannot be run: the message says why. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Server options from the command line, or 'help'; throws `UsageError`. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = {}): SignalingServerOptions | 'help' {
  const values = parse(argv)
  if (values.help === true) return 'help'
  if (values.token === '') throw new UsageError('--token must not be empty')
  const token = values.token ?? (env[TOKEN_ENV] || undefined)
  if (values.redis === '') throw new UsageError('--redis must not be empty')
  const redis = values.redis ?? (env[REDIS_ENV] || undefined)
  if (redis !== undefined && !/^rediss?:\/\//.test(redis)) throw new UsageError('--redis expects a redis:// or rediss:// URL')
  return {
    relay: values.relay,
    maxBytesPerSecond: integer('--max-bytes-per-second', values['max-bytes-per-second'], 1),
    redis,
    redisPrefix: values['redis-prefix'],
    maxConnectionsPerAddress: integer('--max-connections-per-address', values['max-connections-per-address'], 1),
    trustProxy: values['trust-proxy'],
    subscribeTimeout: integer('--subscribe-timeout', values['subscribe-timeout'], 1),
    port: integer('--port', values.port ?? (env.PORT || undefined), 0, 65535),
    host: values.host,
    maxConnections: integer('--max-connections', values['max-connections'], 1),
    maxMessageBytes: integer('--max-message-bytes', values['max-message-bytes'], 1),
    maxTopicsPerSocket: integer('--max-topics', values['max-topics'], 1),
    maxMessagesPerSecond: integer('--max-rate', values['max-rate'], 1),
    pingInterval: integer('--ping-interval', values['ping-interval'], 1),
    verifyClient: token === undefined ? undefined : tokenCheck(token),
  }
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'max-connections': { type: 'string' },
        'max-connections-per-address': { type: 'string' },
        'trust-proxy': { type: 'boolean' },
        'subscribe-timeout': { type: 'string' },
        redis: { type: 'string' },
        relay: { type: 'boolean' },
        'max-bytes-per-second': { type: 'string' },
        'redis-prefix': { type: 'string' },
        'max-message-bytes': { type: 'string' },
        'max-topics': { type: 'string' },
        'max-rate': { type: 'string' },
        'ping-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function integer(flag: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`
    throw new UsageError(`${flag} expects an integer ${range}, got '${text}'`)
  }
  return value
}

/** Compares digests, so the check takes the same time whatever the guess. */
function tokenCheck(token: string): (info: { token?: string }) => boolean {
  const expected = createHash('sha256').update(token).digest()
  return ({ token: given }) => given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected)
}
