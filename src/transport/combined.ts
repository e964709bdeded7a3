/**
 * Several transports as one: a tab meets the tabs of its browser over BroadcastChannel and
 * everyone else over WebRTC. Each transport asks `linkedTo` before linking, so a pair
 * usually gets one link; when two form at once, peers.ts picks the one both ends use.
 */
import { isFinal, type Transport, type TransportSession } from './transport.js'

/** One Transport made of several; links from all of them reach the same node. */
export function combineTransports(transports: readonly Transport[]): Transport {
  if (transports.length === 1) return transports[0] as Transport
  return {
    open(self, hooks) {
      const sessions: TransportSession[] = []
      for (const transport of transports) {
        const own = sessions.length
        sessions.push(
          transport.open(self, {
            ...hooks,
            linkClosed(link, reason, replacing) {
              hooks.linkClosed(link, reason, replacing)
              // The pair may still reach each other another way (a tab's WebRTC link broke,
              // its BroadcastChannel is fine): the other transports try it.
              if (isFinal(reason)) return
              sessions.forEach((session, index) => index !== own && session.connect(link.remoteNodeId))
            },
          }),
        )
      }
      return {
        connect: (nodeId) => sessions.forEach((session) => session.connect(nodeId)),
        close: () => sessions.forEach((session) => session.close()),
        signaling: () => sessions.flatMap((session) => session.signaling?.() ?? []),
      }
    },
  }
}
