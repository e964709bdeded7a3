/**
 * The floor of the same-profile pair: a bare BroadcastChannel between two tabs of one
 * profile, each message structured-cloned to the other listener, no backpressure.
 */
import type { Pipe } from './pipe.js'

/** A BroadcastChannel named `name` as a Pipe (only the two bench tabs listen to it). */
export function rawBroadcastPipe(name: string): Pipe {
  const channel = new BroadcastChannel(name)
  let handler: (message: unknown) => void = () => undefined
  channel.onmessage = (event: MessageEvent) => handler(event.data)
  return {
    send: (message) => channel.postMessage(message),
    ready: () => undefined,
    onMessage: (h) => {
      handler = h
    },
  }
}
