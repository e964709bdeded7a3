/**
 * Where this tab meets the others: the room comes from the URL (`#room=name`, `#name` or
 * `?room=name`; default 'demo'), the signaling server from `?signaling=ws://…` (several
 * separated by commas) or else port 4444 on the host that served the page, where
 * `npm start` runs it. `?broadcast=off` leaves BroadcastChannel out, so same-browser tabs
 * meet over WebRTC only.
 */

/** What the demo needs to start its node. */
export interface DemoConfig {
  readonly room: string
  readonly signaling: string[]
  readonly broadcastChannel: boolean | undefined
}

/** Reads the config from a page location. */
export function configFrom(location: Location): DemoConfig {
  const query = new URLSearchParams(location.search)
  const hash = location.hash.replace(/^#/, '')
  const hashRoom = hash.includes('=') ? new URLSearchParams(hash).get('room') : hash
  const room = (hashRoom || query.get('room') || 'demo').trim() || 'demo'
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const fromQuery =
    query
      .get('signaling')
      ?.split(',')
      .map((url) => url.trim())
      .filter(Boolean) ?? []
  const signaling = fromQuery.length > 0 ? fromQuery : [`${scheme}://${location.hostname || '127.0.0.1'}:4444`]
  const broadcastChannel = query.get('broadcast') === 'off' ? false : undefined
  return { room, signaling, broadcastChannel }
}
