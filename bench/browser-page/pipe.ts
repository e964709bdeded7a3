/**
 * The measuring loops every baseline shares, over a `Pipe`: one message channel between two
 * pages (a raw RTCDataChannel, a raw BroadcastChannel, a PeerJS DataConnection). The same
 * loops run for ours over `node.call` / `node.cast` (ours.ts), so each row pays the same
 * harness cost.
 */

/** A two-way message channel to one other page. */
export interface Pipe {
  send(message: unknown): void
  /** Resolves once the pipe takes more (backpressure); undefined when it always does. */
  ready(): Promise<void> | undefined
  /** The single handler of incoming messages (a later call replaces it). */
  onMessage(handler: (message: unknown) => void): void
}

/** A MessagePort as a Pipe: the raw baseline between a page and its worker. */
export function portPipe(port: MessagePort): Pipe {
  let handler: (message: unknown) => void = () => undefined
  port.onmessage = (event: MessageEvent) => handler(event.data)
  return { send: (message) => port.postMessage(message), ready: () => undefined, onMessage: (h) => (handler = h) }
}

/** Sequential round trips: sends `message(i)`, waits for any reply, `n` times; returns each in ms. */
export async function pingLoop(pipe: Pipe, n: number, message: (i: number) => unknown): Promise<number[]> {
  let answered: (() => void) | undefined
  pipe.onMessage(() => answered?.())
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const replied = new Promise<void>((resolve) => {
      answered = resolve
    })
    const t0 = performance.now()
    pipe.send(message(i))
    await replied
    times.push(performance.now() - t0)
  }
  return times
}

/** The other end of `pingLoop`: sends every message back as it came. */
export function serveEcho(pipe: Pipe): void {
  pipe.onMessage((message) => pipe.send(message))
}

/** One way: sends `count` messages (minding backpressure), resolves in ms once the sink says it has them all. */
export async function throughput(pipe: Pipe, count: number, message: unknown): Promise<number> {
  const done = new Promise<void>((resolve) => pipe.onMessage(() => resolve()))
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const waiting = pipe.ready()
    if (waiting !== undefined) await waiting
    pipe.send(message)
  }
  await done
  return performance.now() - t0
}

/** The other end of `throughput`: counts `count` messages, then answers 'done'. */
export function serveSink(pipe: Pipe, count: number): void {
  let seen = 0
  pipe.onMessage(() => {
    if (++seen === count) pipe.send('done')
  })
}
