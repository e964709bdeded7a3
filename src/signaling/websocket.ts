/**
 * A WebSocket from wherever one is found: `globalThis.WebSocket` in browsers, workers and
 * Node 22+, else the `ws` package, loaded with a dynamic `import()` so that browser bundles
 * never need it. The surface is what signaling needs: text frames, open, close, errors.
 *
 * After `close()` the wrapper reports nothing more, so its owner can forget it at once.
 */

/** The little of a WebSocket the signaling client uses. Set the handlers right after opening. */
export interface WebSocketLike {
  onopen: (() => void) | null
  /** A frame: a string for text frames (the only kind signaling servers send). */
  onmessage: ((data: unknown) => void) | null
  /** The socket is closed (also after a failed connection attempt). */
  onclose: ((code: number, reason: string) => void) | null
  onerror: ((error: unknown) => void) | null
  /** Sends a text frame if the socket is open; returns whether it did. */
  send(text: string): boolean
  /** Closes the socket at once; no handler runs afterwards. */
  close(): void
}

/** Opens a WebSocket to `url` with the platform's WebSocket, or `ws` in Node 20. */
export function openWebSocket(url: string): WebSocketLike {
  const socket = new PortableWebSocket()
  const Native = (globalThis as { WebSocket?: new (url: string) => unknown }).WebSocket
  if (typeof Native === 'function') {
    socket.attach(new Native(url) as RawSocket)
  } else {
    import('ws').then(
      // Closed while ws loaded (a node stopped at once): open nothing, or it would linger.
      ({ WebSocket }) => socket.isClosed || socket.attach(new WebSocket(url) as unknown as RawSocket),
      (error: unknown) => socket.fail(error),
    )
  }
  return socket
}

/** What the DOM WebSocket and `ws` have in common (their typings differ, the behaviour not). */
interface RawSocket {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(text: string): void
  close(code?: number): void
  /** `ws` only: drops the TCP connection without waiting for the server's close frame. */
  terminate?(): void
}

const OPEN = 1

class PortableWebSocket implements WebSocketLike {
  onopen: (() => void) | null = null
  onmessage: ((data: unknown) => void) | null = null
  onclose: ((code: number, reason: string) => void) | null = null
  onerror: ((error: unknown) => void) | null = null
  private raw: RawSocket | undefined
  private closed = false

  /** True once closed, by either side. */
  get isClosed(): boolean {
    return this.closed
  }

  attach(raw: RawSocket): void {
    if (this.closed) return
    this.raw = raw
    // The raw handlers stay installed after close(): `ws` throws on an 'error' event nobody listens to.
    raw.onopen = () => {
      if (!this.closed) this.onopen?.()
    }
    raw.onmessage = (event) => {
      if (!this.closed) this.onmessage?.(event.data)
    }
    raw.onerror = (event) => {
      if (!this.closed) this.onerror?.((event as { error?: unknown }).error ?? event)
    }
    raw.onclose = (event) => {
      if (this.closed) return
      this.closed = true
      this.onclose?.(event.code, event.reason)
    }
  }

  fail(error: unknown): void {
    if (this.closed) return
    this.closed = true
    this.onerror?.(error)
    this.onclose?.(1006, 'no WebSocket implementation could be loaded')
  }

  send(text: string): boolean {
    if (this.closed || this.raw === undefined || this.raw.readyState !== OPEN) return false
    this.raw.send(text)
    return true
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    const raw = this.raw
    if (raw === undefined) return
    // `ws` would keep the socket (and a 30 s timer) alive waiting for a stalled server's
    // close frame; a signaling server loses nothing when the connection just drops.
    if (raw.terminate !== undefined) raw.terminate()
    else raw.close(1000)
  }
}
