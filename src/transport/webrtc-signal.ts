/**
 * What two WebRTC links say to each other over signaling to connect (webrtc-link.ts): a
 * description, candidates, or an abort — and the checks a peer's must pass first, since
 * they come from the room and go on to the WebRTC stack; and why a try ends.
 */

/** Negotiation data for the peer, as published over signaling. */
export type WebrtcSignal =
  | { readonly type: 'offer' | 'answer'; readonly sdp: string }
  | { readonly type: 'candidate'; readonly candidate: RTCIceCandidateInit }
  | { readonly type: 'abort'; readonly reason: string }

/** Checks negotiation data a peer published; undefined if it is not well formed. */
export function parseSignal(value: unknown): WebrtcSignal | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  switch (v.type) {
    case 'offer':
    case 'answer':
      return typeof v.sdp === 'string' && v.sdp.length > 0 && v.sdp.length <= MAX_SDP_LENGTH ? { type: v.type, sdp: v.sdp } : undefined
    case 'candidate': {
      const c = v.candidate as Record<string, unknown> | null
      if (typeof c !== 'object' || c === null || typeof c.candidate !== 'string' || c.candidate.length > MAX_CANDIDATE_LENGTH)
        return undefined
      const sdpMid =
        c.sdpMid === undefined || c.sdpMid === null ? null : typeof c.sdpMid === 'string' && c.sdpMid.length <= 32 ? c.sdpMid : undefined
      const index =
        c.sdpMLineIndex === undefined || c.sdpMLineIndex === null
          ? null
          : Number.isInteger(c.sdpMLineIndex) && (c.sdpMLineIndex as number) >= 0 && (c.sdpMLineIndex as number) < 16
            ? (c.sdpMLineIndex as number)
            : undefined
      if (sdpMid === undefined || index === undefined || (sdpMid === null && index === null)) return undefined
      return { type: 'candidate', candidate: { candidate: c.candidate, sdpMid, sdpMLineIndex: index } }
    }
    case 'abort':
      return { type: 'abort', reason: typeof v.reason === 'string' ? v.reason.slice(0, 200) : 'no reason' }
    default:
      return undefined
  }
}

/** Why a try ends that found no path between the pair: nothing connected in time. */
export const CONNECT_TIMEOUT = 'connect timeout'
/** Why a try ends whose ICE checks all failed. */
export const CONNECTION_FAILED = 'connection failed'

/** Why a try ends that the peer gave up on (its 'abort'), with the peer's reason. */
export function peerGaveUp(reason: string): string {
  return `peer gave up: ${reason}`
}

/**
 * True when a try that never opened ended for want of a path (its own or its peer's connect
 * timeout, or ICE failing), not a negotiation error, which the next try often gets past.
 */
export function foundNoPath(reason: string): boolean {
  return reason === CONNECT_TIMEOUT || reason === CONNECTION_FAILED || reason === peerGaveUp(CONNECT_TIMEOUT)
}

/** Longest description accepted from a peer (a data-channel-only SDP is about 1 KiB). */
const MAX_SDP_LENGTH = 64 * 1024
const MAX_CANDIDATE_LENGTH = 1024

/**
 * The offer as it goes to the peer: its end asks to be the DTLS client (`a=setup:active`,
 * where the stack wrote `actpass`), so the answerer waits for its ClientHello. Left to
 * choose, the answerer takes the client's part and starts DTLS as soon as its ICE checks
 * succeed, which is often before the offerer has the answer; libdatachannel's ICE agent
 * (libjuice) drops what arrives then, and the handshake waits for DTLS's one-second
 * retransmission: 34 of 240 tries between two node-datachannel connections on loopback,
 * against 0 of 244 with the offerer as client (bench/RESULTS.md). The stack's own
 * description keeps `actpass`; it takes the client's part when the answer says `passive`,
 * as browsers do (RFC 5763 asks offers for `actpass`; an offer of `active` is still
 * answered `passive` by libdatachannel, Chromium and Firefox).
 */
export function asDtlsClientOffer(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(?=\r?$)/gm, 'a=setup:active')
}
