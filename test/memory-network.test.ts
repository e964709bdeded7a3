import { afterEach, describe, expect, it, vi } from 'vitest'
import { ArgumentError } from '../src/errors.js'
import { createMemoryNetwork } from '../src/transport/memory.js'
import type { MemoryNetwork, MemoryNetworkOptions } from '../src/transport/memory.js'
import type { Link, TransportHooks, TransportSession } from '../src/transport/transport.js'

type Event = { type: 'open'; peer: string } | { type: 'frame'; peer: string; n: number } | { type: 'close'; peer: string; reason: string }

/** A raw endpoint whose handlers record every callback and check the contract's ordering rules. */
interface Recorder {
  readonly id: string
  readonly session: TransportSession
  readonly events: Event[]
  /** Links currently open, by remote node id. */
  readonly links: Map<string, Link>
  /** Frame numbers received, by remote node id. */
  readonly frames: Map<string, number[]>
  /** Broken contract rules seen so far; every test expects none. */
  readonly violations: string[]
  close(): void
}

const recorders: Recorder[] = []

function open(net: MemoryNetwork, id: string, incarnation = 1, extra: Partial<TransportHooks> = {}, room = 'test'): Recorder {
  const events: Event[] = []
  const links = new Map<string, Link>()
  const frames = new Map<string, number[]>()
  const violations: string[] = []
  const state = new Map<Link, 'opening' | 'open' | 'closed'>()
  let closed = false
  const check = (rule: boolean, what: string) => {
    if (!rule) violations.push(`${id}: ${what}`)
  }
  const handlers: TransportHooks = {
    linkOpened(link) {
      check(!closed, 'linkOpened after session.close()')
      check(!state.has(link), 'linkOpened twice')
      state.set(link, 'opening')
      links.set(link.remoteNodeId, link)
      events.push({ type: 'open', peer: link.remoteNodeId })
      extra.linkOpened?.(link)
      if (state.get(link) === 'opening') state.set(link, 'open')
    },
    frameReceived(link, frame) {
      check(!closed, 'frameReceived after session.close()')
      check(state.get(link) === 'open', `frameReceived on a link that is ${state.get(link) ?? 'unknown'}`)
      const n = decode(frame)
      events.push({ type: 'frame', peer: link.remoteNodeId, n })
      frames.set(link.remoteNodeId, [...(frames.get(link.remoteNodeId) ?? []), n])
      extra.frameReceived?.(link, frame)
    },
    linkClosed(link, reason) {
      check(state.has(link) && state.get(link) !== 'closed', 'linkClosed without an open link')
      state.set(link, 'closed')
      if (links.get(link.remoteNodeId) === link) links.delete(link.remoteNodeId)
      events.push({ type: 'close', peer: link.remoteNodeId, reason })
      extra.linkClosed?.(link, reason)
    },
  }
  const session = net.transport().open({ nodeId: id, incarnation, room }, handlers)
  const recorder: Recorder = {
    id,
    session,
    events,
    links,
    frames,
    violations,
    close() {
      session.close()
      closed = true
    },
  }
  recorders.push(recorder)
  return recorder
}

function encode(n: number): Uint8Array {
  const frame = new Uint8Array(4)
  new DataView(frame.buffer).setUint32(0, n)
  return frame
}

function decode(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0)
}

function closes(r: Recorder): { peer: string; reason: string }[] {
  return r.events.flatMap((e) => (e.type === 'close' ? [{ peer: e.peer, reason: e.reason }] : []))
}

function opens(r: Recorder): string[] {
  return r.events.flatMap((e) => (e.type === 'open' ? [e.peer] : [])).sort()
}

function linkTo(r: Recorder, peer: string): Link {
  const link = r.links.get(peer)
  if (!link) throw new Error(`${r.id} has no link to ${peer}`)
  return link
}

/** A small seeded PRNG (mulberry32), so jitter and loss runs are reproducible. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A fake-clock network: tests step time explicitly, so "nothing happened" is a real check. */
function fakeNetwork(options?: MemoryNetworkOptions): MemoryNetwork {
  vi.useFakeTimers()
  return createMemoryNetwork(options)
}

afterEach(() => {
  for (const r of recorders.splice(0)) {
    r.close()
    expect(r.violations).toEqual([])
  }
  if (vi.isFakeTimers()) expect(vi.getTimerCount()).toBe(0)
  vi.useRealTimers()
})

describe('memory network: discovery', () => {
  it('links every pair of three endpoints, asynchronously', async () => {
    const net = createMemoryNetwork()
    const rs = ['a', 'b', 'c'].map((id) => open(net, id))
    expect(rs.map((r) => r.events.length)).toEqual([0, 0, 0]) // never inside open()
    await vi.waitFor(() => expect(rs.map((r) => r.links.size)).toEqual([2, 2, 2]))
    expect(rs.map(opens)).toEqual([
      ['b', 'c'],
      ['a', 'c'],
      ['a', 'b'],
    ])
    expect(net.nodes()).toEqual(['a', 'b', 'c'])
    expect(net.links()).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'c'],
    ])
  })

  it('never links two endpoints of the same node id', async () => {
    const net = fakeNetwork()
    const old = open(net, 'a', 1)
    const restarted = open(net, 'a', 2)
    const b = open(net, 'b')
    await vi.runAllTimersAsync()
    expect(opens(old)).toEqual(['b'])
    expect(opens(restarted)).toEqual(['b'])
    expect(opens(b)).toEqual(['a', 'a'])
    expect(net.nodes()).toEqual(['a', 'b'])
    expect(net.links()).toEqual([['a', 'b']])
  })

  it('links only endpoints of the same room, even on connect()', async () => {
    const net = fakeNetwork()
    const a = open(net, 'a', 1, {}, 'red')
    const b = open(net, 'b', 1, {}, 'blue')
    const c = open(net, 'c', 1, {}, 'red')
    await vi.runAllTimersAsync()
    a.session.connect('b')
    b.session.connect('a')
    await vi.runAllTimersAsync()
    expect([opens(a), opens(b), opens(c)]).toEqual([['c'], [], ['a']])
    expect(net.nodes()).toEqual(['a', 'b', 'c'])
  })
})

describe('memory network: delivery', () => {
  it('keeps order per direction under jitter, both ways at once', async () => {
    const net = createMemoryNetwork({ latency: [0, 5], random: seeded(1) })
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.waitFor(() => expect([a.links.size, b.links.size]).toEqual([1, 1]))
    const count = 200
    const expected = Array.from({ length: count }, (_, i) => i)
    for (const n of expected) {
      linkTo(a, 'b').send(encode(n))
      linkTo(b, 'a').send(encode(n))
    }
    expect(a.frames.size + b.frames.size).toBe(0) // never inside send()
    await vi.waitFor(() => expect([b.frames.get('a')?.length, a.frames.get('b')?.length]).toEqual([count, count]))
    expect(b.frames.get('a')).toEqual(expected)
    expect(a.frames.get('b')).toEqual(expected)
  })

  it('retransmits "lost" frames: complete and in order despite loss', async () => {
    const net = createMemoryNetwork({ latency: [0, 3], loss: 0.3, retransmitDelay: 20, random: seeded(7) })
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.waitFor(() => expect(a.links.size).toBe(1))
    const expected = Array.from({ length: 200 }, (_, i) => i)
    for (const n of expected) linkTo(a, 'b').send(encode(n))
    await vi.waitFor(() => expect(b.frames.get('a')?.length).toBe(expected.length))
    expect(b.frames.get('a')).toEqual(expected)
  })

  it('holds later frames behind a retransmitted one (head-of-line blocking)', async () => {
    // Draws: frame 0 is lost (0.1 < 0.5), frames 1 and 2 are not.
    const draws = [0.1, 0.9, 0.9]
    const net = fakeNetwork({ latency: 10, loss: 0.5, retransmitDelay: 50, random: () => draws.shift() ?? 0.9 })
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.advanceTimersByTimeAsync(0)
    for (const n of [0, 1, 2]) linkTo(a, 'b').send(encode(n))
    await vi.advanceTimersByTimeAsync(59)
    expect(b.frames.get('a')).toBeUndefined() // frames 1 and 2 were due at 10 ms but wait
    await vi.advanceTimersByTimeAsync(1)
    expect(b.frames.get('a')).toEqual([0, 1, 2])
  })

  it('applies a fixed latency exactly', async () => {
    const net = fakeNetwork({ latency: 30 })
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.advanceTimersByTimeAsync(0)
    linkTo(a, 'b').send(encode(1))
    await vi.advanceTimersByTimeAsync(29)
    expect(b.frames.get('a')).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(b.frames.get('a')).toEqual([1])
  })

  it('copies frames on send, also from a Node Buffer', async () => {
    const net = fakeNetwork()
    const a = open(net, 'a')
    const received: Uint8Array[] = []
    open(net, 'b', 1, { frameReceived: (_link, frame) => received.push(frame) })
    await vi.runAllTimersAsync()
    const plain = encode(1)
    const buffer = Buffer.from(encode(2))
    linkTo(a, 'b').send(plain)
    linkTo(a, 'b').send(buffer)
    plain.fill(0xff)
    buffer.fill(0xff)
    await vi.runAllTimersAsync()
    expect(received.map(decode)).toEqual([1, 2])
    expect(received[0]).not.toBe(plain)
  })

  it('delivers a frame sent from linkOpened only after the peer saw linkOpened', async () => {
    const net = fakeNetwork()
    // Whichever side is reported first greets the other at once; the recorder checks the order.
    const greet = { linkOpened: (link: Link) => link.send(encode(42)) }
    const a = open(net, 'a', 1, greet)
    const b = open(net, 'b', 1, greet)
    await vi.runAllTimersAsync()
    expect([a.frames.get('b'), b.frames.get('a')]).toEqual([[42], [42]])
  })
})

describe('memory network: partition and heal', () => {
  it('closes links across the cut with reason partition, and drops frames in flight', async () => {
    const net = fakeNetwork({ latency: 10 })
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => open(net, id)) as [Recorder, Recorder, Recorder, Recorder]
    await vi.runAllTimersAsync()
    linkTo(a, 'c').send(encode(1))
    linkTo(a, 'b').send(encode(2))
    net.partition(['a', 'b'], ['c', 'd'])
    expect(closes(a)).toEqual([
      { peer: 'c', reason: 'partition' },
      { peer: 'd', reason: 'partition' },
    ])
    expect(closes(c).map((e) => e.peer)).toEqual(['a', 'b'])
    expect(closes(c).every((e) => e.reason === 'partition')).toBe(true)
    expect(net.links()).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ])
    await vi.runAllTimersAsync()
    expect(c.frames.get('a')).toBeUndefined() // dropped with the link
    expect(b.frames.get('a')).toEqual([2]) // the link inside a group is untouched
    a.session.connect('c')
    c.session.connect('a')
    await vi.runAllTimersAsync()
    expect(net.links()).toHaveLength(2)
    expect(d.links.has('a')).toBe(false)
  })

  it('cuts only the listed pairs: a|b, and c still sees both', async () => {
    const net = fakeNetwork()
    const [a, b, c] = ['a', 'b', 'c'].map((id) => open(net, id)) as [Recorder, Recorder, Recorder]
    await vi.runAllTimersAsync()
    net.partition(['a'], ['b'])
    expect(closes(a)).toEqual([{ peer: 'b', reason: 'partition' }])
    expect(closes(b)).toEqual([{ peer: 'a', reason: 'partition' }])
    expect(closes(c)).toEqual([])
    expect(net.links()).toEqual([
      ['a', 'c'],
      ['b', 'c'],
    ])
  })

  it('is cumulative, applies to new incarnations, and ignores an empty partition', async () => {
    const net = fakeNetwork()
    open(net, 'a')
    open(net, 'b')
    open(net, 'c')
    await vi.runAllTimersAsync()
    net.partition()
    net.partition(['a'])
    expect(net.links()).toHaveLength(3)
    net.partition(['a'], ['b'])
    net.partition(['a'], ['c'])
    expect(net.links()).toEqual([['b', 'c']])
    net.kill('a')
    open(net, 'a', 2)
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([['b', 'c']])
  })

  it('heal relinks every reachable pair', async () => {
    const net = createMemoryNetwork()
    const [a, b, c] = ['a', 'b', 'c'].map((id) => open(net, id)) as [Recorder, Recorder, Recorder]
    await vi.waitFor(() => expect(net.links()).toHaveLength(3))
    net.partition(['a'], ['b', 'c'])
    expect(net.links()).toEqual([['b', 'c']])
    net.heal()
    await vi.waitFor(() => expect(net.links()).toHaveLength(3))
    expect([opens(a), opens(b), opens(c)]).toEqual([
      ['b', 'b', 'c', 'c'],
      ['a', 'a', 'c'],
      ['a', 'a', 'b'],
    ])
    linkTo(a, 'b').send(encode(5))
    await vi.waitFor(() => expect(b.frames.get('a')).toEqual([5]))
  })
})

describe('memory network: kill and restart', () => {
  it('closes the node links with reason killed; the dead endpoint never links again', async () => {
    const net = fakeNetwork()
    const [a, b, c] = ['a', 'b', 'c'].map((id) => open(net, id)) as [Recorder, Recorder, Recorder]
    await vi.runAllTimersAsync()
    const stale = linkTo(b, 'a')
    net.kill('b')
    expect(closes(a)).toEqual([{ peer: 'b', reason: 'killed' }])
    expect(closes(c)).toEqual([{ peer: 'b', reason: 'killed' }])
    expect(closes(b)).toEqual([
      { peer: 'a', reason: 'killed' },
      { peer: 'c', reason: 'killed' },
    ])
    expect(net.nodes()).toEqual(['a', 'c'])
    expect(() => stale.send(encode(1))).not.toThrow()
    b.session.connect('a')
    a.session.connect('b')
    net.heal()
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([['a', 'c']])
    expect(a.frames.size).toBe(0)
    expect(opens(b)).toEqual(['a', 'c'])
  })

  it('a restart with the same node id is a fresh endpoint that links', async () => {
    const net = fakeNetwork()
    const a = open(net, 'a')
    open(net, 'b', 1)
    await vi.runAllTimersAsync()
    net.kill('b')
    const b2 = open(net, 'b', 2)
    await vi.runAllTimersAsync()
    expect(opens(b2)).toEqual(['a'])
    expect(opens(a)).toEqual(['b', 'b'])
    linkTo(b2, 'a').send(encode(9))
    await vi.runAllTimersAsync()
    expect(a.frames.get('b')).toEqual([9])
  })

  it('ignores a kill of an unknown node', () => {
    const net = createMemoryNetwork()
    expect(() => net.kill('nobody')).not.toThrow()
  })
})

describe('memory network: autoConnect false', () => {
  it('links only on connect(), to a known reachable other node', async () => {
    const net = fakeNetwork({ autoConnect: false })
    const a = open(net, 'a')
    const b = open(net, 'b')
    open(net, 'c')
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([])
    a.session.connect('a')
    a.session.connect('nobody')
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([])
    a.session.connect('b')
    expect(a.events).toEqual([]) // fire and forget: reported later
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([['a', 'b']])
    expect([opens(a), opens(b)]).toEqual([['b'], ['a']])
    a.session.connect('b') // already linked: no second link
    await vi.runAllTimersAsync()
    expect([opens(a), opens(b)]).toEqual([['b'], ['a']])
    net.partition(['a'], ['b'])
    net.heal() // no autoConnect: heal only lifts the cut
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([])
    b.session.connect('a')
    await vi.runAllTimersAsync()
    expect(net.links()).toEqual([['a', 'b']])
  })
})

describe('memory network: closing', () => {
  it('link.close(reason) reports the reason once to both sides; send after close is a no-op', async () => {
    const net = fakeNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.runAllTimersAsync()
    const link = linkTo(a, 'b')
    link.send(encode(1))
    link.close('bye')
    link.close('again')
    expect(() => link.send(encode(2))).not.toThrow()
    await vi.runAllTimersAsync()
    expect(closes(a)).toEqual([{ peer: 'b', reason: 'bye' }])
    expect(closes(b)).toEqual([{ peer: 'a', reason: 'bye' }])
    expect(b.frames.size).toBe(0)
    expect(net.links()).toEqual([])
  })

  it("link.close() defaults the reason to 'closed'", async () => {
    const net = fakeNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.runAllTimersAsync()
    linkTo(b, 'a').close()
    expect([closes(a), closes(b)]).toEqual([[{ peer: 'b', reason: 'closed' }], [{ peer: 'a', reason: 'closed' }]])
  })

  it('session.close() closes every link on both sides and nothing arrives afterwards', async () => {
    const net = fakeNetwork({ latency: 10 })
    const [a, b, c] = ['a', 'b', 'c'].map((id) => open(net, id)) as [Recorder, Recorder, Recorder]
    await vi.runAllTimersAsync()
    linkTo(b, 'a').send(encode(1))
    linkTo(a, 'b').send(encode(2))
    a.close()
    expect(closes(a)).toEqual([
      { peer: 'b', reason: 'closed' },
      { peer: 'c', reason: 'closed' },
    ])
    expect(closes(b)).toEqual([{ peer: 'a', reason: 'closed' }])
    const seen = a.events.length
    a.session.connect('b')
    a.session.close()
    net.heal()
    await vi.runAllTimersAsync()
    expect(a.events).toHaveLength(seen)
    expect(b.frames.size).toBe(0)
    expect(net.nodes()).toEqual(['b', 'c'])
    expect(net.links()).toEqual([['b', 'c']])
    expect(closes(c)).toEqual([{ peer: 'a', reason: 'closed' }])
  })

  it('a link closed inside linkOpened is never reported to the other side', async () => {
    const net = fakeNetwork({ autoConnect: false })
    const a = open(net, 'a', 1, { linkOpened: (link) => link.close('changed my mind') })
    const b = open(net, 'b')
    a.session.connect('b') // a dials, so a is told first
    await vi.runAllTimersAsync()
    expect(closes(a)).toEqual([{ peer: 'b', reason: 'changed my mind' }])
    expect(b.events).toEqual([])
    expect(net.links()).toEqual([])
  })

  it('stops delivering the rest of a batch when a handler closes the link', async () => {
    const net = fakeNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b', 1, { frameReceived: (link) => link.close('enough') })
    await vi.runAllTimersAsync()
    for (const n of [1, 2, 3]) linkTo(a, 'b').send(encode(n))
    await vi.runAllTimersAsync()
    expect(b.frames.get('a')).toEqual([1])
    expect(closes(a)).toEqual([{ peer: 'b', reason: 'enough' }])
  })
})

describe('memory network: options', () => {
  it.each<[string, MemoryNetworkOptions]>([
    ['negative latency', { latency: -1 }],
    ['NaN latency', { latency: Number.NaN }],
    ['infinite latency', { latency: Number.POSITIVE_INFINITY }],
    ['inverted jitter range', { latency: [5, 1] }],
    ['negative jitter bound', { latency: [-1, 2] }],
    ['loss above 1', { loss: 1.5 }],
    ['negative loss', { loss: -0.1 }],
    ['NaN loss', { loss: Number.NaN }],
    ['negative retransmitDelay', { retransmitDelay: -1 }],
  ])('rejects %s with ArgumentError', (_name, options) => {
    expect(() => createMemoryNetwork(options)).toThrow(ArgumentError)
  })

  it('accepts the edges of each range', () => {
    expect(() => createMemoryNetwork({ latency: [3, 3], loss: 1, retransmitDelay: 0 })).not.toThrow()
    expect(() => createMemoryNetwork({ latency: 0, loss: 0 })).not.toThrow()
  })

  it('rejects an empty node id', () => {
    const net = createMemoryNetwork()
    const noop = () => {}
    const handlers = { linkOpened: noop, frameReceived: noop, linkClosed: noop }
    expect(() => net.transport().open({ nodeId: '', incarnation: 1, room: 'test' }, handlers)).toThrow(ArgumentError)
  })
})

describe('memory network: lifecycle', () => {
  it('leaves no timer once every session has closed, even with frames and dials pending', async () => {
    const net = fakeNetwork({ latency: [5, 20], loss: 0.5, random: seeded(3) })
    const rs = ['a', 'b', 'c', 'd'].map((id) => open(net, id))
    await vi.runAllTimersAsync()
    for (const r of rs) for (const link of r.links.values()) for (let n = 0; n < 20; n++) link.send(encode(n))
    const late = open(net, 'e') // its discovery is still pending at close
    net.partition(['a'], ['b'])
    net.heal()
    expect(vi.getTimerCount()).toBeGreaterThan(0)
    net.kill('c')
    for (const r of [...rs, late]) r.close()
    expect(vi.getTimerCount()).toBe(0)
    expect(net.nodes()).toEqual([])
    expect(net.links()).toEqual([])
  })

  it('goes idle by itself once every frame is delivered', async () => {
    const net = fakeNetwork({ latency: [1, 4], random: seeded(5) })
    const a = open(net, 'a')
    const b = open(net, 'b')
    await vi.runAllTimersAsync()
    for (let n = 0; n < 50; n++) linkTo(a, 'b').send(encode(n))
    await vi.waitFor(() => expect(b.frames.get('a')).toHaveLength(50))
    expect(vi.getTimerCount()).toBe(0)
  })
})
