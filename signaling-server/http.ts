/**
 * The plain-HTTP side of the signaling server: `/health` for load balancers and monitors,
 * `/metrics` for Prometheus, a one-line page at `/`, 404 elsewhere, and refusals of WebSocket
 * upgrades. `/health` answers 200 while the server serves, with Redis down too: it still
 * introduces the clients connected to it (`redis: 'down'` says what is missing).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

/** What `GET /health` reports. */
export interface Health {
  /** 'ok' while the server serves. */
  readonly status: 'ok'
  /** Open WebSocket connections. */
  readonly connections: number
  /** Topics (rooms) with at least one subscriber. */
  readonly topics: number
  /** With a cluster: whether Redis is reachable. While 'down' the server still serves its own sockets. */
  readonly redis?: 'up' | 'down'
}

/** What `GET /metrics` serves. */
export interface MetricsText {
  readonly contentType: string
  readonly text: string
}

/** Serves one plain HTTP request. */
export function handleRequest(req: IncomingMessage, res: ServerResponse, health: () => Health, metrics: () => Promise<MetricsText>): void {
  const path = pathOf(req.url)
  const known = path === '/health' || path === '/metrics' || path === '/'
  if (!known) return reply(res, 404, 'text/plain; charset=utf-8', 'not found\n')
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD')
    return reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n')
  }
  if (path === '/health') return reply(res, 200, 'application/json', JSON.stringify(health()))
  if (path === '/metrics') {
    metrics().then(
      ({ contentType, text }) => reply(res, 200, contentType, text),
      () => reply(res, 500, 'text/plain; charset=utf-8', 'metrics unavailable\n'),
    )
    return
  }
  reply(res, 200, 'text/plain; charset=utf-8', 'distribunator signaling server: connect with a WebSocket (y-webrtc protocol)\n')
}

/** The path of a request target, without its query; undefined when it cannot be parsed. */
export function pathOf(target: string | undefined): string | undefined {
  if (target === undefined) return undefined
  try {
    return new URL(target, 'http://localhost').pathname
  } catch {
    return undefined
  }
}

/** The `token` query parameter of a request target, if any. */
export function tokenOf(target: string | undefined): string | undefined {
  if (target === undefined) return undefined
  try {
    return new URL(target, 'http://localhost').searchParams.get('token') ?? undefined
  } catch {
    return undefined
  }
}

/** Refuses a WebSocket upgrade with an HTTP status and a short text, then closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = `${message}\n`
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `\r\n${body}`,
  )
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(body)
}
