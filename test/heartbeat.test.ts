/**
 * Failure detection by heartbeats: a peer that goes silent (crashed, frozen, laptop lid
 * closed) is declared down after the heartbeat timeout even though its link never closes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ArgumentError, createMemoryNetwork, startNode, type DistribunatorNode } from '../src/index.js'
import { Peers } from '../src/peers.js'
import type { Link } from '../src/transport/transport.js'
import { FrameType, PROTOCOL_VERSION, decodeFrame, encodeFrame } from '../src/wire.js'
import { nextEvent, until } from './helpers.js'
import { RawPeer } from './raw-peer.js'

const stops: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
})

async function nodeWithRawPeer(options: {
  heartbeatInterval: number
  heartbeatTimeout: number
}): Promise<{ node: DistribunatorNode; raw: RawPeer }> {
  const network = createMemoryNetwork()
  // The raw peer never hangs up after Bye: a short stopTimeout keeps stop() quick.
  const node = await startNode({ room: 'test', nodeId: 'a', transport: network.transport(), stopTimeout: 20, ...options })
  stops.push(() => node.stop())
  const raw = new RawPeer(network, 'silent')
  stops.push(() => raw.close())
  await raw.join('a')
  await until(() => node.nodes().includes('silent'))
  return { node, raw }
}

/** A Peers table with one identified link, driven by hand under fake timers. */
function tableWithLink(heartbeat: { interval: number; timeout: number }) {
  const closed: string[] = []
  const sent: number[] = []
  const link: Link = {
    remoteNodeId: 'b',
    route: { kind: 'direct', transport: 'test' },
    send: (bytes) => void sent.push(decodeFrame(bytes, 1 << 20).type),
    close: (reason = 'closed') => {
      closed.push(reason)
      peers.transportHooks.linkClosed(link, reason)
    },
  }
  const peers = new Peers({ nodeId: 'a', incarnation: 1, room: 'test' }, 1 << 20, heartbeat, {
    identified: () => undefined,
    frame: () => undefined,
    down: () => undefined,
    replaced: () => undefined,
    switched: () => undefined,
    superseded: () => undefined,
    error: () => undefined,
  })
  peers.transportHooks.linkOpened(link)
  peers.transportHooks.frameReceived(
    link,
    encodeFrame({ type: FrameType.Hello, version: PROTOCOL_VERSION, room: 'test', nodeId: 'b', incarnation: 1, maxFrameBytes: 1 << 20 }),
  )
  return { peers, link, closed, sent }
}

describe('heartbeats', () => {
  it('pings every linked peer, and answers pings with pongs', async () => {
    const { raw } = await nodeWithRawPeer({ heartbeatInterval: 10, heartbeatTimeout: 1000 })
    const ping = await raw.expectFrame('a', (f) => f.type === FrameType.Ping)
    raw.sendFrame('a', { type: FrameType.Ping, time: 42 })
    const pong = await raw.expectFrame('a', (f) => f.type === FrameType.Pong)
    expect(pong).toEqual({ type: FrameType.Pong, time: 42 })
    expect(ping.type).toBe(FrameType.Ping)
  })

  it('declares a silent peer down after the timeout, with reason heartbeat timeout', async () => {
    const { node, raw } = await nodeWithRawPeer({ heartbeatInterval: 10, heartbeatTimeout: 60 })
    const started = performance.now()
    // The raw peer never answers: its link stays open, but nothing comes from it.
    const down = await nextEvent(node, 'nodedown')
    const elapsed = performance.now() - started
    expect(down).toEqual({ node: 'silent', reason: 'heartbeat timeout' })
    expect(elapsed).toBeGreaterThanOrEqual(50)
    expect(node.nodes()).toEqual([])
    expect(raw.closed.map((c) => c.reason)).toEqual(['heartbeat timeout'])
  })

  it('keeps a peer that only sends heartbeats', async () => {
    const { node, raw } = await nodeWithRawPeer({ heartbeatInterval: 10, heartbeatTimeout: 60 })
    let downs = 0
    node.on('nodedown', () => downs++)
    // Answer like a live peer for several timeouts' worth of pings.
    for (let i = 0; i < 30; i++) {
      const seen = raw.from('a').filter((f) => f.type === FrameType.Ping).length
      await raw.when(() => raw.from('a').filter((f) => f.type === FrameType.Ping).length > seen)
      raw.sendFrame('a', { type: FrameType.Ping, time: i })
    }
    expect(downs).toBe(0)
    expect(node.nodes()).toEqual(['silent'])
  })

  it('a node whose own event loop stalled (a hidden tab, a long task) declares no one down for it', async () => {
    const network = createMemoryNetwork()
    const options = { room: 'test', transport: network.transport(), heartbeatInterval: 20, heartbeatTimeout: 60 }
    const a = await startNode({ ...options, nodeId: 'a' })
    const b = await startNode({ ...options, nodeId: 'b', transport: network.transport() })
    stops.push(
      () => a.stop(),
      () => b.stop(),
    )
    await until(() => a.nodes().includes('b') && b.nodes().includes('a'))
    const downs: string[] = []
    for (const n of [a, b]) n.on('nodedown', ({ node, reason }) => downs.push(`${node}: ${reason}`))
    // Five timeouts without running a single timer, then several rounds on time.
    const stallEnd = performance.now() + 300
    while (performance.now() < stallEnd) {
      /* the stall */
    }
    await until(() => performance.now() > stallEnd + 10 * 20)
    expect(downs).toEqual([])
    expect(a.nodes()).toEqual(['b'])
  })

  it('pings once per interval, and closes a silent link within the timeout and half an interval', () => {
    vi.useFakeTimers()
    try {
      const { closed, sent } = tableWithLink({ interval: 100, timeout: 210 })
      const pings = (): number => sent.filter((type) => type === FrameType.Ping).length
      vi.advanceTimersByTime(199)
      expect(pings()).toBe(1)
      // Silent since its Hello at 0: past the timeout at 210, closed by the check at 250.
      vi.advanceTimersByTime(50)
      expect(closed).toEqual([])
      vi.advanceTimersByTime(1)
      expect(closed).toEqual(['heartbeat timeout'])
      expect(pings()).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('with timers throttled to once a second (a hidden tab), every round pings, and a peer that answers stays', () => {
    // The heartbeat timer, run by hand once a second on a fake clock.
    let round: (() => void) | undefined
    vi.useFakeTimers({ toFake: ['performance'] })
    vi.stubGlobal('setInterval', (callback: () => void) => {
      round = callback
      return 0
    })
    try {
      const { peers, link, closed, sent } = tableWithLink({ interval: 500, timeout: 1500 })
      const pings = (): number => sent.filter((type) => type === FrameType.Ping).length
      for (let second = 1; second <= 10; second++) {
        vi.advanceTimersByTime(1000)
        const before = pings()
        round!()
        expect(pings(), `second ${second}`).toBe(before + 1)
        // The peer, throttled alike, answers the Ping when it runs.
        peers.transportHooks.frameReceived(link, encodeFrame({ type: FrameType.Pong, time: 0 }))
      }
      expect(closed).toEqual([])
    } finally {
      vi.unstubAllGlobals()
      vi.useRealTimers()
    }
  })

  it('refuses a timeout not longer than the interval', async () => {
    await expect(startNode({ room: 'r', heartbeatInterval: 500, heartbeatTimeout: 500 })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startNode({ room: 'r', heartbeatInterval: 0 })).rejects.toBeInstanceOf(ArgumentError)
  })
})

describe('handshake deadline', () => {
  it('closes a link that sends junk but never a Hello, after the heartbeat timeout', async () => {
    const network = createMemoryNetwork()
    const node = await startNode({
      room: 'test',
      nodeId: 'a',
      transport: network.transport(),
      heartbeatInterval: 10,
      heartbeatTimeout: 60,
      stopTimeout: 20,
    })
    stops.push(() => node.stop())
    const raw = new RawPeer(network, 'junk')
    stops.push(() => raw.close())
    await raw.link('a')
    const errors: string[] = []
    node.on('error', (e) => errors.push(e.name))
    // Junk keeps flowing, so a node that counted it as life would never close the link.
    const timer = setInterval(() => raw.send('a', new Uint8Array([0xc1])), 5)
    stops.push(() => clearInterval(timer))
    await raw.when(() => raw.closed.length === 1)
    expect(raw.closed).toEqual([{ node: 'a', reason: 'heartbeat timeout' }])
    expect(errors.length).toBeGreaterThan(0)
    expect(node.nodes()).toEqual([])
  })
})

describe('long frames', () => {
  it('pieces of a frame still arriving keep the link alive past the timeout', () => {
    vi.useFakeTimers()
    try {
      const { peers, link, closed } = tableWithLink({ interval: 100, timeout: 250 })
      // One long frame: pieces for 2 s, no whole frame (so no Pong) in between.
      for (let t = 0; t < 2000; t += 50) {
        vi.advanceTimersByTime(50)
        peers.transportHooks.linkActive?.(link)
      }
      expect(closed).toEqual([])
      // Then real silence: closed after the timeout (checked once per interval).
      vi.advanceTimersByTime(400)
      expect(closed).toEqual(['heartbeat timeout'])
    } finally {
      vi.useRealTimers()
    }
  })
})
