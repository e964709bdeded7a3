/**
 * The signaling client against y-webrtc's own server (spawned), and against tiny fake
 * servers written here for what a real server would not do: fall silent, send garbage.
 */
import { once } from 'node:events'
import type net from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { WebSocket as WsWebSocket, WebSocketServer, type WebSocket as WsSocket } from 'ws'
import { ArgumentError, EncodeError, ProtocolError, type DistribunatorError } from '../src/errors.js'
import { SignalingClient, type SignalingClientEvents, type SignalingClientOptions } from '../src/signaling/client.js'
import { DecryptionError, decryptJson, deriveKey, encryptJson } from '../src/signaling/crypto.js'
import { freePort, startYWebrtcServer, type YWebrtcServer } from './fixtures/y-webrtc-server.js'
import { recordUncaught, until } from './helpers.js'

const uncaught = recordUncaught()

/** Everything a client reported, in order. */
interface Recorded {
  messages: Record<string, unknown>[]
  errors: DistribunatorError[]
  events: string[]
}

const clients: SignalingClient[] = []

/** A client with fast test timings, closed after the test; records its events. */
function client(options: Partial<SignalingClientOptions> & { urls: readonly string[] }): [SignalingClient, Recorded] {
  const c = new SignalingClient({ topic: 'room', minReconnectDelay: 20, maxReconnectDelay: 100, ...options })
  clients.push(c)
  const recorded: Recorded = { messages: [], errors: [], events: [] }
  c.on('message', (payload) => recorded.messages.push(payload))
  c.on('error', (error) => recorded.errors.push(error))
  c.on('connect', (url) => recorded.events.push(`connect ${url}`))
  c.on('disconnect', (url) => recorded.events.push(`disconnect ${url}`))
  return [c, recorded]
}

/** The next `name` event of a client. */
function next<K extends keyof SignalingClientEvents>(c: SignalingClient, name: K): Promise<Parameters<SignalingClientEvents[K]>> {
  return new Promise((resolve) =>
    c.once(name, ((...args: Parameters<SignalingClientEvents[K]>) => resolve(args)) as SignalingClientEvents[K]),
  )
}

/** A ws server run by the test; `behave` decides what it does with each connection. */
async function fakeServer(behave: (socket: WsSocket, frames: string[]) => void = () => undefined) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  const sockets: WsSocket[] = []
  const frames: string[] = []
  wss.on('connection', (socket) => {
    sockets.push(socket)
    socket.on('message', (data) => frames.push(String(data)))
    behave(socket, frames)
  })
  const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.terminate()
    await new Promise((resolve) => wss.close(resolve))
  }
  return { url, sockets, frames, close }
}

/** A raw ws client subscribed to a topic: sees exactly what the server forwards. */
async function rawSubscriber(url: string, topic: string): Promise<{ frames: string[]; socket: WsWebSocket }> {
  const socket = new WsWebSocket(url)
  const frames: string[] = []
  socket.on('message', (data) => frames.push(String(data)))
  await once(socket, 'open')
  socket.send(JSON.stringify({ type: 'subscribe', topics: [topic] }))
  return { frames, socket }
}

/**
 * Waits for a condition on `process.getActiveResourcesInfo()`, checking between event-loop
 * turns: `until` cannot, its own timers would be counted.
 */
async function settle(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = performance.now() + timeout
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still active: ${process.getActiveResourcesInfo().join(', ')}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Every client publishes a marker and waits until it sees its own: the server has handled all that came before. */
async function barrier(...all: [SignalingClient, Recorded][]): Promise<void> {
  const tag = Math.random().toString(36).slice(2)
  for (const [c] of all) c.publish({ barrier: tag })
  await until(() => all.every(([, r]) => r.messages.some((m) => m.barrier === tag)))
}

const server: { a?: YWebrtcServer; b?: YWebrtcServer; urlA: string; urlB: string } = { urlA: '', urlB: '' }

beforeAll(async () => {
  ;[server.a, server.b] = await Promise.all([startYWebrtcServer(), startYWebrtcServer()])
  server.urlA = server.a.url
  server.urlB = server.b.url
})

afterEach(() => {
  for (const c of clients.splice(0)) c.close()
  vi.unstubAllGlobals()
})

afterAll(async () => {
  await Promise.all([server.a?.stop(), server.b?.stop()])
  expect(uncaught).toEqual([])
})

describe('crypto', () => {
  it('round-trips JSON with a key derived from password and room', async () => {
    const key = await deriveKey('secret', 'room')
    const value = { text: 'héllo ✓', n: 1.5, list: [null, true, { deep: 'x'.repeat(100_000) }] }
    expect(await decryptJson(await encryptJson(value, key), key)).toEqual(value)
  })

  it('derives the same key as y-webrtc', async () => {
    const yCrypto = (await import(
      pathToFileURL(fileURLToPath(new URL('../node_modules/y-webrtc/src/crypto.js', import.meta.url))).href
    )) as {
      deriveKey(secret: string, room: string): Promise<CryptoKey>
    }
    const theirs = await yCrypto.deriveKey('secret', 'room')
    const iv = crypto.getRandomValues(new Uint8Array(12))
    const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, theirs, new TextEncoder().encode('{"a":1}')))
    const sealed = btoa(String.fromCharCode(...iv, ...cipher))
    expect(await decryptJson(sealed, await deriveKey('secret', 'room'))).toEqual({ a: 1 })
  })

  it('refuses a wrong key, tampering and garbage with a DecryptionError', async () => {
    const key = await deriveKey('secret', 'room')
    const sealed = await encryptJson({ a: 1 }, key)
    const wrong = [await deriveKey('other', 'room'), await deriveKey('secret', 'other-room')]
    for (const k of wrong) await expect(decryptJson(sealed, k)).rejects.toBeInstanceOf(DecryptionError)
    const bytes = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0))
    for (const at of [0, 12, bytes.length - 1]) {
      const tampered = bytes.slice()
      tampered[at]! ^= 1
      await expect(decryptJson(btoa(String.fromCharCode(...tampered)), key)).rejects.toBeInstanceOf(DecryptionError)
    }
    for (const garbage of ['', 'not base64 !!', btoa('short'), btoa('x'.repeat(64)), '{"a":1}']) {
      const error = await decryptJson(garbage, key).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DecryptionError)
      expect(error).toBeInstanceOf(ProtocolError)
      expect((error as Error).name).toBe('DecryptionError')
    }
  })

  it('uses a fresh IV for every message', async () => {
    const key = await deriveKey('secret', 'room')
    const sealed = await Promise.all(Array.from({ length: 20 }, () => encryptJson({ same: true }, key)))
    expect(new Set(sealed).size).toBe(20)
    expect(new Set(sealed.map((s) => atob(s).slice(0, 12))).size).toBe(20)
  })

  it('throws EncodeError at once for what JSON cannot hold', async () => {
    const key = await deriveKey('secret', 'room')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => encryptJson(cyclic, key)).toThrow(EncodeError)
    expect(() => encryptJson({ n: 1n }, key)).toThrow(EncodeError)
  })
})

describe("SignalingClient on y-webrtc's server", () => {
  it('delivers payloads to the topic in order, and nothing to another topic', async () => {
    const a = client({ urls: [server.urlA] })
    const b = client({ urls: [server.urlA] })
    const other = client({ urls: [server.urlA], topic: 'other-room' })
    await until(() => [a, b, other].every(([c]) => c.connectedCount() === 1))
    for (let i = 0; i < 20; i++) a[0].publish({ from: 'a', i })
    await until(() => a[1].messages.length === 20 && b[1].messages.length === 20)
    expect(b[1].messages).toEqual(Array.from({ length: 20 }, (_, i) => ({ from: 'a', i })))
    expect(a[1].messages).toEqual(b[1].messages) // one's own publishes come back too
    await barrier(other)
    expect(other[1].messages.every((m) => 'barrier' in m)).toBe(true)
    expect([a, b, other].flatMap(([, r]) => r.errors)).toEqual([])
  })

  it('with a password: peers read each other, nobody else does, and the server sees only ciphertext', async () => {
    const marker = 'PLAINTEXT-MARKER-7f3a'
    const raw = await rawSubscriber(server.urlA, 'room')
    const alice = client({ urls: [server.urlA], password: 'secret' })
    const bob = client({ urls: [server.urlA], password: 'secret' })
    const eve = client({ urls: [server.urlA], password: 'wrong' })
    const plain = client({ urls: [server.urlA] })
    await until(() => [alice, bob, eve, plain].every(([c]) => c.connectedCount() === 1))

    alice[0].publish({ marker, from: 'alice' })
    await until(() => bob[1].messages.length === 1 && eve[1].errors.length === 1 && plain[1].errors.length === 1)
    expect(bob[1].messages).toEqual([{ marker, from: 'alice' }])
    expect(eve[1].errors[0]).toBeInstanceOf(DecryptionError)
    expect(plain[1].errors[0]).toBeInstanceOf(ProtocolError)
    expect([eve, plain].flatMap(([, r]) => r.messages)).toEqual([])

    // Plain text cannot get into a room with a password either.
    plain[0].publish({ from: 'intruder' })
    await until(() => bob[1].errors.length === 1 && alice[1].errors.length === 1)
    expect(bob[1].messages).toEqual([{ marker, from: 'alice' }])

    await until(() => raw.frames.length === 2)
    raw.socket.terminate()
    expect(raw.frames[0]).not.toContain(marker)
    expect(raw.frames[0]).not.toContain('alice')
    expect(typeof JSON.parse(raw.frames[0]!).data).toBe('string')
  })

  it('publishes through several servers and counts the connected ones', async () => {
    const both = client({ urls: [server.urlA, server.urlB] })
    const onA = client({ urls: [server.urlA] })
    const onB = client({ urls: [server.urlB] })
    await until(() => both[0].connectedCount() === 2 && onA[0].connectedCount() === 1 && onB[0].connectedCount() === 1)
    expect(both[1].events.sort()).toEqual([`connect ${server.urlA}`, `connect ${server.urlB}`].sort())
    both[0].publish({ from: 'both' })
    await until(() => onA[1].messages.length === 1 && onB[1].messages.length === 1)
    onB[0].publish({ from: 'onB' })
    await until(() => both[1].messages.some((m) => m.from === 'onB'))
    expect(onA[1].messages.map((m) => m.from)).toEqual(['both'])
  })

  it('reconnects after the server restarts, and publishing works again', async () => {
    let yServer = await startYWebrtcServer()
    const { url, port } = yServer
    const a = client({ urls: [url] })
    const b = client({ urls: [url] })
    await until(() => a[0].connectedCount() === 1 && b[0].connectedCount() === 1)

    await yServer.stop()
    await until(() => a[0].connectedCount() === 0 && b[0].connectedCount() === 0)
    a[0].publish({ lost: true }) // dropped, not thrown
    yServer = await startYWebrtcServer(port)
    try {
      await until(() => a[0].connectedCount() === 1 && b[0].connectedCount() === 1)
      expect(a[1].events).toEqual([`connect ${url}`, `disconnect ${url}`, `connect ${url}`])
      a[0].publish({ back: true })
      await until(() => b[1].messages.length === 1)
      expect(b[1].messages).toEqual([{ back: true }])
    } finally {
      await yServer.stop()
    }
  })

  it('stays connected to a server that answers pings', async () => {
    const [c, r] = client({ urls: [server.urlA], pingInterval: 60 })
    await until(() => c.connectedCount() === 1)
    const probe = await fakeServer((socket) => socket.on('message', () => socket.send('{"type":"pong"}')))
    const [p, pr] = client({ urls: [probe.url], pingInterval: 60 })
    await until(() => probe.frames.filter((f) => f === '{"type":"ping"}').length >= 8) // 4 silence windows
    expect(r.events).toEqual([`connect ${server.urlA}`])
    expect(pr.events).toEqual([`connect ${probe.url}`])
    p.close()
    await probe.close()
  })
})

describe('SignalingClient against misbehaving servers', () => {
  it('drops a server that stops answering and connects again', async () => {
    let muted = false
    const flaky = await fakeServer((socket) => {
      const first = flaky.sockets.length === 1
      socket.on('message', () => {
        if (!(first && muted)) socket.send('{"type":"pong"}')
      })
    })
    const [, r] = client({ urls: [flaky.url], pingInterval: 50 })
    await until(() => r.events.length === 1)
    muted = true
    await until(() => r.events.length === 3, 3000)
    expect(r.events).toEqual([`connect ${flaky.url}`, `disconnect ${flaky.url}`, `connect ${flaky.url}`])
    expect(flaky.sockets).toHaveLength(2)
    expect(flaky.frames.slice(0, 2)).toEqual(['{"type":"subscribe","topics":["room"]}', '{"type":"ping"}'])
    await flaky.close()
  })

  it('never reports a server connected that does not confirm the subscription', async () => {
    const mute = await fakeServer()
    const [c, r] = client({ urls: [mute.url], pingInterval: 30 })
    await until(() => mute.sockets.length >= 2) // dropped after 2 silent intervals, retried
    expect(r.events).toEqual([])
    expect(c.connectedCount()).toBe(0)
    await mute.close()
  })

  it('backs off from a server that accepts and closes at once', async () => {
    const times: number[] = []
    const slammer = await fakeServer((socket) => {
      times.push(performance.now())
      socket.close()
    })
    client({ urls: [slammer.url], minReconnectDelay: 40, maxReconnectDelay: 160 })
    await until(() => times.length >= 5, 5000)
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    // Timers never fire early: each gap is at least the jittered delay (40, 80, 160, 160 × 0.75).
    expect(gaps[0]).toBeGreaterThanOrEqual(30)
    expect(gaps[1]).toBeGreaterThanOrEqual(60)
    expect(gaps[2]).toBeGreaterThanOrEqual(120)
    expect(gaps[3]).toBeGreaterThanOrEqual(120)
    await slammer.close()
  })

  it('reports garbage as errors and still delivers the valid payloads in order', async () => {
    const garbage = [
      'not json',
      '[1,2]',
      'null',
      '"str"',
      '{"type":"publish"}',
      '{"type":"weird"}',
      '{"type":"publish","topic":"other","data":{"n":0}}',
      '{"type":"publish","topic":"room","data":[1]}',
      '{"type":"publish","topic":"room","data":"c2VhbGVk"}',
    ]
    const valid = (n: number): string => JSON.stringify({ type: 'publish', topic: 'room', data: { n }, clients: 1 })
    const evil = await fakeServer((socket) => {
      socket.once('message', () => {
        socket.send(valid(1))
        for (const frame of garbage) socket.send(frame)
        socket.send(Buffer.from([0xff, 0x00]), { binary: true })
        socket.send(valid(2))
        socket.send('{"type":"pong"}')
        socket.send(valid(3))
      })
    })
    const [, r] = client({ urls: [evil.url] })
    await until(() => r.messages.length === 3)
    expect(r.messages).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(r.errors).toHaveLength(garbage.length + 1)
    expect(r.errors.every((e) => e instanceof ProtocolError && e.peer === evil.url)).toBe(true)
    expect(r.events).toEqual([`connect ${evil.url}`])
    await evil.close()
  })

  it('keeps the order of sealed payloads and skips undecryptable ones', async () => {
    const key = await deriveKey('secret', 'room')
    // Big first payloads take longest to decrypt: decrypted concurrently, small ones would overtake them.
    const pad = (n: number): string => 'x'.repeat(n % 10 === 0 ? 1_000_000 : 10)
    const sealed = await Promise.all(Array.from({ length: 30 }, (_, n) => encryptJson({ n, pad: pad(n) }, key)))
    const wrongKey = await deriveKey('wrong', 'room')
    const frame = (data: unknown): string => JSON.stringify({ type: 'publish', topic: 'room', data })
    const evil = await fakeServer((socket) => {
      socket.once('message', async () => {
        for (const [n, data] of sealed.entries()) {
          socket.send(frame(data))
          if (n % 10 === 0) socket.send(frame(await encryptJson({ n: -1 }, wrongKey)))
          if (n % 10 === 5) socket.send(frame({ plain: true }))
        }
      })
    })
    const [, r] = client({ urls: [evil.url], password: 'secret' })
    await until(() => r.messages.length === 30)
    expect(r.messages.map((m) => m.n)).toEqual(Array.from({ length: 30 }, (_, n) => n))
    expect(r.errors).toHaveLength(6)
    expect(r.errors.filter((e) => e instanceof DecryptionError)).toHaveLength(3)
    expect(r.errors.every((e) => e instanceof ProtocolError && e.peer === evil.url)).toBe(true)
    await evil.close()
  })
})

describe('SignalingClient lifecycle and API', () => {
  it('close() leaves no timer or socket behind and reconnects nothing', async () => {
    const resources = (): Record<string, number> => {
      const counts: Record<string, number> = {}
      for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
      return counts
    }
    const settled = (before: Record<string, number>): boolean => Object.entries(resources()).every(([kind, n]) => n <= (before[kind] ?? 0))
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((k) => k === kind).length
    const mute = await fakeServer()
    await settle(() => count('TCPSocketWrap') === 0) // what earlier tests closed is gone
    const before = resources()
    const deadUrl = `ws://127.0.0.1:${await freePort()}`
    const up = client({ urls: [server.urlA, mute.url, deadUrl], password: 'secret', pingInterval: 1000 })[0]
    const fresh = client({ urls: [server.urlA, deadUrl] })[0] // closed while still connecting
    await until(() => up.connectedCount() === 1 && mute.sockets.length === 1) // mute: open, never confirmed
    up.publish({ pending: 'encryption' })
    up.close()
    fresh.close()
    expect(count('Timeout')).toBeLessThanOrEqual(before.Timeout ?? 0) // timers go at once; sockets need a turn
    const connections = mute.sockets.length
    await settle(() => settled(before))
    expect(up.connectedCount()).toBe(0)
    up.publish({ after: 'close' }) // a no-op, not a throw
    await until(() => mute.sockets.every((s) => s.readyState === WsWebSocket.CLOSED))
    expect(mute.sockets.length).toBe(connections)
    await mute.close()
  })

  it('uses globalThis.WebSocket when there is one', async () => {
    let made = 0
    vi.stubGlobal(
      'WebSocket',
      class extends WsWebSocket {
        constructor(url: string) {
          super(url)
          made++
        }
      },
    )
    const [c] = client({ urls: [server.urlA] })
    await until(() => c.connectedCount() === 1)
    expect(made).toBe(1)
  })

  it('survives a throwing listener and reports it', async () => {
    const [c, r] = client({ urls: [server.urlA] })
    c.on('message', () => {
      throw new Error('listener bug')
    })
    c.on('error', () => {
      throw new Error('error listener bug too')
    })
    await next(c, 'connect')
    c.publish({ hello: 1 })
    await until(() => r.messages.length === 1 && r.errors.length === 1)
    expect(r.errors[0]!.message).toBe('a signaling listener threw')
  })

  it('validates its arguments', () => {
    expect(() => new SignalingClient({ urls: [], topic: '' })).toThrow(ArgumentError)
    expect(() => new SignalingClient({ urls: [], topic: 'room', password: '' })).toThrow(ArgumentError)
    expect(() => new SignalingClient({ urls: [], topic: 'room', pingInterval: 0 })).toThrow(ArgumentError)
    expect(() => new SignalingClient({ urls: [], topic: 'room', minReconnectDelay: 500, maxReconnectDelay: 100 })).toThrow(ArgumentError)
    const [c] = client({ urls: [] })
    expect(() => c.publish([] as unknown as Record<string, unknown>)).toThrow(ArgumentError)
    expect(() => c.publish({ n: 1n })).toThrow(EncodeError)
    expect(c.connectedCount()).toBe(0)
  })
})

describe('closing before the socket opens', () => {
  it('opens nothing when closed before ws has loaded (a node stopped at once)', async () => {
    const { startSignalingServer } = await import('../signaling-server/index.js')
    const server = await startSignalingServer({ port: 0 })
    try {
      new SignalingClient({ urls: [server.url], topic: 'quick' }).close()
      // Barrier: a second client fully connected means the first had every chance to.
      const second = new SignalingClient({ urls: [server.url], topic: 'quick' })
      await new Promise<void>((resolve) => second.once('connect', () => resolve()))
      expect(server.connections()).toBe(1)
      second.close()
    } finally {
      await server.close()
    }
  })
})
