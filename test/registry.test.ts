/**
 * The registry on a converged cluster, after OTP's pg_SUITE: counted joins, the owner
 * check, late joiners, process exit, watch events, and lookups that agree across nodes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ArgumentError, GenServer, NotLocalError, NoProcError, type Pid, type WatchEvent } from '../src/index.js'
import { cluster, idle, pidsOf, until, view, type Cluster } from './helpers.js'

let running: Cluster | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

async function start(ids: string[]): Promise<Cluster> {
  running = await cluster(ids)
  return running
}

/** Printable events: "join name <pid> reason". */
function record(events: string[]) {
  return (e: WatchEvent) => events.push(`${e.type} ${e.name} ${e.pid} ${e.reason}`)
}

describe('single node (pg_SUITE single)', () => {
  it('counts joins: twice listed twice, each unregister removes one', async () => {
    const {
      nodes: [a],
    } = await start(['a'])
    const pid = idle(a!)
    a!.register('g', pid)
    a!.register('g', pid)
    expect(a!.allPidsOf('g')).toEqual([pid, pid])
    expect(a!.unregister('g', pid)).toBe('ok')
    expect(a!.allPidsOf('g')).toEqual([pid])
    expect(a!.unregister('g', pid)).toBe('ok')
    expect(a!.allPidsOf('g')).toEqual([])
    expect(a!.unregister('g', pid)).toBe('not_joined')
    expect(a!.registry().has('g')).toBe(false)
  })

  it('lists names in registry() only while non-empty, and a pid under several names', async () => {
    const {
      nodes: [a],
    } = await start(['a'])
    const p1 = idle(a!)
    const p2 = idle(a!)
    a!.register('x', p1)
    a!.register('y', p1)
    a!.register('y', p2)
    expect(view(a!)).toEqual({ x: [String(p1)], y: [String(p1), String(p2)] })
  })
})

describe('owner check', () => {
  it('refuses to register a pid of another node, and a dead local pid', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const remote = idle(b!)
    expect(() => a!.register('g', remote)).toThrow(NotLocalError)
    expect(() => a!.unregister('g', remote)).toThrow(NotLocalError)
    const dead = idle(a!)
    a!.exit(dead)
    expect(() => a!.register('g', dead)).toThrow(NoProcError)
    expect(a!.registry().size).toBe(0)
    expect(b!.registry().size).toBe(0)
  })
})

describe('replication', () => {
  it('shows a remote registration on every node, with the join reason', async () => {
    const {
      nodes: [a, b, c],
    } = await start(['a', 'b', 'c'])
    const events: string[] = []
    c!.watch('g', record(events))
    const pid = idle(a!)
    a!.register('g', pid)
    await until(() => pidsOf(b!, 'g').length === 1 && pidsOf(c!, 'g').length === 1)
    expect(b!.allPidsOf('g')[0]!.equals(pid)).toBe(true)
    expect(events).toEqual([`join g ${pid} register`])
  })

  it('a late joiner sees the names registered before it came', async () => {
    const c = await start(['a', 'b'])
    const [a, b] = c.nodes
    const pa = idle(a!)
    const pb = idle(b!)
    a!.register('g', pa)
    b!.register('g', pb)
    b!.register('h', pb)
    await until(() => pidsOf(a!, 'g').length === 2)
    const late = await c.add('late')
    await until(() => late.nodes().length === 2)
    expect(view(late)).toEqual(view(a!))
    expect(view(late)).toEqual({ g: [String(pa), String(pb)], h: [String(pb)] })
  })

  it('a process exit removes all its names everywhere in one go, reason exit', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const pid = idle(a!)
    const keep = idle(a!)
    for (const name of ['x', 'y', 'z']) a!.register(name, pid)
    a!.register('x', keep)
    await until(() => pidsOf(b!, 'x').length === 2 && pidsOf(b!, 'z').length === 1)
    const events: string[] = []
    b!.watch('*', record(events))
    a!.exit(pid, 'done')
    expect(view(a!)).toEqual({ x: [String(keep)] })
    await until(() => events.length === 3)
    expect(events.sort()).toEqual([`leave x ${pid} exit`, `leave y ${pid} exit`, `leave z ${pid} exit`])
    expect(view(b!)).toEqual({ x: [String(keep)] })
  })

  it('an unregister travels with reason unregister', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const pid = idle(a!)
    a!.register('g', pid)
    await until(() => pidsOf(b!, 'g').length === 1)
    const events: string[] = []
    b!.watch('g', record(events))
    a!.unregister('g', pid)
    await until(() => events.length === 1)
    expect(events).toEqual([`leave g ${pid} unregister`])
  })

  it('watch unsubscribes, and a throwing listener does not stop the others', async () => {
    const {
      nodes: [a],
    } = await start(['a'])
    const errors: unknown[] = []
    a!.on('error', (e) => errors.push(e))
    const seen: string[] = []
    const stop = a!.watch('g', () => seen.push('first'))
    a!.watch('g', () => {
      throw new Error('listener bug')
    })
    a!.watch('g', () => seen.push('third'))
    a!.register('g', idle(a!))
    stop()
    a!.register('g', idle(a!))
    expect(seen).toEqual(['first', 'third', 'third'])
    expect(errors).toHaveLength(2)
  })
})

describe('watchers that write', () => {
  it('a watcher that registers while told of a join: every name counted once, here and on peers', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const pid = idle(a!)
    const seenOnB: string[] = []
    b!.watch('*', record(seenOnB))
    a!.watch('x', (e) => e.type === 'join' && a!.register('y', pid))
    a!.register('warm', pid)
    a!.register('x', pid)
    const expected = { warm: [String(pid)], x: [String(pid)], y: [String(pid)] }
    expect(view(a!)).toEqual(expected)
    await until(() => b!.allPidsOf('y').length > 0)
    a!.register('done', pid)
    await until(() => b!.allPidsOf('done').length > 0)
    expect(view(b!)).toEqual({ ...expected, done: [String(pid)] })
    expect(seenOnB).toEqual(['warm', 'x', 'y', 'done'].map((name) => `join ${name} ${pid} register`))
  })

  it('a watcher is told of a join before a leave another watcher made in answer to it', async () => {
    const {
      nodes: [a],
    } = await start(['a'])
    const pid = idle(a!)
    a!.watch('x', (e) => e.type === 'join' && a!.unregister('x', pid))
    const told: string[] = []
    a!.watch('*', record(told))
    a!.register('x', pid)
    expect(told).toEqual([`join x ${pid} register`, `leave x ${pid} unregister`])
    expect(a!.registry().size).toBe(0)
  })

  it("a watcher that registers twice while told of a peer's join", async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const [pidA, pidB] = [idle(a!), idle(b!)]
    a!.register('warm', pidA)
    a!.watch('x', (e) => {
      if (e.type !== 'join') return
      a!.register('y', pidA)
      a!.register('z', pidA)
    })
    b!.register('x', pidB)
    await until(() => a!.allPidsOf('z').length > 0)
    a!.register('done', pidA)
    await until(() => b!.allPidsOf('done').length > 0)
    const expected = { warm: [String(pidA)], x: [String(pidB)], y: [String(pidA)], z: [String(pidA)], done: [String(pidA)] }
    expect(view(a!)).toEqual(expected)
    expect(view(b!)).toEqual(expected)
  })
})

describe('lookups', () => {
  it("pick 'first' gives the same pid on every converged node", async () => {
    const { nodes } = await start(['d', 'b', 'a', 'c'])
    for (const node of nodes) for (let i = 0; i < 3; i++) node.register('svc', idle(node))
    await until(() => nodes.every((n) => n.allPidsOf('svc').length === 12))
    const firsts = nodes.map((n) => String(n.pidOf('svc', { pick: 'first' })))
    expect(new Set(firsts).size).toBe(1)
    expect(firsts[0]).toMatch(/^<a\./)
    const orders = nodes.map((n) => pidsOf(n, 'svc').join(','))
    expect(new Set(orders).size).toBe(1)
  })

  it("pick 'local' prefers a pid on this node; 'random' returns a member", async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const pa = idle(a!)
    const pb = idle(b!)
    a!.register('svc', pa)
    b!.register('svc', pb)
    await until(() => a!.allPidsOf('svc').length === 2 && b!.allPidsOf('svc').length === 2)
    expect(b!.pidOf('svc', { pick: 'local' })).toBe(b!.allPidsOf('svc').find((p) => p.equals(pb)))
    expect(String(a!.pidOf('svc', { pick: 'local' }))).toBe(String(pa))
    const seen = new Set<string>()
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(String(a!.pidOf('svc')))
    expect([...seen].sort()).toEqual([String(pa), String(pb)])
    expect(a!.pidOf('missing')).toBeUndefined()
  })

  it('allNodesOf lists each node once, in the agreed order', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    b!.register('svc', idle(b!))
    b!.register('svc', idle(b!))
    a!.register('svc', idle(a!))
    await until(() => a!.allPidsOf('svc').length === 3)
    expect(a!.allNodesOf('svc')).toEqual(['a', 'b'])
    expect(b!.allNodesOf('svc')).toEqual(['a', 'b'])
    expect(a!.allNodesOf('none')).toEqual([])
  })

  it('module shorthand: a GenServer class is its serviceName everywhere', async () => {
    class Counter extends GenServer {
      static override serviceName = 'counter'
    }
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const pid = await a!.start(Counter)
    await until(() => b!.allPidsOf(Counter).length === 1)
    expect(String(b!.pidOf(Counter, { pick: 'first' }))).toBe(String(pid))
    expect(b!.allPidsOf('counter').map(String)).toEqual([String(pid)])
    expect(b!.allNodesOf(Counter)).toEqual(['a'])
    expect(a!.unregister(Counter, pid)).toBe('ok')
  })

  it('holds 10k names and a late joiner gets them all', async () => {
    const c = await start(['a'])
    const [a] = c.nodes
    const pid = idle(a!)
    for (let i = 0; i < 10_000; i++) a!.register(`name-${i}`, pid)
    const b = await c.add('b')
    await until(() => b.nodes().includes('a'))
    expect(b.registry().size).toBe(10_000)
    expect(String(b.pidOf('name-9999'))).toBe(String(pid))
  })
})

describe('limits', () => {
  it('refuses a join past the per-name count limit, keeping what is there', async () => {
    const {
      nodes: [a],
    } = await start(['a'])
    const pid = idle(a!)
    for (let i = 0; i < 65_536; i++) a!.register('many', pid)
    expect(() => a!.register('many', pid)).toThrow(ArgumentError)
    expect(a!.allPidsOf('many')).toHaveLength(65_536)
  })
})

describe('tombstones', () => {
  it('process churn does not grow the registry document without bound', async () => {
    const {
      nodes: [a, b],
    } = await start(['a', 'b'])
    const keep = idle(a!)
    a!.register('keep', keep)
    // Jobs that overlap (each exits once the next has joined), and a pool of 50 names whose
    // members leave in no particular order: deletions land between live entries.
    const pool: Pid[] = []
    let previous: Pid | undefined
    for (let i = 0; i < 10_000; i++) {
      const job = a!.spawn({})
      a!.register('job', job)
      if (previous !== undefined) a!.exit(previous)
      previous = job
      if (i % 3 !== 0) continue
      const member = a!.spawn({})
      a!.register('pool', member)
      pool.push(member)
      if (pool.length > 50) a!.exit(pool.splice((i * 7919) % pool.length, 1)[0]!)
    }
    // Barrier on the same ordered link: every churn before it has reached b.
    a!.register('done', keep)
    await until(() => b!.allPidsOf('done').length === 1)
    expect(view(b!)).toEqual(view(a!))
    expect(b!.allPidsOf('pool')).toHaveLength(50)
    // What every peer holds: tombstones of deleted neighbours merge, so the document stays
    // about the size of its 53 live entries (a map layout kept a tombstone per key: ~200 kB).
    const doc = (b as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
    expect(Y.encodeStateAsUpdate(doc).byteLength).toBeLessThan(10_000)
  })
})
