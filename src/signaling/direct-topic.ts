/**
 * The topic of one node incarnation's own, on the signaling servers: negotiation data for a
 * peer (offers, answers, candidates) is published there, so only that peer receives it — not
 * the whole room, which would receive and open N² payloads while a mesh of N forms.
 *
 * A short hash of the room and the endpoint: a topic name has to stay under the servers'
 * length limit (256) whatever the room and node id, and need not show them. It is not a
 * secret (a hash with no key) and need not be: a collision only brings a node a payload
 * addressed to another, which it drops, and the room password seals the payloads anyway.
 * FNV-1a, not Web Crypto: `crypto.subtle` is missing on plain-http pages.
 */
import type { EndpointId } from '../transport/discovery.js'

const encoder = new TextEncoder()

/** `distribunator:<hash of room and endpoint>`: the direct topic of `endpoint` in `room`. */
export function directTopic(room: string, endpoint: EndpointId): string {
  return `distribunator:${fnv1a64(encoder.encode(`${room}\u0000${endpoint.nodeId}\u0000${endpoint.incarnation}`)).toString(36)}`
}

/**
 * 64-bit FNV-1a, on four 16-bit limbs (least significant first). A node hashes a topic for
 * every negotiation message it publishes; with BigInt arithmetic per byte each of a
 * process's first hundred hashes took ~26 µs.
 */
export function fnv1a64(bytes: Uint8Array): bigint {
  // The offset basis, 0xcbf29ce484222325.
  let h0 = 0x2325
  let h1 = 0x8422
  let h2 = 0x9ce4
  let h3 = 0xcbf2
  for (const byte of bytes) {
    h0 ^= byte
    // Times the prime, 2^40 + 0x1b3: each limb times 0x1b3, plus the low two limbs moved up
    // 40 bits (two limbs and 8 bits); what passes 64 bits falls away.
    const t0 = h0 * 0x1b3
    const t1 = h1 * 0x1b3 + (t0 >>> 16)
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16)
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)
    h0 = t0 & 0xffff
    h1 = t1 & 0xffff
    h2 = t2 & 0xffff
    h3 = t3 & 0xffff
  }
  return (BigInt(h3 * 0x10000 + h2) << 32n) | BigInt(h1 * 0x10000 + h0)
}
