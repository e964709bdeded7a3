/**
 * Partitions, heals, crashes and restarts (pg_SUITE netsplit, partial split, kill during
 * split, zombie race, restart). After every heal the cluster must hold exactly the union
 * of each owner's current truth: everything live is back, nothing dead returns.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { NodeStoppedError, type DistribunatorNode, type Pid, type WatchEvent } from '../src/index.js'
import { cluster, fullyConnected, idle, nextEvent, until, view, type Cluster } from './helpers.js'

let running: Cluster | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

/** Waits until every node has exactly `expected` as its registry view. */
async function converged(nodes: readonly DistribunatorNode[], expected: Record<string, Pid[]>): Promise<void> {
  const want: Record<string, string[]> = {}
  for (const [name, pids] of Object.entries(expected)) want[name] = pids.map(String).sort()
  const sortedView = (n: DistribunatorNode): Record<string, string[]> =>
    Object.fromEntries(Object.entries(view(n)).map(([k, v]) => [k, [...v].sort()]))
  await until(() => nodes.every((n) => JSON.stringify(sortedView(n)) === JSON.stringify(want)))
  for (const n of nodes) expect(sortedView(n)).toEqual(want)
}

describe('netsplit', () => {
  it('joins and leaves on both sides during a split give the exact union after heal', async () => {
    running = await cluster(['a', 'b', 'c', 'd'])
    const [a, b, c, d] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const pc = idle(c)
    const leaving = idle(b)
    const exiting = idle(d)
    a.register('g', pa)
    b.register('g', leaving)
    c.register('g', pc)
    d.register('g', exiting)
    await converged([a, b, c, d], { g: [pa, leaving, pc, exiting] })

    running.network.partition(['a', 'b'], ['c', 'd'])
    await until(() => a.nodes().length === 1 && c.nodes().length === 1)
    // Each side sees only its own side's names.
    await converged([a, b], { g: [pa, leaving] })
    await converged([c, d], { g: [pc, exiting] })

    const pb = idle(b)
    const pd = idle(d)
    b.register('h', pb) // join on side 1
    expect(b.unregister('g', leaving)).toBe('ok') // leave on side 1
    d.register('h', pd) // join on side 2
    d.exit(exiting) // exit on side 2
    c.register('g', pc) // counted join on side 2
    await converged([a, b], { g: [pa], h: [pb] })
    await converged([c, d], { g: [pc, pc], h: [pd] })

    running.network.heal()
    await fullyConnected([a, b, c, d])
    await converged([a, b, c, d], { g: [pa, pc, pc], h: [pb, pd] })
  })

  it('partial split A–C–B: A and C, and B and C, see each other; A and B do not', async () => {
    running = await cluster(['a', 'b', 'c'])
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const pb = idle(b)
    const pc = idle(c)
    running.network.partition(['a'], ['b'])
    await until(() => a.nodes().length === 1 && b.nodes().length === 1)
    expect(a.nodes()).toEqual(['c'])
    expect(b.nodes()).toEqual(['c'])
    expect(c.nodes().sort()).toEqual(['a', 'b'])
    a.register('g', pa)
    b.register('g', pb)
    c.register('g', pc)
    // C relays documents during sync, but lookups only show reachable owners.
    await converged([c], { g: [pa, pb, pc] })
    await converged([a], { g: [pa, pc] })
    await converged([b], { g: [pb, pc] })
    running.network.heal()
    await fullyConnected([a, b, c])
    await converged([a, b, c], { g: [pa, pb, pc] })
  })

  it('a node killed during the split stays dead after the heal', async () => {
    running = await cluster(['a', 'b', 'c'], { node: { registryGracePeriod: 60_000 } })
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const pb = idle(b)
    a.register('g', pa)
    b.register('g', pb)
    await converged([a, b, c], { g: [pa, pb] })
    running.network.partition(['a'], ['b', 'c'])
    await converged([b, c], { g: [pb] })
    running.network.kill('a')
    running.network.heal()
    // Nothing links a again; its names stay hidden on the survivors.
    const latecomer = await running.add('d')
    await fullyConnected([b, c, latecomer])
    await converged([b, c, latecomer], { g: [pb] })
  })

  it('a process that exits during the split does not come back after the heal', async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const dies = idle(a)
    const lives = idle(a)
    a.register('g', dies)
    a.register('g', lives)
    await converged([a, b], { g: [dies, lives] })
    running.network.partition(['a'], ['b'])
    await until(() => b.nodes().length === 0)
    a.exit(dies)
    const joins: string[] = []
    b.watch('g', (e) => joins.push(`${e.type} ${e.pid} ${e.reason}`))
    running.network.heal()
    await fullyConnected([a, b])
    await converged([a, b], { g: [lives] })
    // The dead pid never flickered back into view on b.
    expect(joins).toEqual([`join ${lives} nodeup`])
  })
})

describe('grace period, garbage collection and re-assertion', () => {
  it('a survivor deletes an unreachable subtree after the grace period; the owner writes it back on heal', async () => {
    running = await cluster(['a', 'b'], { node: { registryGracePeriod: 30 } })
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const kept = idle(a)
    const gone = idle(a)
    a.register('g', kept)
    a.register('g', gone)
    a.register('other', kept)
    await converged([a, b], { g: [kept, gone], other: [kept] })
    running.network.partition(['a'], ['b'])
    await until(() => b.nodes().length === 0)
    // b collects a's subtree while a is away (its own view is empty anyway).
    // Reaches into b's replica (test-only) to be sure the collection happened before the heal.
    const bDoc = (b as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
    await until(() => bDoc.getMap('owners').size === 0 || [...bDoc.getMap('owners').keys()].every((k) => !k.startsWith('a@')))
    a.exit(gone)
    running.network.heal()
    await fullyConnected([a, b])
    // The merge deletes a's subtree everywhere; a re-asserts exactly its current truth.
    await converged([a, b], { g: [kept], other: [kept] })
  })
})

describe('garbage collection never hides a node that is still reachable', () => {
  it('a partial split outlasting the grace period: C keeps B, whom A collected', async () => {
    running = await cluster(['a', 'b', 'c'], { node: { registryGracePeriod: 30 } })
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pb = idle(b)
    b.register('svc', pb)
    await converged([a, b, c], { svc: [pb] })
    running.network.partition(['a'], ['b'])
    await until(() => a.nodes().length === 1 && b.nodes().length === 1)
    // a collects b's subtree after the grace period, and that deletion reaches c...
    const aDoc = (a as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
    await until(() => ![...aDoc.getMap('owners').keys()].some((k) => k.startsWith('b@')))
    // ...but c still reaches b: b hears of it, writes its names back, and c shows them.
    await converged([c], { svc: [pb] })
    const later = idle(b)
    b.register('svc', later)
    await converged([b, c], { svc: [pb, later] })
    expect(c.nodes().sort()).toEqual(['a', 'b'])
  })

  it('a node never reached is not collected: a pair that cannot link leaves the others be', async () => {
    running = await cluster(['b', 'c'], { node: { registryGracePeriod: 30 } })
    const [b, c] = running.nodes as [DistribunatorNode, DistribunatorNode]
    running.network.partition(['a'], ['b']) // a and b never link (say, two symmetric NATs)
    const pb = idle(b)
    b.register('svc', pb)
    const a = await running.add('a')
    const d = await running.add('d')
    const e = await running.add('e')
    await until(() => a.nodes().sort().join() === 'c,d,e' && c.nodes().length === 4)
    for (const node of [d, e]) node.register('x', idle(node))
    const aDoc = (a as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
    const has = (prefix: string): boolean => [...aDoc.getMap('owners').keys()].some((k) => k.startsWith(prefix))
    await until(() => has('d@') && has('e@') && has('b@'))
    const events: string[] = []
    c.watch('svc', (ev) => events.push(`${ev.type} ${ev.reason}`))
    // An unrelated crash runs a's collection; a later one, collected later still, is the
    // barrier: once e's subtree is gone on a, any pass that would take b's has run too.
    running.network.kill('d')
    await until(() => !has('d@'))
    running.network.kill('e')
    await until(() => !has('e@'))
    expect(has('b@')).toBe(true)
    await converged([b, c], { svc: [pb] })
    expect(events).toEqual([])
  })

  it("a node's own names never flicker when a peer collected them during a split", async () => {
    running = await cluster(['a', 'b'], { node: { registryGracePeriod: 30 } })
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    a.register('g', pa)
    await converged([a, b], { g: [pa] })
    const own: string[] = []
    a.watch('g', (e) => own.push(`${e.type} ${e.reason}`))
    running.network.partition(['a'], ['b'])
    const bDoc = (b as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
    await until(() => ![...bDoc.getMap('owners').keys()].some((k) => k.startsWith('a@')))
    running.network.heal()
    await fullyConnected([a, b])
    await converged([a, b], { g: [pa] })
    expect(own).toEqual([])
  })
})

describe('zombie race', () => {
  it('an unregister racing a heal leaves no dead entry (with latency jitter)', async () => {
    for (let round = 0; round < 5; round++) {
      running = await cluster(['a', 'b', 'c'], { network: { latency: [0, 4] } })
      const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
      const pids = Array.from({ length: 6 }, () => idle(a))
      for (const pid of pids) a.register('g', pid)
      await converged([a, b, c], { g: pids })
      running.network.partition(['a'], ['b', 'c'])
      await until(() => b.nodes().length === 1 && c.nodes().length === 1)
      running.network.heal()
      // While the heal's sync is in flight: leaves and exits on the owner.
      a.unregister('g', pids[0]!)
      a.exit(pids[1]!)
      await Promise.resolve()
      a.unregister('g', pids[2]!)
      a.exit(pids[3]!)
      await fullyConnected([a, b, c])
      await converged([a, b, c], { g: [pids[4]!, pids[5]!] })
      await running.stop()
      running = undefined
    }
  })
})

describe('restart', () => {
  it('a restarted node is a new incarnation; old pids are dead at once', async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const old = idle(a)
    a.register('g', old)
    await converged([a, b], { g: [old] })
    running.network.kill('a')
    await until(() => b.nodes().length === 0)
    const a2 = await running.add('a')
    expect(a2.incarnation).toBeGreaterThan(a.incarnation)
    await fullyConnected([a2, b])
    const fresh = idle(a2)
    a2.register('g', fresh)
    await converged([a2, b], { g: [fresh] })
    expect(String(fresh)).not.toBe(String(old))
    await expect(b.call(old, 'hi', { timeout: 60_000 })).rejects.toMatchObject({ name: 'NoProcError' })
  })

  it("a newer incarnation's Hello hides the old one's names before any crash is noticed", async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const old = idle(a)
    a.register('g', old)
    await converged([a, b], { g: [old] })
    const events: string[] = []
    b.watch('g', (e: WatchEvent) => events.push(`${e.type} ${e.reason}`))
    const down = nextEvent(b, 'nodedown')
    // The old incarnation is still linked to b: no kill, no close. The new one says Hello.
    const a2 = await running.add('a')
    expect(await down).toEqual({ node: 'a', reason: 'restarted' })
    expect(events).toEqual(['leave nodedown'])
    await until(() => b.nodes().includes('a'))
    expect(b.allPidsOf('g')).toEqual([])
    const fresh = idle(a2)
    a2.register('g', fresh)
    await until(() => b.allPidsOf('g').length === 1)
    expect(String(b.pidOf('g'))).toBe(String(fresh))
  })

  it('graceful stop: peers drop the names at once, with nodedown reason stop', async () => {
    running = await cluster(['a', 'b', 'c'])
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const pb = idle(b)
    a.register('g', pa)
    b.register('g', pb)
    await converged([a, b, c], { g: [pa, pb] })
    const downs = [nextEvent(b, 'nodedown'), nextEvent(c, 'nodedown')]
    await a.stop()
    expect(await Promise.all(downs)).toEqual([
      { node: 'a', reason: 'stop' },
      { node: 'a', reason: 'stop' },
    ])
    await converged([b, c], { g: [pb] })
  })
})

describe('one node per id', () => {
  it('an older node whose id a newer one took is told so when it comes back, and stops', async () => {
    running = await cluster(['a', 'x'])
    const [a, x1] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const errors: string[] = []
    x1.on('error', (e) => errors.push(e.name))
    const x2 = await running.add('x')
    await until(() => a.nodes().includes('x') && x1.nodes().length === 0)
    // x1 is alive and tries again (here: the network relinks reachable pairs on heal).
    running.network.heal()
    await until(() => errors.includes('NodeIdTakenError'))
    await until(() => running!.network.nodes().filter((id) => id === 'x').length === 1)
    expect(() => x1.register('g', x1.spawn({}))).toThrow(NodeStoppedError)
    expect(a.nodes()).toEqual(['x'])
    const fresh = idle(x2)
    x2.register('g', fresh)
    await until(() => a.allPidsOf('g').length === 1)
  })
})
