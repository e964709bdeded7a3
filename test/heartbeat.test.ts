/**
 * Failure detection by heartbeats: a peer that goes silent (crashed, frozen, laptop lid
 * closed) is declared down after the heartbeat timeout even though its link never closes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ArgumentError, createMemoryNetwork, startNode, type DistribunatorNode } from '../src/index.js'
import { Peers, type PeerHooks } from '../src/peers.js'
import { gatewayDown, type Link, type Route } from '../src/transport/transport.js'
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

/** Hooks of a Peers table under test that reports to no one. */
const ignored: PeerHooks = {
  identified: () => undefined,
  frame: () => undefined,
  down: () => undefined,
  replaced: () => undefined,
  switched: () => undefined,
  superseded: () => undefined,
  error: () => undefined,
}

const direct: Route = { kind: 'direct', transport: 'test' }

/**
 * A Peers table with an identified link to each node of `routes`, opened in that order and
 * driven by hand under fake timers; `hooks` stand in for its node's.
 */
function tableWithLinks(heartbeat: { interval: number; timeout: number }, routes: Record<string, Route>, hooks: Partial<PeerHooks> = {}) {
  const peers = new Peers({ nodeId: 'a', incarnation: 1, room: 'test' }, 1 << 20, heartbeat, { ...ignored, ...hooks })
  const links = Object.entries(routes).map(([nodeId, route]) => {
    const link = {
      remoteNodeId: nodeId,
      route,
      sent: [] as number[],
      closed: [] as string[],
      send: (bytes: Uint8Array) => void link.sent.push(decodeFrame(bytes, 1 << 20).type),
      close: (reason = 'closed') => {
        link.closed.push(reason)
        peers.transportHooks.linkClosed(link, reason)
      },
    }
    peers.transportHooks.linkOpened(link)
    peers.transportHooks.frameReceived(
      link,
      encodeFrame({ type: FrameType.Hello, version: PROTOCOL_VERSION, room: 'test', nodeId, incarnation: 1, maxFrameBytes: 1 << 20 }),
    )
    return link
  })
  return { peers, links }
}

/** A Peers table with one identified link. */
function tableWithLink(heartbeat: { interval: number; timeout: number }) {
  const { peers, links } = tableWithLinks(heartbeat, { b: direct })
  const link = links[0]!
  return { peers, link, closed: link.closed, sent: link.sent }
}

/**
 * Two Peers tables linked to each other, driven under fake timers: frames take `delay` ms,
 * and b's heartbeat rounds run `offset` ms after a's (two real nodes are never in step).
 */
function linkedTables(heartbeat: { interval: number; timeout: number }, { delay, offset }: { delay: number; offset: number }) {
  const ends = ['a', 'b'].map((nodeId) => {
    // What comes before this end has opened its link waits for it (a Hello would be lost).
    let waiting: Uint8Array[] | undefined = []
    const end = {
      nodeId,
      sent: [] as number[],
      closed: [] as string[],
      receive: (bytes: Uint8Array) => (waiting ? waiting.push(bytes) : end.peers.transportHooks.frameReceived(end.link, bytes)),
      open: () => {
        end.peers.transportHooks.linkOpened(end.link)
        const early = waiting ?? []
        waiting = undefined
        for (const bytes of early) end.receive(bytes)
      },
    } as {
      nodeId: string
      sent: number[]
      closed: string[]
      receive: (bytes: Uint8Array) => void
      open: () => void
      peers: Peers
      link: Link
    }
    end.peers = new Peers({ nodeId, incarnation: 1, room: 'test' }, 1 << 20, heartbeat, ignored)
    return end
  })
  const [a, b] = ends as [(typeof ends)[0], (typeof ends)[0]]
  for (const [end, other] of [
    [a, b],
    [b, a],
  ] as const) {
    end.link = {
      remoteNodeId: other.nodeId,
      route: direct,
      send: (bytes) => {
        end.sent.push(decodeFrame(bytes, 1 << 20).type)
        setTimeout(() => other.receive(bytes), delay)
      },
      close: (reason = 'closed') => {
        end.closed.push(reason)
        end.peers.transportHooks.linkClosed(end.link, reason)
      },
    }
  }
  a.open()
  vi.advanceTimersByTime(offset)
  b.open()
  return { a, b }
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

  it('pings a silent link every three quarters of an interval, and closes it within the timeout and a quarter interval', () => {
    vi.useFakeTimers()
    try {
      const { closed, sent } = tableWithLink({ interval: 100, timeout: 210 })
      const pings = (): number => sent.filter((type) => type === FrameType.Ping).length
      vi.advanceTimersByTime(74)
      expect(pings()).toBe(0)
      vi.advanceTimersByTime(1)
      expect(pings()).toBe(1)
      vi.advanceTimersByTime(124)
      expect(pings()).toBe(2)
      // Silent since its Hello at 0: past the timeout at 210, closed by the round at 225.
      vi.advanceTimersByTime(25)
      expect(closed).toEqual([])
      vi.advanceTimersByTime(1)
      expect(closed).toEqual(['heartbeat timeout'])
      expect(pings()).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('does not ping a link it hears from, except to measure the round trip every four intervals', () => {
    vi.useFakeTimers()
    try {
      const { peers, link, closed, sent } = tableWithLink({ interval: 100, timeout: 300 })
      const pings = (): number => sent.filter((type) => type === FrameType.Ping).length
      const pingedAt: number[] = []
      for (let ms = 10; ms <= 1000; ms += 10) {
        const before = pings()
        vi.advanceTimersByTime(10)
        if (pings() > before) pingedAt.push(ms)
        // The peer's own traffic, every 10 ms (a Pong: it asks for no answer).
        peers.transportHooks.frameReceived(link, encodeFrame({ type: FrameType.Pong, time: 0 }))
      }
      expect(closed).toEqual([])
      expect(pingedAt).toEqual([400, 800])
    } finally {
      vi.useRealTimers()
    }
  })

  it('two ends that both listen ping about half as often as one Ping each per interval, and both measure the round trip', () => {
    vi.useFakeTimers()
    try {
      const { a, b } = linkedTables({ interval: 100, timeout: 300 }, { delay: 2, offset: 10 })
      vi.advanceTimersByTime(2000)
      expect([a.closed, b.closed]).toEqual([[], []])
      const pings = [...a.sent, ...b.sent].filter((type) => type === FrameType.Ping).length
      // 20 intervals: 40 Pings when each end pings every interval.
      expect(pings).toBeGreaterThanOrEqual(18)
      expect(pings).toBeLessThanOrEqual(28)
      expect([a.peers.links()[0]?.rtt, b.peers.links()[0]?.rtt]).toEqual([4, 4])
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

  it('a tunnel whose gateway falls silent too waits for the gateway, even when checked first: its far node is not lost', () => {
    vi.useFakeTimers()
    try {
      const downs: string[] = []
      // The tunnel first: a link to its gateway that came up later is checked after it.
      const { peers, links } = tableWithLinks(
        { interval: 100, timeout: 300 },
        { b: { kind: 'tunnel', gateway: 'h' }, h: direct },
        {
          down: (peer, reason) => {
            downs.push(`${peer.nodeId}: ${reason}`)
            // As the node does: the gateway's going ends its tunnels, and another is asked for.
            if (peer.nodeId === 'h') peers.transportHooks.linkClosed(tunnel, gatewayDown('h'), true)
          },
        },
      )
      const [tunnel, gateway] = links as [Link, (typeof links)[0]]
      // Both silent from 0 (the gateway crashed): both past the timeout in the round at 325.
      vi.advanceTimersByTime(325)
      expect(gateway.closed).toEqual(['heartbeat timeout'])
      expect(downs).toEqual(['h: heartbeat timeout'])
      expect(peers.get('b')?.waiting).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })

  it('a tunnel whose gateway is heard from closes at its own timeout', () => {
    vi.useFakeTimers()
    try {
      const { peers, links } = tableWithLinks({ interval: 100, timeout: 300 }, { b: { kind: 'tunnel', gateway: 'h' }, h: direct })
      const [tunnel, gateway] = links as [(typeof links)[0], Link]
      for (let ms = 0; ms < 325; ms += 25) {
        vi.advanceTimersByTime(25)
        peers.transportHooks.frameReceived(gateway, encodeFrame({ type: FrameType.Pong, time: 0 }))
      }
      expect(tunnel.closed).toEqual(['heartbeat timeout'])
    } finally {
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
      // Then real silence: closed after the timeout (checked four times an interval).
      vi.advanceTimersByTime(400)
      expect(closed).toEqual(['heartbeat timeout'])
    } finally {
      vi.useRealTimers()
    }
  })
})
