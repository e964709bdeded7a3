/**
 * How the nodes of a room find each other on a shared medium — a signaling server's topic
 * (webrtc.ts) or a BroadcastChannel (broadcast-channel.ts). Both transports speak the same
 * announce:
 *
 *   { type: 'announce', from: { nodeId, incarnation }, to?: nodeId | 'nodeId@incarnation' }
 *
 * "I am here": sent when the medium opens, by the Manager's dial (`to` a node id, which
 * every incarnation of that node answers), in answer to a newcomer (`to` its endpoint), and
 * again a while after a link was lost for a reason that is not final — the peer may still be
 * there (a network blip, a heartbeat that came late), and hearing us it links again.
 *
 * Every payload on the medium names its sender as an endpoint; `parseEndpoint` checks it.
 * What a transport does on hearing an announce is its own: link at once (BroadcastChannel),
 * or negotiate, the initiator chosen by rule (WebRTC).
 */
import type { LocalEndpoint } from './transport.js'

/** One incarnation of a node, as payloads on a medium name it. */
export interface EndpointId {
  readonly nodeId: string
  readonly incarnation: number
}

/** ms after losing a link before announcing again. */
const REANNOUNCE_DELAY = 1000

/** `nodeId@incarnation`: an endpoint as a map key or an announce's `to`. */
export function endpointKey(endpoint: EndpointId): string {
  return `${endpoint.nodeId}@${endpoint.incarnation}`
}

/** A well-formed `{nodeId, incarnation}` from a payload, else undefined. */
export function parseEndpoint(value: unknown): EndpointId | undefined {
  const v = value as Partial<EndpointId> | null
  return typeof v === 'object' &&
    v !== null &&
    typeof v.nodeId === 'string' &&
    v.nodeId !== '' &&
    typeof v.incarnation === 'number' &&
    Number.isSafeInteger(v.incarnation)
    ? { nodeId: v.nodeId, incarnation: v.incarnation }
    : undefined
}

/** Announces one endpoint on a medium, and reads who announces are for. */
export class Discovery {
  private readonly selfKey: string
  private reannounceTimer: ReturnType<typeof setTimeout> | undefined
  private closed = false

  constructor(
    private readonly self: LocalEndpoint,
    /**
     * Publishes a payload on the medium as this endpoint (the medium adds `from`); `endpoint`,
     * when the announce is for one endpoint, lets a medium with per-endpoint topics send it there.
     */
    private readonly publish: (payload: { type: 'announce'; to?: string }, endpoint?: EndpointId) => void,
  ) {
    this.selfKey = endpointKey(self)
  }

  /** "I am here", to every node of the room, or only to `to` (a node id). */
  announce(to?: string): void {
    if (this.closed) return
    this.publish(to === undefined ? { type: 'announce' } : { type: 'announce', to })
  }

  /** "I am here", in answer to `endpoint`'s announce: for it alone. */
  answer(endpoint: EndpointId): void {
    if (this.closed) return
    this.publish({ type: 'announce', to: endpointKey(endpoint) }, endpoint)
  }

  /** Announces again after a while: a link was lost, for a reason that is not final. One timer at most. */
  announceLater(): void {
    if (this.reannounceTimer !== undefined || this.closed) return
    this.reannounceTimer = setTimeout(() => {
      this.reannounceTimer = undefined
      this.announce()
    }, REANNOUNCE_DELAY)
  }

  /** True for an announce this endpoint should answer: to everyone, to its node id or to itself. */
  isForMe(to: unknown): boolean {
    return to === undefined || to === this.self.nodeId || to === this.selfKey
  }

  /** True for a payload from another node (not this node's own, echoed back by the medium). */
  isFromOther(from: EndpointId): boolean {
    return from.nodeId !== this.self.nodeId
  }

  /** Stops announcing for good. */
  close(): void {
    this.closed = true
    clearTimeout(this.reannounceTimer)
  }
}
