/**
 * The signaling server: introduces peers of a room to each other by relaying y-webrtc's
 * signaling messages (see `protocol.ts`) between WebSockets. It holds no state beyond open
 * sockets and their subscriptions, and every per-client resource is bounded by an option.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { logger } from '../src/log.js'
import { handleRequest, rejectUpgrade, tokenOf } from './http.js'
import { resolveOptions, type ClientInfo, type SignalingServerOptions } from './options.js'
import { CloseCode, PONG, parseClientMessage, relayedPublish } from './protocol.js'
import { TokenBucket } from './rate-limit.js'
import { Topics } from './topics.js'

/** A running signaling server. */
export interface SignalingServer {
  /** The port it listens on (the chosen one when started with port 0). */
  readonly port: number
  /** A `ws://` URL to reach it from this machine. */
  readonly url: string
  /** Number of open WebSocket connections. */
  connections(): number
  /** Closes every socket (1001) and the listener, and stops the ping timer. Idempotent. */
  close(): Promise<void>
}

/** How long `close()` lets clients answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 1000

interface Client {
  readonly socket: WebSocket
  readonly topics: Set<string>
  readonly bucket: TokenBucket
  alive: boolean
}

/** Starts a y-webrtc-compatible signaling server; resolves once it listens. */
export async function startSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const o = resolveOptions(options)
  const log = options.logger ?? logger('signal')
  options.signal?.throwIfAborted()

  const topics = new Topics<Client>()
  const clients = new Set<Client>()
  const pending = new Set<Duplex>()
  let closing: Promise<void> | undefined

  const http = createServer((req, res) => handleRequest(req, res, () => ({ status: 'ok', connections: clients.size, topics: topics.size })))
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: o.maxMessageBytes })

  const kick = (client: Client, code: number, reason: string): void => {
    log('closing a socket (%d): %s', code, reason)
    client.socket.close(code, reason)
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
    if (isBinary) return kick(client, CloseCode.unsupportedData, 'binary frames are not supported')
    const parsed = parseClientMessage(textOf(data), o.maxTopicLength)
    if (!parsed.ok) return kick(client, parsed.code, parsed.reason)
    const message = parsed.message
    switch (message.type) {
      case 'subscribe': {
        const added = new Set(message.topics.filter((t) => !client.topics.has(t)))
        if (client.topics.size + added.size > o.maxTopicsPerSocket) {
          return kick(client, CloseCode.policyViolation, `too many topics (max ${o.maxTopicsPerSocket})`)
        }
        for (const topic of added) {
          client.topics.add(topic)
          topics.subscribe(topic, client)
        }
        return
      }
      case 'unsubscribe':
        for (const topic of message.topics) {
          client.topics.delete(topic)
          topics.unsubscribe(topic, client)
        }
        return
      case 'publish': {
        const receivers = topics.subscribersOf(message.topic)
        if (receivers.size === 0) return
        const frame = relayedPublish(message.text, receivers.size)
        for (const receiver of receivers) send(receiver, frame)
        return
      }
      case 'ping':
        return send(client, PONG)
    }
  }

  const send = (client: Client, frame: string): void => {
    const { socket } = client
    if (socket.readyState !== WebSocket.OPEN) return
    if (socket.bufferedAmount > o.maxBufferedBytes) {
      // It stopped reading: a close frame would queue behind the backlog, so cut it off.
      log('dropping a socket with %d bytes queued', socket.bufferedAmount)
      socket.terminate()
      return
    }
    socket.send(frame)
  }

  const accept = (socket: WebSocket): void => {
    const client: Client = { socket, topics: new Set(), bucket: new TokenBucket(o.maxMessagesPerSecond, o.maxMessageBurst), alive: true }
    clients.add(client)
    socket.on('pong', () => {
      client.alive = true
    })
    socket.on('message', (data, isBinary) => onMessage(client, data, isBinary))
    socket.on('error', (err) => log('socket error: %s', err.message))
    socket.on('close', () => {
      clients.delete(client)
      for (const topic of client.topics) topics.unsubscribe(topic, client)
      client.topics.clear()
    })
  }

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    socket.on('error', (err) => log('upgrade socket error: %s', err.message))
    if (closing !== undefined) return rejectUpgrade(socket, 503, 'server shutting down')
    if (clients.size + pending.size >= o.maxConnections) {
      log('refusing a connection: %d open', clients.size)
      return rejectUpgrade(socket, 503, 'too many connections')
    }
    pending.add(socket)
    socket.once('close', () => pending.delete(socket))
    let admitted = true
    if (options.verifyClient !== undefined) {
      try {
        admitted = await options.verifyClient(clientInfo(req))
      } catch (err) {
        log('verifyClient threw: %O', err)
        pending.delete(socket)
        return rejectUpgrade(socket, 500, 'internal error')
      }
    }
    pending.delete(socket)
    if (closing !== undefined || socket.destroyed) return rejectUpgrade(socket, 503, 'server shutting down')
    if (admitted !== true) return rejectUpgrade(socket, 401, 'unauthorized')
    wss.handleUpgrade(req, socket, head, accept)
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

  return { port: address.port, url, connections: () => clients.size, close }
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
