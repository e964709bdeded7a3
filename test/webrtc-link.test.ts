/**
 * WebrtcLink's handling of simple-peer's event order, with simple-peer replaced by a
 * scripted stand-in: real browsers deliver a peer's first messages before our own 'connect'
 * now and then (the demo showed "frame type 3 before Hello"), too rarely to test on the
 * real thing.
 */
import { describe, expect, it, vi } from 'vitest'
import { WebrtcLink, type WebrtcLinkEvents } from '../src/transport/webrtc-link.js'
import { splitFrame } from '../src/transport/chunking.js'

/** simple-peer stand-ins, as the link under test created them. */
interface Scripted {
  emit(event: string, ...args: unknown[]): boolean
}
// vi.mock is hoisted above the imports; so is vi.hoisted, which shares the list with it.
const peers = vi.hoisted(() => [] as Scripted[])

vi.mock('@thaunknown/simple-peer/lite.js', async () => {
  const { EventEmitter } = await import('node:events')
  class ScriptedPeer extends EventEmitter {
    constructor() {
      super()
      peers.push(this)
    }
    signal(): void {}
    write(): void {}
    destroy(): void {}
  }
  return { default: ScriptedPeer }
})

function link(): { link: WebrtcLink; peer: Scripted; log: string[] } {
  const log: string[] = []
  const events: WebrtcLinkEvents = {
    signal: () => undefined,
    opened: () => log.push('opened'),
    frame: (_, frame) => log.push(`frame ${Array.from(frame).join(',')}`),
    active: () => undefined,
    closed: (_, reason) => log.push(`closed ${reason}`),
  }
  const created = new WebrtcLink('far', {
    initiator: true, iceServers: [], iceTransportPolicy: 'all', maxFrameBytes: 1024, chunkBytes: 64, connectTimeout: 10_000,
  }, events)
  return { link: created, peer: peers.at(-1) as Scripted, log }
}

const message = (...bytes: number[]): Uint8Array => splitFrame(new Uint8Array(bytes), 64)[0] as Uint8Array

describe('WebrtcLink', () => {
  it('delivers messages that arrive before its own connect, in order, right after opening', () => {
    const { link: l, peer, log } = link()
    peer.emit('data', message(1))
    peer.emit('data', message(2))
    expect(log).toEqual([])
    peer.emit('connect')
    peer.emit('data', message(3))
    expect(log).toEqual(['opened', 'frame 1', 'frame 2', 'frame 3'])
    l.discard()
  })

  it('gives up on a peer that floods it before connecting', () => {
    const { peer, log } = link()
    for (let i = 0; i < 300; i++) peer.emit('data', message(i % 256))
    expect(log).toEqual(['closed too many messages before connect'])
  })
})
