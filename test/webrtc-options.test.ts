/**
 * WebRTC options that are checked before anything connects: `iceTransportPolicy` needs
 * signaling, a known value, and for 'relay' a TURN server to relay through. (That 'relay'
 * really relays is turn.integration.test.ts, against coturn.)
 */
import { describe, expect, it } from 'vitest'
import { ArgumentError, startNode, webrtcTransport } from '../src/index.js'

// Never dialed: every case below throws before the transport opens.
const signaling = ['ws://127.0.0.1:9']
const turn = { urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }

describe('iceTransportPolicy', () => {
  it.each([
    ['relay without iceServers', { iceTransportPolicy: 'relay' as const }],
    ['relay with no server', { iceTransportPolicy: 'relay' as const, iceServers: [] }],
    ['relay with only STUN', { iceTransportPolicy: 'relay' as const, iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] }],
    ['an unknown policy', { iceTransportPolicy: 'direct' as 'all', iceServers: [turn] }],
  ])('refuses %s with ArgumentError', async (_name, options) => {
    await expect(startNode({ room: 'r', signaling, ...options })).rejects.toBeInstanceOf(ArgumentError)
    expect(() => webrtcTransport({ signaling, ...options })).toThrow(ArgumentError)
  })

  it('needs signaling servers', async () => {
    await expect(startNode({ room: 'r', iceTransportPolicy: 'all' })).rejects.toThrow(/need signaling servers/)
  })

  it("accepts 'relay' with a turn: or turns: URL, and 'all' without servers", () => {
    expect(() => webrtcTransport({ signaling, iceTransportPolicy: 'relay', iceServers: [turn] })).not.toThrow()
    expect(() =>
      webrtcTransport({
        signaling,
        iceTransportPolicy: 'relay',
        iceServers: [{ urls: ['stun:s:3478', 'turns:t:5349'], username: 'u', credential: 'p' }],
      }),
    ).not.toThrow()
    expect(() => webrtcTransport({ signaling, iceTransportPolicy: 'all' })).not.toThrow()
  })
})

describe('chunkBytes', () => {
  it.each([0, -1, 1.5, Number.NaN, '64k'])('refuses %s with ArgumentError', (chunkBytes) => {
    expect(() => webrtcTransport({ signaling, chunkBytes: chunkBytes as number })).toThrow(ArgumentError)
  })

  it('accepts a positive whole number (each link still keeps under what both ends take)', () => {
    expect(() => webrtcTransport({ signaling, chunkBytes: 16 * 1024 })).not.toThrow()
  })
})
