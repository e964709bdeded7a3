/**
 * Lifecycle: `stop()` removes every listener, timer and connection; a stopped node refuses
 * to act; a graceful stop lets peers drop the node's names at once.
 *
 * The leak check runs on vitest's fake clock, where `vi.getTimerCount()` sees every timer
 * the library and the memory network hold; time only moves when the test moves it.
 */
import * as Y from 'yjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ArgumentError,
  GenServer,
  NodeDownError,
  NodeStoppedError,
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type DownEvent,
  type Pid,
  type WatchEvent,
} from '../src/index.js'
import { cluster, fullyConnected, recordUncaught, until, view } from './helpers.js'
import { RawPeer } from './raw-peer.js'

const uncaught = recordUncaught()
afterEach(() => {
  vi.useRealTimers()
  expect(uncaught).toEqual([])
})

/** Moves the fake clock 1 ms at a time until `condition` holds (at most `limit` ms). */
async function advanceUntil(condition: () => boolean, limit = 5000): Promise<void> {
  for (let elapsed = 0; !condition(); elapsed++) {
    if (elapsed >= limit) throw new Error(`condition not met after ${limit} fake ms`)
    await vi.advanceTimersByTimeAsync(1)
  }
}

/** Settles a promise while moving the fake clock. */
async function advanceThrough<T>(promise: Promise<T>, limit = 5000): Promise<T> {
  let done = false
  const settled = promise.finally(() => (done = true))
  settled.catch(() => undefined)
  await advanceUntil(() => done, limit)
  return settled
}

/** Listener counts of an observable (lib0 ObservableV2: nodes, Y.Docs). */
function listeners(observable: { _observers: Map<unknown, Set<unknown>> }): number {
  let count = 0
  for (const set of observable._observers.values()) count += set.size
  return count
}

/** A process that never answers calls and records how it ended. */
function hanging(terminated: unknown[]): object {
  return {
    handleCall: () => new Promise(() => undefined),
    terminate: (reason: unknown) => void terminated.push(reason),
  }
}

describe('stop()', () => {
  it('leaves no timer, listener or link behind, and fails what was pending', async () => {
    vi.useFakeTimers()
    const network = createMemoryNetwork({ latency: 1 })
    const start = (nodeId: string, extra: object = {}): Promise<DistribunatorNode> =>
      startNode({ room: 'test', nodeId, transport: network.transport(), registryGracePeriod: 60_000, callTimeout: 30_000, ...extra })
    // a's Manager keeps a node that never comes: its reconcile timer stays armed.
    const a = await start('a', { manager: { nodes: ['ghost'], reconcileInterval: 1000 } })
    const b = await start('b')
    const c = await start('c')
    const d = await start('d')
    const nodes = [a, b, c]
    await advanceUntil(() => [a, b, c, d].every((n) => n.nodes().length === 3))

    const terminated = new Map<string, unknown[]>()
    const servers = new Map<string, Pid>()
    const events = new Map<string, unknown[]>()
    for (const node of nodes) {
      const ends: unknown[] = []
      terminated.set(node.id, ends)
      const server = node.spawn(hanging(ends))
      servers.set(node.id, server)
      node.register('server', server)
      node.register(`server-${node.id}`, server)
      node.spawn({ terminate: (reason: unknown) => void ends.push(reason) })
      const seen: unknown[] = []
      events.set(node.id, seen)
      node.on('nodeup', (e) => seen.push(e))
      node.on('nodedown', (e) => seen.push(e))
      node.on('down', (e) => seen.push(e))
      node.on('error', (e) => seen.push(e))
      node.watch('*', (e) => seen.push(e))
      node.watch('server', (e) => seen.push(e))
    }
    await advanceUntil(() => nodes.every((n) => n.allPidsOf('server').length === 3))
    const server = (id: string): Pid => servers.get(id) as Pid

    // A node that went down: every survivor holds a GC timer for its names.
    d.register('server-d', d.spawn({}))
    await advanceUntil(() => nodes.every((n) => n.allPidsOf('server-d').length === 1))
    network.kill('d')
    await advanceUntil(() => nodes.every((n) => !n.nodes().includes('d')))
    await d.stop()

    // Monitors, local and remote, both ways.
    const monitors = [a.monitor(server('a')), a.monitor(server('b')), b.monitor(server('a')), c.monitor(server('b'))]
    const downs: DownEvent[] = []
    for (const monitor of monitors) void monitor.down.then((event) => downs.push(event))

    // Pending calls: local, remote, and from c to a.
    const calls = [a.call(server('a'), 'hang'), a.call(server('b'), 'hang'), c.call(server('a'), 'hang'), b.call('server-c', 'hang')]
    const outcomes = calls.map((call) =>
      call.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
    )

    // Shared app documents, synced.
    const docs = nodes.map(() => new Y.Doc())
    const baseline = docs.map(listeners)
    nodes.forEach((node, i) => node.share(docs[i] as Y.Doc, 'notes'))
    docs[0]?.getMap('m').set('k', 'v')
    await advanceUntil(() => docs.every((doc) => doc.getMap('m').get('k') === 'v'))
    await vi.advanceTimersByTimeAsync(5) // the calls and monitors reach their nodes

    expect(vi.getTimerCount()).toBeGreaterThan(0)
    expect(a.manager.absent).toEqual(['ghost'])

    await advanceThrough(Promise.all(nodes.map((node) => node.stop())))

    expect(vi.getTimerCount()).toBe(0)
    expect(network.nodes()).toEqual([])
    expect(network.links()).toEqual([])
    for (const node of [...nodes, d]) {
      expect(listeners(node as unknown as { _observers: Map<unknown, Set<unknown>> })).toBe(0)
      expect(node.nodes()).toEqual([])
    }
    expect(docs.map(listeners)).toEqual(baseline)
    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome).toBeInstanceOf(NodeStoppedError)
    }
    await advanceUntil(() => downs.length === monitors.length)
    expect(downs.map((e) => e.reason).sort()).toEqual(['noconnection', 'noconnection', 'noconnection', 'shutdown'])
    for (const id of ['a', 'b', 'c']) expect(terminated.get(id)).toEqual(['shutdown', 'shutdown'])
    // Nothing is reported after stop: the listeners are gone, and no event came late.
    const counts = nodes.map((n) => events.get(n.id)?.length)
    await vi.advanceTimersByTimeAsync(120_000)
    expect(nodes.map((n) => events.get(n.id)?.length)).toEqual(counts)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('makes every acting method throw NodeStoppedError; a second stop() is fine', async () => {
    const {
      nodes: [a, b],
    } = await cluster(['a', 'b'])
    if (a === undefined || b === undefined) throw new Error('cluster')
    const local = a.spawn({ handleCall: () => 'ok' })
    a.register('svc', local)
    const remote = b.spawn({ handleCall: () => 'ok' })
    a.expose('math', { add: (x: number, y: number) => x + y })
    await a.stop()
    await expect(a.stop()).resolves.toBeUndefined()

    class Service extends GenServer {
      static override serviceName = 'service'
    }
    const stopped = (act: () => unknown): void => {
      expect(act).toThrow(NodeStoppedError)
    }
    await expect(a.call(local, 'x')).rejects.toBeInstanceOf(NodeStoppedError)
    await expect(a.call(remote, 'x')).rejects.toBeInstanceOf(NodeStoppedError)
    await expect(a.call('svc', 'x')).rejects.toBeInstanceOf(NodeStoppedError)
    await expect(a.doNodeRpc('b', 'math', 'add', [1, 2])).rejects.toBeInstanceOf(NodeStoppedError)
    await expect(a.doNodeRpc('a', 'math', 'add', [1, 2])).rejects.toBeInstanceOf(NodeStoppedError)
    await expect(a.start(Service)).rejects.toBeInstanceOf(NodeStoppedError)
    stopped(() => a.cast(local, 'x'))
    stopped(() => a.cast(remote, 'x'))
    stopped(() => a.send(local, 'x'))
    stopped(() => a.register('svc', local))
    stopped(() => a.unregister('svc', local))
    stopped(() => a.spawn({}))
    stopped(() => a.exit(local))
    stopped(() => a.monitor(remote))
    stopped(() => a.share(new Y.Doc(), 'notes'))
    expect(a.nodes()).toEqual([])
    await until(() => b.nodes().length === 0)
    await b.stop()
  })
})

describe('a graceful stop', () => {
  it('lets peers drop its names at once, with reason stop, and delete its subtree', async () => {
    // A grace period far longer than the test: whatever is deleted was not collected by time.
    const c = await cluster(['a', 'b', 'c'], { node: { registryGracePeriod: 600_000 } })
    const [a, b, leaver] = c.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    for (const node of c.nodes) {
      const pid = node.spawn({ handleCall: () => new Promise(() => undefined) })
      node.register('svc', pid)
      node.register(`only-${node.id}`, pid)
      node.register('twice', pid)
      node.register('twice', pid)
    }
    await until(() => c.nodes.every((n) => n.allPidsOf('twice').length === 6))
    const leaverPids = leaver.allPidsOf('only-c')
    const before = view(a)

    const leaves: WatchEvent[] = []
    const nodedowns: { node: string; reason: string }[] = []
    for (const node of [a, b]) {
      node.watch('*', (e) => e.type === 'leave' && leaves.push(e))
      node.on('nodedown', (e) => nodedowns.push(e))
    }
    const pending = b.call(leaverPids[0] as Pid, 'hang', { timeout: 60_000 })
    pending.catch(() => undefined)
    const monitor = a.monitor(leaverPids[0] as Pid)
    await b.call(a.allPidsOf('only-a')[0] as Pid, 'x', { timeout: 50 }).catch(() => undefined)

    await leaver.stop()

    // By the time stop() resolved, the peers had the Bye and acted on it.
    expect(nodedowns.sort((x, y) => x.node.localeCompare(y.node))).toEqual([
      { node: 'c', reason: 'stop' },
      { node: 'c', reason: 'stop' },
    ])
    const expected = Object.fromEntries(
      Object.entries(before).flatMap(([name, pids]) => {
        const kept = pids.filter((p) => !p.startsWith('<c.'))
        return kept.length > 0 ? [[name, kept]] : []
      }),
    )
    expect(view(a)).toEqual(expected)
    expect(view(b)).toEqual(expected)
    expect(leaves.every((e) => e.pid.node === 'c' && e.reason === 'nodedown')).toBe(true)
    // svc, only-c, and 'twice' (one event with count 2) — on a and on b.
    expect(leaves).toHaveLength(2 * 3)
    expect(leaves.reduce((sum, e) => sum + e.count, 0)).toBe(2 * 4)
    await expect(pending).rejects.toBeInstanceOf(NodeDownError)
    expect((await monitor).reason).toBe('noconnection')

    // The subtree is gone from the document, not just hidden: a newcomer syncing with the
    // survivors receives no trace of c.
    const probe = new RawPeer(c.network, 'probe')
    try {
      await probe.join('a')
      await probe.join('b')
      const owners = probe.doc.getMap('owners')
      const hasOwner = (id: string): boolean => [...owners.keys()].some((key) => key.startsWith(`${id}@`))
      await probe.when(() => hasOwner('a') && hasOwner('b'))
      expect(hasOwner('c')).toBe(false)
    } finally {
      probe.close()
    }
    await c.stop()
  })

  it('runs terminate with shutdown for every process, GenServers too', async () => {
    const c = await cluster(['a', 'b'])
    const [a] = c.nodes as [DistribunatorNode]
    const reasons: unknown[] = []
    class Worker extends GenServer {
      static override serviceName = 'worker'
      override terminate(reason: unknown): void {
        reasons.push(['worker', reason])
      }
    }
    await a.start(Worker)
    a.spawn({ terminate: (reason: unknown) => void reasons.push(['plain', reason]) })
    a.spawn({ terminate: async (reason: unknown) => void reasons.push(['async', reason]) })
    const exited = a.spawn({ terminate: (reason: unknown) => void reasons.push(['exited', reason]) })
    a.exit(exited, 'earlier')
    await a.stop()
    expect(reasons).toEqual([
      ['exited', 'earlier'],
      ['worker', 'shutdown'],
      ['plain', 'shutdown'],
      ['async', 'shutdown'],
    ])
    await fullyConnected([c.nodes[1] as DistribunatorNode])
    await c.stop()
  })
})

describe('stop and start edge cases', () => {
  it('a startNode that throws leaves no Manager timer behind', async () => {
    vi.useFakeTimers()
    try {
      await expect(startNode({ room: 'r', manager: { nodes: ['b'] }, signaling: ['http://not-ws'] })).rejects.toBeInstanceOf(ArgumentError)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('stop() fails a pending local rpc, and a second stop() waits for the first', async () => {
    const network = createMemoryNetwork()
    const a = await startNode({ room: 'r', nodeId: 'a', transport: network.transport() })
    const b = await startNode({ room: 'r', nodeId: 'b', transport: network.transport() })
    await until(() => a.nodes().includes('b'))
    a.expose('slow', { never: () => new Promise(() => undefined) })
    const pending = expect(a.doNodeRpc('a', 'slow', 'never', [], { timeout: Number.POSITIVE_INFINITY })).rejects.toBeInstanceOf(
      NodeStoppedError,
    )
    let firstDone = false
    const first = a.stop().then(() => (firstDone = true))
    await a.stop()
    expect(firstDone).toBe(true)
    await first
    await pending
    await b.stop()
  })

  it('a local rpc validates its timeout like a remote one', async () => {
    const a = await startNode({ room: 'r', nodeId: 'a' })
    a.expose('m', { f: () => 1 })
    await expect(a.doNodeRpc('a', 'm', 'f', [], { timeout: 0 })).rejects.toBeInstanceOf(ArgumentError)
    await expect(a.doNodeRpc('a', 'm', 'f', [], { timeout: Number.NaN })).rejects.toBeInstanceOf(ArgumentError)
    expect(await a.doNodeRpc('a', 'm', 'f', [])).toBe(1)
    await a.stop()
  })

  it('unregister and exit refuse what is not a pid with ArgumentError', async () => {
    const a = await startNode({ room: 'r', nodeId: 'a' })
    expect(() => a.unregister('x', 'not a pid' as never)).toThrow(ArgumentError)
    expect(() => a.exit({ node: 'a' } as never)).toThrow(ArgumentError)
    await a.stop()
  })
})
