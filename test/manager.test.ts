/**
 * The Manager (`node.manager`): the seed's three cases, 'no node' on disconnect, making and
 * keeping links on a network that does not link by itself (autoConnect: false), nodedown
 * moving a node back to absent (where the Elixir original crashes), one timer at most, and
 * backoff between reconcile rounds.
 */
import * as fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ArgumentError,
  NodeStoppedError,
  DuplicateNodeError,
  Manager,
  NoNodeError,
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type ManagerOptions,
  type MemoryNetwork,
  type Transport,
} from '../src/index.js'
import { cluster, nextEvent, until, type Cluster } from './helpers.js'

const stops: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const stop of stops.splice(0)) await settled(stop())
  vi.useRealTimers()
})

/**
 * Awaits `promise`; under fake timers, advances time until it settles (a graceful stop
 * waits for its peers to hang up, which takes the network's timers).
 */
async function settled<T>(promise: Promise<T>): Promise<T> {
  if (!vi.isFakeTimers()) return promise
  let done = false
  const watched = promise.finally(() => (done = true))
  for (let t = 0; t < 60_000 && !done; t++) await vi.advanceTimersByTimeAsync(1)
  return watched
}

async function start(ids: readonly string[], options: Parameters<typeof cluster>[1] = {}): Promise<Cluster> {
  const c = await cluster(ids, options)
  stops.push(() => c.stop())
  return c
}

/** A cluster on a network that links only when a Manager dials. */
function manual(ids: readonly string[]): Promise<Cluster> {
  return start(ids, { network: { autoConnect: false }, connected: false })
}

/** Asserts that `fn` throws an error of `type` and returns it. */
function thrown<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(type)
    return error as E
  }
  throw new Error(`expected ${type.name}`)
}

function lists(node: DistribunatorNode): { present: string[]; absent: string[] } {
  return { present: [...node.manager.present].sort(), absent: [...node.manager.absent].sort() }
}

/** The memory network's transport, recording every dial (session.connect) with its fake time. */
function dialLog(network: MemoryNetwork): { transport: Transport; dials: Array<{ from: string; to: string; at: number }> } {
  const dials: Array<{ from: string; to: string; at: number }> = []
  const inner = network.transport()
  return {
    dials,
    transport: {
      open(self, handlers) {
        const session = inner.open(self, handlers)
        return {
          connect: (nodeId) => {
            dials.push({ from: self.nodeId, to: nodeId, at: Date.now() })
            session.connect(nodeId)
          },
          close: () => session.close(),
        }
      },
    },
  }
}

/** Advances fake time in 1 ms steps until `condition` holds. */
async function advanceUntil(condition: () => boolean, limit = 10_000): Promise<void> {
  for (let t = 0; t < limit && !condition(); t++) await vi.advanceTimersByTimeAsync(1)
  expect(condition()).toBe(true)
}

describe("the seed's cases", () => {
  it('reconciling an empty list leaves the state unchanged', async () => {
    const [a] = (await start(['a'])).nodes as [DistribunatorNode]
    a.manager.reconcile()
    expect(lists(a)).toEqual({ present: [], absent: [] })
    a.manager.reconcile()
    expect(lists(a)).toEqual({ present: [], absent: [] })
  })

  it("connecting an already absent node gives 'duplicate node'", async () => {
    const [a] = (await manual(['a'])).nodes as [DistribunatorNode]
    a.manager.connect(['ghost'])
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    const error = thrown(() => a.manager.connect(['ghost']), DuplicateNodeError)
    expect(error.name).toBe('DuplicateNodeError')
    expect(error.reason).toBe('duplicate node')
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
  })

  it("connecting an already present node gives 'duplicate node'", async () => {
    const c = await start(['a', 'b'])
    const a = c.nodes[0] as DistribunatorNode
    a.manager.connect(['b'])
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
    const error = thrown(() => a.manager.connect('b'), DuplicateNodeError)
    expect(error.reason).toBe('duplicate node')
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
  })

  it('a list with one new and one known node is refused as a whole: nothing is added', async () => {
    const c = await start(['a', 'b', 'c'])
    const a = c.nodes[0] as DistribunatorNode
    a.manager.connect(['b', 'ghost'])
    expect(lists(a)).toEqual({ present: ['b'], absent: ['ghost'] })
    for (const list of [
      ['c', 'b'],
      ['new', 'ghost'],
      ['c', 'new', 'b'],
    ]) {
      const error = thrown(() => a.manager.connect(list), DuplicateNodeError)
      expect(error.reason).toBe('duplicate node')
      expect(lists(a)).toEqual({ present: ['b'], absent: ['ghost'] })
    }
  })
})

describe('disconnect', () => {
  it("of an unknown node gives 'no node' and changes nothing", async () => {
    const c = await start(['a', 'b'])
    const [a, b] = c.nodes as [DistribunatorNode, DistribunatorNode]
    a.manager.connect(['b', 'ghost'])
    for (const list of [['nobody'], ['b', 'nobody'], ['ghost', 'b', 'nobody']]) {
      const error = thrown(() => a.manager.disconnect(list), NoNodeError)
      expect(error.name).toBe('NoNodeError')
      expect(error.reason).toBe('no node')
      expect(lists(a)).toEqual({ present: ['b'], absent: ['ghost'] })
    }
    expect(a.nodes()).toEqual(['b'])
    expect(b.nodes()).toEqual(['a'])
  })

  it('of a present node closes the link (the other side sees nodedown) and forgets it', async () => {
    const c = await start(['a', 'b'])
    const [a, b] = c.nodes as [DistribunatorNode, DistribunatorNode]
    a.manager.connect(['b', 'ghost'])
    const bSees = nextEvent(b, 'nodedown')
    const aSees = nextEvent(a, 'nodedown')
    a.manager.disconnect(['b'])
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    expect((await bSees).node).toBe('a')
    expect((await aSees).node).toBe('b')
    expect(a.nodes()).toEqual([])
    expect(b.nodes()).toEqual([])
    expect(c.network.links()).toEqual([])
    // The nodedown does not bring it back as absent: the Manager no longer insists.
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    a.manager.disconnect('ghost')
    expect(lists(a)).toEqual({ present: [], absent: [] })
    // Forgotten nodes can be managed again.
    const up = nextEvent(a, 'nodeup')
    a.manager.connect('b')
    expect((await up).node).toBe('b')
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
  })
})

describe('connect on a network that does not link by itself', () => {
  it('connect makes the link: absent → present, nodeup on both sides', async () => {
    const c = await manual(['a', 'b'])
    const [a, b] = c.nodes as [DistribunatorNode, DistribunatorNode]
    expect(c.network.links()).toEqual([])
    const aUp = nextEvent(a, 'nodeup')
    const bUp = nextEvent(b, 'nodeup')
    a.manager.connect(['b'])
    expect(lists(a)).toEqual({ present: [], absent: ['b'] })
    expect((await aUp).node).toBe('b')
    expect((await bUp).node).toBe('a')
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
    expect(c.network.links()).toEqual([['a', 'b']])
  })

  it('startNode({ manager: { nodes } }) does the same from the start', async () => {
    const c = await manual(['b', 'c'])
    const a = await c.add('a', { manager: { nodes: ['b', 'c'] } })
    expect(lists(a)).toEqual({ present: [], absent: ['b', 'c'] })
    await until(() => a.manager.absent.length === 0)
    expect(lists(a)).toEqual({ present: ['b', 'c'], absent: [] })
    expect(a.nodes().sort()).toEqual(['b', 'c'])
    // Only a dialled: b and c are not linked to each other.
    expect(c.network.links()).toEqual([
      ['a', 'b'],
      ['a', 'c'],
    ])
  })
})

describe('nodedown (the Elixir original crashes here)', () => {
  it('a killed node goes back to absent, and a reconcile round brings its restart back', async () => {
    const c = await manual(['b'])
    const a = await c.add('a', { manager: { nodes: ['b'], reconcileInterval: 20 } })
    await until(() => a.manager.present.includes('b'))
    for (let round = 0; round < 3; round++) {
      const down = nextEvent(a, 'nodedown')
      c.network.kill('b')
      expect((await down).node).toBe('b')
      expect(lists(a)).toEqual({ present: [], absent: ['b'] })
      // The Manager keeps working.
      a.manager.connect(['x'])
      expect(lists(a)).toEqual({ present: [], absent: ['b', 'x'] })
      a.manager.disconnect(['x'])
      // With autoConnect false the restarted b does not dial: only the Manager's round can link it.
      const up = nextEvent(a, 'nodeup')
      const b = await c.add('b')
      expect((await up).node).toBe('b')
      expect(lists(a)).toEqual({ present: ['b'], absent: [] })
      expect(b.nodes()).toEqual(['a'])
    }
  })

  it('a gracefully stopped node goes back to absent too, and is linked again on restart', async () => {
    const c = await manual(['b'])
    const a = await c.add('a', { manager: { nodes: ['b'], reconcileInterval: 20 } })
    await until(() => a.manager.present.includes('b'))
    const down = nextEvent(a, 'nodedown')
    await (c.nodes[0] as DistribunatorNode).stop()
    expect(await down).toEqual({ node: 'b', reason: 'stop' })
    expect(lists(a)).toEqual({ present: [], absent: ['b'] })
    const up = nextEvent(a, 'nodeup')
    await c.add('b')
    expect((await up).node).toBe('b')
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
  })

  it('nodedown of an unmanaged node changes nothing', async () => {
    const c = await start(['a', 'b', 'c'])
    const a = c.nodes[0] as DistribunatorNode
    a.manager.connect(['b'])
    const down = nextEvent(a, 'nodedown')
    c.network.kill('c')
    expect((await down).node).toBe('c')
    expect(lists(a)).toEqual({ present: ['b'], absent: [] })
  })
})

describe('timers', () => {
  /**
   * The same cluster shape and the same steps, with a's Manager managing nodes (one of which
   * never exists) or idle. Returns vi.getTimerCount() at each checkpoint.
   */
  async function churn(managed: boolean): Promise<number[]> {
    const counts: number[] = []
    const checkpoint = (): void => {
      counts.push(vi.getTimerCount())
    }
    const c = await cluster(['b', 'c'], { connected: false })
    const manager: ManagerOptions = managed ? { nodes: ['b', 'c', 'ghost'], reconcileInterval: 100, maxReconcileInterval: 400 } : {}
    const a = await c.add('a', { manager })
    await vi.advanceTimersByTimeAsync(51)
    expect(a.nodes().sort()).toEqual(['b', 'c'])
    if (managed) expect(lists(a)).toEqual({ present: ['b', 'c'], absent: ['ghost'] })
    checkpoint()
    for (let i = 0; i < 6; i++) {
      c.network.kill('b')
      checkpoint()
      if (managed) for (let j = 0; j < 5; j++) a.manager.connect([`g${i}-${j}`])
      checkpoint()
      c.network.kill('c')
      checkpoint()
      await vi.advanceTimersByTimeAsync(251)
      if (managed) expect(lists(a).absent).toContain('b')
      checkpoint()
      await c.add('b')
      await c.add('c')
      checkpoint()
      await vi.advanceTimersByTimeAsync(37)
      expect(a.nodes().sort()).toEqual(['b', 'c'])
      if (managed) expect(lists(a).present).toEqual(['b', 'c'])
      checkpoint()
    }
    await settled(c.stop())
    checkpoint()
    return counts
  }

  it('many nodedowns and connects never leave more than one Manager timer pending', async () => {
    vi.useFakeTimers()
    const idleCounts = await churn(false)
    expect(vi.getTimerCount()).toBe(0)
    const managedCounts = await churn(true)
    expect(vi.getTimerCount()).toBe(0)
    expect(managedCounts).toHaveLength(idleCounts.length)
    // The Manager always has 'ghost' absent, so it holds exactly one timer, until stop.
    const extra = managedCounts.map((n, i) => n - (idleCounts[i] as number))
    expect(extra).toEqual([...Array<number>(extra.length - 1).fill(1), 0])
  })

  it('holds at most one timer under any sequence of operations (exactly one while a node is absent)', () => {
    vi.useFakeTimers()
    const ids = ['n1', 'n2', 'n3', 'n4']
    const op = fc.oneof(
      fc.record({ kind: fc.constant('connect' as const), nodes: fc.subarray(ids, { minLength: 1 }) }),
      fc.record({ kind: fc.constant('disconnect' as const), nodes: fc.subarray(ids, { minLength: 1 }) }),
      fc.record({ kind: fc.constantFrom('up' as const, 'down' as const), node: fc.constantFrom(...ids) }),
      fc.record({ kind: fc.constant('reconcile' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        vi.clearAllTimers()
        const up = new Set<string>()
        const manager = new Manager(
          { selfId: 'self', isUp: (n) => up.has(n), dial: () => undefined, hangUp: (n) => up.delete(n) },
          { reconcileInterval: 10, maxReconcileInterval: 160 },
        )
        for (const o of ops) {
          try {
            if (o.kind === 'connect') manager.connect(o.nodes)
            else if (o.kind === 'disconnect') manager.disconnect(o.nodes)
            else if (o.kind === 'up') {
              up.add(o.node)
              manager.nodeUp(o.node)
            } else if (o.kind === 'down') {
              up.delete(o.node)
              manager.nodeDown(o.node)
            } else if (o.kind === 'reconcile') manager.reconcile()
            else if (o.kind === 'advance') vi.advanceTimersByTime(o.ms)
          } catch (error) {
            if (!(error instanceof DuplicateNodeError || error instanceof NoNodeError)) throw error
          }
          const { present, absent } = manager
          expect(present.filter((n) => absent.includes(n))).toEqual([])
          expect(vi.getTimerCount()).toBeLessThanOrEqual(1)
          if (absent.length > 0) expect(vi.getTimerCount()).toBe(1)
        }
        manager.stop()
        expect(vi.getTimerCount()).toBe(0)
      }),
      { numRuns: 200 },
    )
  })

  it('backs off, doubling the interval up to maxReconcileInterval while a node stays absent', async () => {
    vi.useFakeTimers()
    const network = createMemoryNetwork({ autoConnect: false })
    const { transport, dials } = dialLog(network)
    const t0 = Date.now()
    const a = await startNode({
      room: 'test',
      nodeId: 'a',
      transport,
      manager: { nodes: ['ghost'], reconcileInterval: 100, maxReconcileInterval: 800 },
    })
    stops.push(() => a.stop())
    const offsets = (): number[] => dials.filter((d) => d.to === 'ghost').map((d) => d.at - t0)
    await vi.advanceTimersByTimeAsync(0)
    expect(offsets()).toEqual([0])
    await vi.advanceTimersByTimeAsync(5000)
    // Rounds at 0, then gaps 100, 200, 400, 800, 800...
    expect(offsets()).toEqual([0, 100, 300, 700, 1500, 2300, 3100, 3900, 4700])
    expect(vi.getTimerCount()).toBe(1)

    // ghost appears: the next round links it; then no more rounds.
    const ghost = await startNode({ room: 'test', nodeId: 'ghost', transport: network.transport() })
    stops.push(() => ghost.stop())
    await advanceUntil(() => a.manager.present.includes('ghost'))
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5500)
    expect(offsets().at(-1)).toBe(5500)
    const dialsWhenUp = dials.length
    await vi.advanceTimersByTimeAsync(10_000)
    expect(dials.length).toBe(dialsWhenUp)
    // No Manager round is pending: only the heartbeat of each of the two linked nodes.
    expect(vi.getTimerCount()).toBe(2)

    // A nodedown starts again from reconcileInterval (its first round one interval later,
    // not at once like connect), and backs off again.
    network.kill('ghost')
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    const t1 = Date.now()
    await vi.advanceTimersByTimeAsync(3201) // + 1: the dial of the round at 3200 runs on the next ms
    expect(dials.slice(dialsWhenUp).map((d) => d.at - t1)).toEqual([100, 200, 400, 800, 1600, 2400, 3200])

    // connect resets the backoff too: a round at once, then reconcileInterval.
    const t2 = Date.now()
    const before = dials.length
    // The Manager's pending round, plus each node's registry collection after the nodedown.
    const timers = vi.getTimerCount()
    a.manager.connect(['other'])
    await vi.advanceTimersByTimeAsync(350)
    expect(dials.slice(before).map((d) => [d.to, d.at - t2])).toEqual([
      ['ghost', 0],
      ['other', 0],
      ['ghost', 100],
      ['other', 100],
      ['ghost', 300],
      ['other', 300],
    ])
    expect(vi.getTimerCount()).toBe(timers)
  })

  it('schedules nothing after node.stop(): the timer count is back to the baseline', async () => {
    vi.useFakeTimers()
    const network = createMemoryNetwork({ autoConnect: false })
    const { transport, dials } = dialLog(network)
    const a = await startNode({ room: 'test', nodeId: 'a', transport, manager: { nodes: ['ghost', 'other'], reconcileInterval: 50 } })
    await vi.advanceTimersByTimeAsync(1000)
    expect(dials.length).toBeGreaterThan(2)
    expect(vi.getTimerCount()).toBe(1)
    await settled(a.stop())
    expect(vi.getTimerCount()).toBe(0)
    const dialsAtStop = dials.length
    a.manager.reconcile()
    a.manager.nodeDown('ghost')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(dials.length).toBe(dialsAtStop)
    expect(vi.getTimerCount()).toBe(0)
    thrown(() => a.manager.connect(['late']), NodeStoppedError)
    thrown(() => a.manager.disconnect(['ghost']), NodeStoppedError)
    expect(lists(a)).toEqual({ present: [], absent: ['ghost', 'other'] })
  })
})

describe('argument checks', () => {
  it.each([0, -1, -100, Number.NaN, Number.POSITIVE_INFINITY])('refuses reconcileInterval %s with ArgumentError', async (ms) => {
    await expect(startNode({ room: 'test', manager: { reconcileInterval: ms } })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startNode({ room: 'test', manager: { maxReconcileInterval: ms } })).rejects.toBeInstanceOf(ArgumentError)
  })

  it('refuses node ids that are not non-empty strings with ArgumentError, changing nothing', async () => {
    const [a] = (await manual(['a'])).nodes as [DistribunatorNode]
    a.manager.connect(['ghost'])
    const bad = [[''], [42], [null], [undefined], ['ok', ''], [{}]] as unknown as string[][]
    for (const list of bad) {
      thrown(() => a.manager.connect(list), ArgumentError)
      thrown(() => a.manager.disconnect(list), ArgumentError)
      expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    }
    thrown(() => a.manager.connect(''), ArgumentError)
    // A node cannot manage itself: the transport never links a node to itself.
    thrown(() => a.manager.connect(['a']), ArgumentError)
    thrown(() => a.manager.connect(['new', 'a']), ArgumentError)
    expect(lists(a)).toEqual({ present: [], absent: ['ghost'] })
    await expect(startNode({ room: 'test', nodeId: 'me', manager: { nodes: ['me'] } })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startNode({ room: 'test', manager: { nodes: [''] } })).rejects.toBeInstanceOf(ArgumentError)
    await expect(startNode({ room: 'test', manager: { nodes: [7] as unknown as string[] } })).rejects.toBeInstanceOf(ArgumentError)
  })
})
