/**
 * One node's registry against a peer that writes into the registry document directly, as no
 * honest node does: entries held past the join limit, junk planted in the node's subtree or
 * its elements deleted. The node shows what is valid and undoes what was done to its own
 * names with an update the size of the change. Real documents, no network: the peer's
 * updates are applied as they would arrive.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { RemoteUpdate } from '../src/doc-sync.js'
import { Pid } from '../src/pid.js'
import { Registry } from '../src/registry.js'

/** Node a's registry holding `names` names of one pid, and a peer with a copy of its document. */
function withPeer(names: number) {
  const registry = new Registry({ nodeId: 'a', incarnation: 1, room: 'peer-writes' }, 1000, (error) => {
    throw error
  })
  const pid = new Pid('a', 1, 3)
  for (let i = 0; i < names; i++) registry.join(`n${i}`, pid)
  const peer = new Y.Doc()
  Y.applyUpdate(peer, Y.encodeStateAsUpdate(registry.doc))
  /** Bytes of the updates a wrote itself (each also applied to the peer). */
  let sent = 0
  registry.doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin instanceof RemoteUpdate) return
    sent += update.length
    Y.applyUpdate(peer, update)
  })
  const owners = peer.getMap<Y.Array<unknown>>('owners')
  /** Runs `write` on the peer's document in one transaction, and hands a the update. */
  const send = (write: () => void): void => {
    const at = Y.encodeStateVector(registry.doc)
    peer.transact(write)
    Y.applyUpdate(registry.doc, Y.encodeStateAsUpdate(peer, at), new RemoteUpdate('evil', null))
  }
  return { registry, pid, owners, send, sent: () => sent }
}

/** Names with how many pids each shows. */
function counts(registry: Registry): string[] {
  return [...registry.view.snapshot()].map(([name, pids]) => `${name} ${pids.length}`)
}

describe("a peer's entries", () => {
  it('shows none of an entry held past the join limit, and all once it is back within', () => {
    const { registry, owners, send } = withPeer(0)
    registry.markUp('evil', 1)
    const subtree = new Y.Array<unknown>()
    send(() => {
      owners.set('evil@1', subtree)
      subtree.push(Array<string>(65_537).fill('7:flood'))
    })
    expect(registry.view.pids('flood')).toEqual([])
    send(() => subtree.delete(0, 1))
    expect(registry.view.pids('flood')).toHaveLength(65_536)
    send(() => subtree.delete(0, 1))
    expect(registry.view.pids('flood')).toHaveLength(65_535)
    registry.destroy()
  })
})

describe("a peer's change to a node's own subtree", () => {
  it('is undone with an update the size of the change', () => {
    const { registry, owners, send, sent } = withPeer(1000)
    const before = counts(registry)
    send(() => {
      owners.get('a@1')!.insert(500, ['3:planted'])
      owners.get('a@1')!.delete(10, 1)
    })
    // a's names never changed, and what it sent back restores them on the peer too.
    expect(counts(registry)).toEqual(before)
    expect(owners.get('a@1')!.toArray().sort()).toEqual(Array.from({ length: 1000 }, (_, i) => `3:n${i}`).sort())
    // Rewriting all 1,000 names instead sent 24 kB.
    expect(sent()).toBeLessThan(200)
    registry.destroy()
  })

  it('is undone while a watcher unregisters in answer to the same update', () => {
    const { registry, pid, owners, send } = withPeer(4)
    registry.markUp('evil', 1)
    const events: string[] = []
    registry.view.watch('*', (e) => events.push(`${e.type} ${e.name}`))
    registry.view.watch('wanted', () => registry.leave('n3', pid))
    // One update: the peer registers a watched name and plants junk at the start of a's subtree.
    send(() => {
      const evil = new Y.Array<unknown>()
      owners.set('evil@1', evil)
      evil.push(['7:wanted'])
      owners.get('a@1')!.insert(0, ['3:planted'])
    })
    expect([...registry.view.snapshot().keys()].sort()).toEqual(['n0', 'n1', 'n2', 'wanted'])
    expect(events).toEqual(['join wanted', 'leave n3'])
    expect(owners.get('a@1')!.toArray()).toEqual(['3:n0', '3:n1', '3:n2'])
    registry.destroy()
  })

  it('of 40k junk elements is undone at once, with a short update', () => {
    const { registry, owners, send, sent } = withPeer(10)
    send(() => owners.get('a@1')!.push(Array.from({ length: 40_000 }, (_, i) => `3:junk-${i}`)))
    expect(owners.get('a@1')!.toArray()).toEqual(Array.from({ length: 10 }, (_, i) => `3:n${i}`))
    expect(registry.view.snapshot().size).toBe(10)
    expect(sent()).toBeLessThan(100)
    registry.destroy()
  })
})
