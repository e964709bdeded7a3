/**
 * Registry epochs (registry.ts): once dead writers outweigh the owners, nodes move to a fresh
 * document. Moving must never hide, duplicate or resurrect a name: not for live owners
 * watching, not for a node that stayed on the old epoch through a split, not for a newcomer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import type { DistribunatorNode, Pid } from '../src/index.js'
import { parseRegistryDocName, registryDocName } from '../src/registry-keys.js'
import { cluster, fullyConnected, idle, until, view, type Cluster } from './helpers.js'

let running: Cluster | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

/** The registry document a node holds now (test-only reach). */
function docOf(node: DistribunatorNode): Y.Doc {
  return (node as unknown as { core: { names: { doc: Y.Doc } } }).core.names.doc
}

/**
 * Kills and restarts `id`, which registers a name each time (a writer that then dies), until
 * every node in `watching` holds a registry document other than the one it holds now.
 */
async function churnUntilMoved(c: Cluster, id: string, watching: readonly DistribunatorNode[]): Promise<void> {
  const docs = watching.map(docOf)
  for (let i = 0; watching.some((n, j) => docOf(n) === docs[j]); i++) {
    expect(i).toBeLessThan(500)
    const peer = await c.add(id)
    const pid = idle(peer)
    peer.register('svc', pid)
    await until(() => watching.every((n) => n.allPidsOf('svc').some((p) => p.equals(pid))))
    c.network.kill(id)
    await until(() => watching.every((n) => !n.nodes().includes(id)))
    await peer.stop()
  }
}

/** Names and their pids, both sorted, as one comparable string. */
function printed(entries: [string, string[]][]): string {
  const each = entries.map(([name, pids]): [string, string[]] => [name, [...pids].sort()])
  return JSON.stringify(each.sort(([x], [y]) => (x < y ? -1 : 1)))
}

/** Waits until every node's view is exactly `expected`. */
async function converged(nodes: readonly DistribunatorNode[], expected: Record<string, Pid[]>): Promise<void> {
  const want = printed(Object.entries(expected).map(([name, pids]) => [name, pids.map(String)]))
  await until(() => nodes.every((n) => printed(Object.entries(view(n))) === want))
}

describe('registry epochs', () => {
  it('live owners keep their names through a move: no watch event, the same view, old history gone', async () => {
    running = await cluster(['a', 'b', 'c'])
    const nodes = running.nodes.slice() as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pids = nodes.map((n) => idle(n))
    nodes.forEach((n, i) => {
      n.register('shared', pids[i]!)
      n.register(`only-${n.id}`, pids[i]!)
      n.register(`only-${n.id}`, pids[i]!) // counted joins survive too
    })
    const expected = {
      shared: pids,
      'only-a': [pids[0]!, pids[0]!],
      'only-b': [pids[1]!, pids[1]!],
      'only-c': [pids[2]!, pids[2]!],
    }
    await converged(nodes, expected)
    const events: string[] = []
    for (const n of nodes) n.watch('*', (e) => e.name !== 'svc' && events.push(`${n.id}: ${e.type} ${e.name} ${e.reason}`))
    await churnUntilMoved(running, 'p', nodes)
    await converged(nodes, expected)
    expect(events).toEqual([])
    // Each document holds the live owners and little else: no dead writer of the old epoch.
    for (const n of nodes) expect(docOf(n).store.clients.size).toBeLessThan(10)
    // And it works as before: a join and a leave after the move travel with their reasons.
    const later = idle(nodes[0])
    nodes[0].register('later', later)
    await converged(nodes, { ...expected, later: [later] })
    expect(events.filter((e) => e.endsWith('later register'))).toHaveLength(3)
  })

  it('a node that stayed on the old epoch through a split moves on heal; the union of truths, nothing dead', async () => {
    running = await cluster(['a', 'b', 'c'])
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const leaving = idle(c)
    const exiting = idle(c)
    a.register('g', pa)
    c.register('g', leaving)
    c.register('g', exiting)
    await converged([a, b, c], { g: [pa, leaving, exiting] })
    running.network.partition(['c'], ['a', 'b', 'p'])
    await until(() => a.nodes().length === 1 && c.nodes().length === 0)
    const cDoc = docOf(c)
    await churnUntilMoved(running, 'p', [a, b])
    expect(docOf(c)).toBe(cDoc) // c saw none of it
    // Meanwhile, on the old epoch: c's leave, exit and join; on the new one: b's join.
    const pc = idle(c)
    c.unregister('g', leaving)
    c.exit(exiting)
    c.register('h', pc)
    const pb = idle(b)
    b.register('h', pb)
    running.network.heal()
    await fullyConnected([a, b, c])
    await converged([a, b, c], { g: [pa], h: [pb, pc] })
    expect(docOf(c)).not.toBe(cDoc)
    expect(docOf(c).store.clients.size).toBeLessThan(10)
  })

  it("joins and leaves racing a move (with latency jitter) end in each owner's exact truth", async () => {
    running = await cluster(['a', 'b', 'c'], { network: { latency: [0, 4] } })
    const nodes = running.nodes.slice() as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const truth = new Map<DistribunatorNode, Pid[]>(nodes.map((n) => [n, []]))
    let moving = true
    const flapping = Promise.all(
      nodes.map(async (n) => {
        for (let i = 0; moving; i++) {
          const pids = truth.get(n)!
          if (i % 3 === 2) n.unregister('flap', pids.shift()!)
          else pids.push(idle(n))
          if (i % 3 !== 2) n.register('flap', pids[pids.length - 1]!)
          await new Promise((resolve) => setTimeout(resolve, 1))
        }
      }),
    )
    await churnUntilMoved(running, 'p', nodes)
    moving = false
    await flapping
    await converged(nodes, { flap: [...truth.values()].flat() })
  })

  it('a newcomer starting on the first epoch joins a cluster on a later one and sees every name', async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const pa = idle(a)
    const pb = idle(b)
    a.register('g', pa)
    b.register('g', pb)
    await churnUntilMoved(running, 'p', [a, b])
    const late = await running.add('late')
    const pl = idle(late)
    late.register('g', pl)
    await fullyConnected([a, b, late])
    await converged([a, b, late], { g: [pa, pb, pl] })
  })

  it('names of registry documents: the first epoch keeps its name; anything malformed is no epoch', () => {
    expect(registryDocName(0)).toBe('distribunator/registry')
    expect(registryDocName(7)).toBe('distribunator/registry/7')
    for (const epoch of [0, 1, 42, Number.MAX_SAFE_INTEGER]) expect(parseRegistryDocName(registryDocName(epoch))).toBe(epoch)
    const junk = ['', 'distribunator/registry/', 'distribunator/registry/0', 'distribunator/registry/-1', 'distribunator/registry/01']
    junk.push('distribunator/registry/1.5', 'distribunator/registry/1e3', 'distribunator/registry/9007199254740993', 'notes')
    for (const name of junk) expect(parseRegistryDocName(name)).toBeUndefined()
  })
})
