/**
 * The signaling protocol, as y-webrtc speaks it (its `bin/server.js` and the `SignalingConn`
 * of `y-webrtc.js`): JSON text frames over one WebSocket per client.
 *
 *   client → server  { type: 'subscribe', topics: string[] }     join rooms (topics)
 *   client → server  { type: 'unsubscribe', topics: string[] }   leave them
 *   client → server  { type: 'publish', topic: string, ...rest }  relay to a room
 *   server → client  { type: 'publish', topic, ...rest, clients }
 *       the same object, sent to every subscriber of `topic` — the sender too, when it is
 *       subscribed — with `clients` set to the number of subscribers. A client need not be
 *       subscribed to publish (a newcomer announces itself this way).
 *   client → server  { type: 'ping' }   →   server → client  { type: 'pong' }
 *       an application-level keepalive: browsers cannot send WebSocket ping frames.
 *
 * The server never interprets the rest of a publish: y-webrtc puts the peer-to-peer signal
 * under `data` (base64 ciphertext when the room has a password), and it is relayed as is.
 * The server in turn sends WebSocket ping frames and drops sockets that do not answer.
 *
 * Where y-webrtc's server ignores junk, this one closes the sender's socket with a reason:
 * a binary frame (1003), or bad JSON, a non-object, an unknown `type`, `topics` that is not
 * an array of strings, a `topic` that is not a string, an over-long topic name (1008).
 */

/** WebSocket close codes this server uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** The server is shutting down. */
  goingAway: 1001,
  /** A binary frame: the protocol is JSON text only. */
  unsupportedData: 1003,
  /** A malformed or out-of-protocol message, or a limit of the server exceeded. */
  policyViolation: 1008,
  /** A frame larger than `maxMessageBytes` (sent by `ws` itself). */
  messageTooBig: 1009,
  /** Reconnect: the cluster link came back, and what was published meanwhile is lost (announce again). */
  serviceRestart: 1012,
} as const

/** A message a client may send. `publish` keeps every field, to be relayed untouched. */
export type ClientMessage =
  | { readonly type: 'subscribe' | 'unsubscribe'; readonly topics: readonly string[] }
  /** `text`: the frame as the client sent it, relayed as is. */
  | { readonly type: 'publish'; readonly topic: string; readonly text: string }
  | { readonly type: 'ping' }

/** Why a frame was refused: the close code and reason to send the offender. */
export interface ProtocolViolation {
  readonly code: number
  readonly reason: string
}

/** The outcome of parsing one text frame. */
export type ParseResult = { readonly ok: true; readonly message: ClientMessage } | ({ readonly ok: false } & ProtocolViolation)

const violation = (reason: string): ParseResult => ({ ok: false, code: CloseCode.policyViolation, reason })

/** Parses and validates one text frame; topic names longer than `maxTopicLength` are refused. */
export function parseClientMessage(text: string, maxTopicLength: number): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return violation('malformed JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return violation('message is not a JSON object')
  const fields = value as Record<string, unknown>
  switch (fields.type) {
    case 'subscribe':
    case 'unsubscribe': {
      const { topics } = fields
      if (!Array.isArray(topics) || !topics.every((t): t is string => typeof t === 'string')) {
        return violation(`${fields.type}: topics must be an array of strings`)
      }
      if (topics.some((t) => t.length > maxTopicLength)) return violation(`topic name longer than ${maxTopicLength}`)
      return { ok: true, message: { type: fields.type, topics } }
    }
    case 'publish': {
      const { topic } = fields
      if (typeof topic !== 'string') return violation('publish: topic must be a string')
      if (topic.length > maxTopicLength) return violation(`topic name longer than ${maxTopicLength}`)
      return { ok: true, message: { type: 'publish', topic, text } }
    }
    case 'ping':
      return { ok: true, message: { type: 'ping' } }
    default:
      return violation('unknown message type')
  }
}

/**
 * The frame relayed to subscribers: the publish as sent, with the subscriber count spliced in
 * before its closing brace. Re-serialising parsed JSON could throw (JSON.stringify overflows
 * the stack on nesting that JSON.parse accepts); the text is a non-empty object (it has
 * `type` and `topic`), and a `clients` key of the sender's loses to ours, which comes last.
 */
export function relayedPublish(text: string, clients: number): string {
  const body = text.trimEnd()
  return `${body.slice(0, -1)},"clients":${clients}}`
}

/** The answer to a ping. */
export const PONG = JSON.stringify({ type: 'pong' })
