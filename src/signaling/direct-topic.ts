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

const FNV_OFFSET = 0xcbf29ce484222325n
const FNV_PRIME = 0x100000001b3n
const MASK = (1n << 64n) - 1n

/** `distribunator:<hash of room and endpoint>`: the direct topic of `endpoint` in `room`. */
export function directTopic(room: string, endpoint: EndpointId): string {
  let hash = FNV_OFFSET
  for (const byte of new TextEncoder().encode(`${room}\u0000${endpoint.nodeId}\u0000${endpoint.incarnation}`)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK
  }
  return `distribunator:${hash.toString(36)}`
}
