/**
 * The y-webrtc signaling protocol, as a client speaks it. One WebSocket per server, JSON
 * text frames:
 *
 *   client → server   {type:'subscribe', topics:[room]}      once, right after the socket opens
 *   client → server   {type:'publish', topic, data}          data: the payload object, or with a
 *                                                            room password its sealed string
 *   server → client   {type:'publish', topic, data, clients} every publish to a subscribed topic,
 *                                                            our own included
 *   client → server   {type:'ping'}   server → client {type:'pong'}   keep-alive
 *
 * The server is a relay that authenticates nothing: whatever it forwards is untrusted input,
 * so `parseServerMessage` checks shapes before anything else looks at a frame.
 */
import { EncodeError, ProtocolError } from '../errors.js'

/**
 * A topic a client subscribes to, to learn what the server offers beyond y-webrtc's protocol:
 * our server, with `relay`, answers the subscription with `{ relay: true }` on it (nothing else
 * ever publishes there); another server says nothing, which means no.
 */
export const SERVER_INFO_TOPIC = 'distribunator:server-info'

/** What a server says of itself on `SERVER_INFO_TOPIC`. */
export interface ServerInfo {
  /** It carries nodes' frames (server relay). */
  readonly relay: boolean
}

/** A frame this client sends. */
export type ClientMessage =
  | { readonly type: 'subscribe'; readonly topics: readonly string[] }
  | { readonly type: 'publish'; readonly topic: string; readonly data: unknown }
  | { readonly type: 'ping' }

/** A frame a server sends that this client understands. */
export type ServerMessage = { readonly type: 'publish'; readonly topic: string; readonly data: unknown } | { readonly type: 'pong' }

/** Serialises a client frame. */
export function encodeMessage(message: ClientMessage): string {
  return toJson(message)
}

/** A publish frame around an already serialised JSON value (a payload or a sealed string). */
export function encodePublish(topic: string, dataJson: string): string {
  return `{"type":"publish","topic":${JSON.stringify(topic)},"data":${dataJson}}`
}

/** Parses a frame from a server; throws `ProtocolError` for anything out of protocol. */
export function parseServerMessage(frame: unknown, url: string): ServerMessage {
  if (typeof frame !== 'string') throw new ProtocolError('signaling frame is not text', url)
  let message: unknown
  try {
    message = JSON.parse(frame)
  } catch (error) {
    throw new ProtocolError('signaling frame is not JSON', url, { cause: error })
  }
  if (!isRecord(message)) throw new ProtocolError('signaling frame is not an object', url)
  if (message.type === 'pong') return { type: 'pong' }
  if (message.type === 'publish') {
    if (typeof message.topic !== 'string') throw new ProtocolError('publish frame without a topic', url)
    return { type: 'publish', topic: message.topic, data: message.data }
  }
  throw new ProtocolError(`unexpected signaling frame of type ${JSON.stringify(message.type)}`, url)
}

/** Serialises to JSON or throws `EncodeError` (cycles, BigInt, a bare function...). */
export function toJson(value: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    throw new EncodeError('payload is not JSON-serialisable', { cause: error })
  }
  if (text === undefined) throw new EncodeError('payload is not JSON-serialisable')
  return text
}

/** A plain JSON object (not null, not an array): the only payload shape the client delivers. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
