/**
 * The signaling server: introduces peers of a room to each other by relaying y-webrtc's
 * signaling messages (see `protocol.ts`) between WebSockets. It holds no state beyond open
 * sockets and their subscriptions, and every per-client resource is bounded by an option.
 * With `redis`, servers sharing one Redis act as one (redis-bus.ts): each relays what its
 * clients publish to its own subscribers and to the other servers, which relay it to theirs.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { logger } from '../src/log.js'
import { SERVER_INFO_TOPIC, type ServerInfo } from '../src/signaling/protocol.js'
import { Admission, clientAddress } from './admission.js'
import { handleRequest, rejectUpgrade, tokenOf, type Health } from './http.js'
import { ServerMetrics } from './metrics.js'
import { resolveOptions, type ClientInfo, type SignalingServerOptions } from './options.js'
import { CloseCode, PONG, parseClientMessage, relayedPublish } from './protocol.js'
import { TokenBucket } from '../src/token-bucket.js'
import { RedisBus } from './redis-bus.js'
import { Topics } from './topics.js'

/** A running signaling server. */
export interface SignalingServer {
  /** The port it listens on (the chosen one when started with port 0). */
  readonly port: number
  /** A `ws://` URL to reach it from this machine. */
  readonly url: string
  /** Number of open WebSocket connections. */
  connections(): number
  /** What `GET /health` reports now. */
  health(): Health
  /** Closes every socket (1001), the listener, the ping timer and the link to Redis. Idempotent. */
  close(): Promise<void>
}

/** Bytes a socket may send at once at least, whatever its rate: a node's largest frame, relayed. */
const BYTE_BURST = 12 * 1024 * 1024

/** What a relaying server says of itself on `SERVER_INFO_TOPIC`. */
const SERVER_INFO = JSON.stringify({ type: 'publish', topic: SERVER_INFO_TOPIC, data: { relay: true } satisfies ServerInfo, clients: 1 })

/** Frames go out as text, also when handed over already encoded (a Buffer). */
const SEND_AS_TEXT = { binary: false }

/** How long `close()` lets clients answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 1000

interface Client {
  readonly socket: WebSocket
  /** Where it connects from, as admission counts it. */
  readonly address: string
  readonly topics: Set<string>
  readonly bucket: TokenBucket
  /** Bytes it may send, with `maxBytesPerSecond`. */
  readonly bytes: TokenBucket | undefined
  alive: boolean
  /** Runs while the socket is subscribed to nothing: it is closed when it fires. */
  idleTimer: ReturnType<typeof setTimeout> | undefined
}

/** Starts a y-webrtc-compatible signaling server; resolves once it listens. */
export async function startSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const o = resolveOptions(options)
  const log = options.logger ?? logger('signal')
  options.signal?.throwIfAborted()

  const topics = new Topics<Client>()
  const clients = new Set<Client>()
  const admission = new Admission(o)
  /** Sockets still being admitted (verifyClient), to cut off on close. */
  const pending = new Set<Duplex>()
  let closing: Promise<void> | undefined

  const metrics = new ServerMetrics({
    connections: () => clients.size,
    topics: () => topics.size,
    redisUp: () => (bus === undefined ? undefined : bus.state === 'up' ? 1 : 0),
  })
  const health = (): Health => ({
    status: 'ok',
    connections: clients.size,
    topics: topics.size,
    ...(bus === undefined ? {} : { redis: bus.state }),
  })
  const bus =
    o.redis === undefined
      ? undefined
      : new RedisBus(
          o.redis,
          o.redisPrefix,
          {
            message: (topic, text) => {
              metrics.tally.clusterIn++
              deliver(topic, text)
            },
            state: (state) => {
              if (state === 'up') reconnectEveryone()
            },
          },
          log,
        )

  const http = createServer((req, res) =>
    handleRequest(req, res, health, async () => ({ contentType: metrics.registry.contentType, text: await metrics.registry.metrics() })),
  )
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: o.maxMessageBytes })

  const kick = (client: Client, code: number, reason: string): void => {
    log('closing a socket (%d): %s', code, reason)
    metrics.dropped.inc({ reason })
    client.socket.close(code, reason)
  }

  /**
   * The cluster link is back: what was published meanwhile is lost, so nodes that joined
   * then never met those on other servers. Every client reconnects (1012, "service restart"),
   * and both our nodes and y-webrtc providers announce themselves again on connecting.
   */
  const reconnectEveryone = (): void => {
    if (clients.size === 0) return
    log('redis is back: asking %d clients to reconnect', clients.size)
    for (const client of clients) kick(client, CloseCode.serviceRestart, 'cluster link restored: reconnect')
  }

  const onMessage = (client: Client, data: RawData, isBinary: boolean): void => {
    try {
      handleMessage(client, data, isBinary)
    } catch (error) {
      // Nothing a client sends may escape as an uncaught exception: drop that client only.
      log('a message broke handling: %s', (error as Error).message)
      kick(client, CloseCode.policyViolation, 'message could not be handled')
    }
  }

  const handleMessage = (client: Client, data: RawData, isBinary: boolean): void => {
    if (client.socket.readyState !== WebSocket.OPEN) return
    if (!client.bucket.take()) return kick(client, CloseCode.policyViolation, `rate limit exceeded (${o.maxMessagesPerSecond}/s)`)
    const length = byteLengthOf(data)
    metrics.tally.bytesReceived += length
    if (client.bytes?.take(length) === false) {
      return kick(client, CloseCode.policyViolation, `byte rate limit exceeded (${o.maxBytesPerSecond} B/s)`)
    }
    if (isBinary) return kick(client, CloseCode.unsupportedData, 'binary frames are not supported')
    const parsed = parseClientMessage(textOf(data), o.maxTopicLength)
    if (!parsed.ok) return kick(client, parsed.code, parsed.reason)
    const message = parsed.message
    metrics.tally.received[message.type]++
    switch (message.type) {
      case 'subscribe': {
        const added = new Set(message.topics.filter((t) => !client.topics.has(t)))
        if (client.topics.size + added.size > o.maxTopicsPerSocket) {
          return kick(client, CloseCode.policyViolation, `too many topics (max ${o.maxTopicsPerSocket})`)
        }
        for (const topic of added) {
          client.topics.add(topic)
          if (topics.subscribe(topic, client)) bus?.subscribe(topic)
        }
        // Asked what this server offers: the answer goes to the one who asked.
        if (o.relay && added.has(SERVER_INFO_TOPIC)) send(client, SERVER_INFO)
        watchIdle(client)
        return
      }
      case 'unsubscribe':
        for (const topic of message.topics) leave(client, topic)
        watchIdle(client)
        return
      case 'publish':
        deliver(message.topic, message.text)
        if (bus === undefined) return
        if (bus.publish(message.topic, message.text)) metrics.tally.clusterOut++
        else metrics.dropped.inc({ reason: 'redis down: not sent to the cluster' })
        return
      case 'ping':
        return send(client, PONG)
    }
  }

  /** Relays a publish to this server's subscribers of the topic, the count of them spliced in. */
  const deliver = (topic: string, text: string): void => {
    const receivers = topics.subscribersOf(topic)
    if (receivers.size === 0) return
    // Encoded once for every receiver (ws would encode a string again for each).
    const frame = Buffer.from(relayedPublish(text, receivers.size))
    for (const receiver of receivers) send(receiver, frame)
  }

  const leave = (client: Client, topic: string): void => {
    client.topics.delete(topic)
    if (topics.unsubscribe(topic, client)) bus?.unsubscribe(topic)
  }

  /** A socket subscribed to nothing is closed after `subscribeTimeout`; one subscribed has no timer. */
  const watchIdle = (client: Client): void => {
    clearTimeout(client.idleTimer)
    client.idleTimer = undefined
    if (client.topics.size > 0) return
    client.idleTimer = setTimeout(() => kick(client, CloseCode.policyViolation, 'subscribed to no topic'), o.subscribeTimeout)
  }

  const send = (client: Client, frame: string | Buffer): void => {
    const { socket } = client
    if (socket.readyState !== WebSocket.OPEN) return
    if (socket.bufferedAmount > o.maxBufferedBytes) {
      // It stopped reading: a close frame would queue behind the backlog, so cut it off.
      log('dropping a socket with %d bytes queued', socket.bufferedAmount)
      metrics.dropped.inc({ reason: 'not reading' })
      socket.terminate()
      return
    }
    socket.send(frame, SEND_AS_TEXT)
    metrics.tally.sent++
    metrics.tally.bytesSent += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length
  }

  const accept = (socket: WebSocket, address: string): void => {
    const bucket = new TokenBucket(o.maxMessagesPerSecond, o.maxMessageBurst)
    // The burst lets one largest frame through at once (8 MiB, base64 and sealed: under 12 MiB).
    const bytes =
      o.maxBytesPerSecond === undefined ? undefined : new TokenBucket(o.maxBytesPerSecond, Math.max(4 * o.maxBytesPerSecond, BYTE_BURST))
    const client: Client = { socket, address, topics: new Set(), bucket, bytes, alive: true, idleTimer: undefined }
    clients.add(client)
    watchIdle(client)
    socket.on('pong', () => {
      client.alive = true
    })
    socket.on('message', (data, isBinary) => onMessage(client, data, isBinary))
    socket.on('error', (err) => log('socket error: %s', err.message))
    socket.on('close', () => {
      clients.delete(client)
      clearTimeout(client.idleTimer)
      for (const topic of [...client.topics]) leave(client, topic)
    })
  }

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', (err) => log('upgrade socket error: %s', err.message))
    if (closing !== undefined) return rejectUpgrade(socket, 503, 'server shutting down')
    const address = clientAddress(req, o.trustProxy)
    const refusal = admission.take(address)
    if (refusal !== undefined) {
      log('refusing a connection from %s: %s', address, refusal)
      metrics.dropped.inc({ reason: refusal })
      return rejectUpgrade(socket, 503, refusal)
    }
    // The slot goes back when the TCP socket ends: refused, failed or, once a WebSocket, closed.
    socket.once('close', () => admission.release(address))
    let admitted = true
    if (options.verifyClient !== undefined) {
      pending.add(socket)
      try {
        admitted = await options.verifyClient(clientInfo(req))
      } catch (err) {
        log('verifyClient threw: %O', err)
        return rejectUpgrade(socket, 500, 'internal error')
      } finally {
        pending.delete(socket)
      }
    }
    if (closing !== undefined || socket.destroyed) return rejectUpgrade(socket, 503, 'server shutting down')
    if (admitted !== true) {
      metrics.dropped.inc({ reason: 'unauthorized' })
      return rejectUpgrade(socket, 401, 'unauthorized')
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, address))
  }
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch((err: unknown) => {
      log('upgrade failed: %O', err)
      socket.destroy()
    })
  })
  http.on('error', (err) => log('server error: %s', err.message))

  const heartbeat = setInterval(() => {
    for (const client of clients) {
      if (!client.alive) {
        log('dropping a socket that missed a pong')
        client.socket.terminate()
        continue
      }
      client.alive = false
      client.socket.ping()
    }
  }, o.pingInterval)

  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(heartbeat)
      options.signal?.removeEventListener('abort', onAbort)
      bus?.close()
      for (const socket of pending) socket.destroy()
      const closed = [...clients].map(
        ({ socket }) =>
          new Promise<void>((resolve) => {
            socket.once('close', () => resolve())
            socket.close(CloseCode.goingAway, 'server shutting down')
          }),
      )
      const cutoff = setTimeout(() => {
        for (const { socket } of clients) socket.terminate()
      }, CLOSE_GRACE_MS)
      await Promise.all(closed)
      clearTimeout(cutoff)
      wss.close()
      await new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      })
      log('closed')
    })()
    return closing
  }
  const onAbort = (): void => void close()

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      clearInterval(heartbeat)
      bus?.close()
      reject(err)
    }
    http.once('error', onError)
    http.listen(o.port, o.host, () => {
      http.off('error', onError)
      resolve()
    })
  })
  const address = http.address()
  if (address === null || typeof address === 'string') throw new Error('signaling server: no TCP address')
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted === true) {
    await close()
    options.signal.throwIfAborted()
  }
  const url = `ws://${urlHost(address.address)}:${address.port}`
  log('listening on %s', url)

  return { port: address.port, url, connections: () => clients.size, health, close }
}

function clientInfo(req: IncomingMessage): ClientInfo {
  const url = req.url ?? '/'
  return {
    origin: req.headers.origin,
    url,
    headers: req.headers,
    token: tokenOf(url),
    remoteAddress: req.socket.remoteAddress,
  }
}

function byteLengthOf(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, part) => sum + part.byteLength, 0) : data.byteLength
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}

/** A host for a URL: a wildcard address becomes loopback, IPv6 gets brackets. */
function urlHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1'
  if (address === '::') return '[::1]'
  return address.includes(':') ? `[${address}]` : address
}
