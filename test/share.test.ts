/** `node.share`: app documents synced over the same links as the registry. */
import { afterEach, describe, expect, it } from 'vitest'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { ArgumentError, type DistribunatorNode } from '../src/index.js'
import { cluster, until, type Cluster } from './helpers.js'

let running: Cluster | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

function text(doc: Y.Doc): string {
  return doc.getText('t').toString()
}

describe('share', () => {
  it('syncs a document shared by every node, both ways, and merges concurrent edits', async () => {
    running = await cluster(['a', 'b', 'c'])
    const docs = running.nodes.map(() => new Y.Doc())
    running.nodes.forEach((node, i) => node.share(docs[i]!, 'notes'))
    docs[0]!.getText('t').insert(0, 'hello')
    await until(() => docs.every((d) => text(d) === 'hello'))
    docs[1]!.getText('t').insert(5, ' world')
    docs[2]!.getText('t').insert(0, '> ')
    await until(() => docs.every((d) => text(d) === text(docs[0]!)) && text(docs[0]!).length === 13)
    expect(text(docs[0]!)).toBe('> hello world')
  })

  it("an app's own update listener still hears changes from peers, and local changes still travel after them", async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const da = new Y.Doc()
    const db = new Y.Doc()
    a.share(da, 'notes')
    b.share(db, 'notes')
    // Document sync stops Yjs from encoding a peer's update only for its own listener.
    const heard: Uint8Array[] = []
    db.on('update', (update: Uint8Array) => heard.push(update))
    da.getText('t').insert(0, 'from a')
    await until(() => text(db) === 'from a')
    const copy = new Y.Doc()
    for (const update of heard) Y.applyUpdate(copy, update)
    expect(text(copy)).toBe('from a')
    db.getText('t').insert(6, ', and b')
    await until(() => text(da) === 'from a, and b')
  })

  it('a document shared later still gets, and gives, the existing content', async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const da = new Y.Doc()
    da.getText('t').insert(0, 'from a')
    a.share(da, 'notes')
    const db = new Y.Doc()
    db.getMap('m').set('from', 'b')
    // Barrier on the same ordered link: once b sees this name, a's step 1 for 'notes'
    // has reached b, before b had the document.
    a.register('barrier', a.spawn({}))
    await until(() => b.allPidsOf('barrier').length === 1)
    b.share(db, 'notes')
    await until(() => text(db) === 'from a' && da.getMap('m').get('from') === 'b')
  })

  it('a late joiner receives the shared content; unshare stops the sync', async () => {
    running = await cluster(['a'])
    const [a] = running.nodes as [DistribunatorNode]
    const da = new Y.Doc()
    const unshare = a.share(da, 'notes')
    da.getText('t').insert(0, 'early')
    const b = await running.add('b')
    const db = new Y.Doc()
    b.share(db, 'notes')
    await until(() => text(db) === 'early')
    unshare()
    da.getText('t').insert(0, 'private ')
    db.getText('t').insert(5, '!')
    // A change that does travel, to know the link is flushed: a second shared document.
    const sa = new Y.Doc()
    const sb = new Y.Doc()
    a.share(sa, 'probe')
    b.share(sb, 'probe')
    sa.getText('t').insert(0, 'x')
    await until(() => text(sb) === 'x')
    expect(text(db)).toBe('early!')
    expect(text(da)).toBe('private early')
  })

  it('refuses reserved and duplicate names', async () => {
    running = await cluster(['a'])
    const [a] = running.nodes as [DistribunatorNode]
    expect(() => a.share(new Y.Doc(), 'distribunator/registry')).toThrow(ArgumentError)
    expect(() => a.share(new Y.Doc(), '')).toThrow(ArgumentError)
    a.share(new Y.Doc(), 'x')
    expect(() => a.share(new Y.Doc(), 'x')).toThrow(ArgumentError)
  })
})

describe('presence (awareness)', () => {
  function presence(node: DistribunatorNode, name: string): { doc: Y.Doc; awareness: Awareness } {
    const doc = new Y.Doc()
    const awareness = new Awareness(doc)
    node.share(doc, 'board', { awareness })
    awareness.setLocalState({ name })
    return { doc, awareness }
  }
  /** Names in an awareness, sorted. */
  function names(awareness: Awareness): string[] {
    return [...awareness.getStates().values()].map((s) => String(s.name)).sort()
  }

  it('every node sees every node, updates travel, a late joiner gets them all', async () => {
    running = await cluster(['a', 'b'])
    const [a, b] = running.nodes as [DistribunatorNode, DistribunatorNode]
    const pa = presence(a, 'ann')
    const pb = presence(b, 'bob')
    await until(() => names(pa.awareness).join() === 'ann,bob' && names(pb.awareness).join() === 'ann,bob')
    pa.awareness.setLocalStateField('cursor', 7)
    await until(() => pb.awareness.getStates().get(pa.awareness.clientID)?.cursor === 7)
    const c = await running.add('c')
    const pc = presence(c, 'cat')
    await until(() => [pa, pb, pc].every((p) => names(p.awareness).join() === 'ann,bob,cat'))
    for (const p of [pa, pb, pc]) p.awareness.destroy()
  })

  it("a peer's presence goes the moment the peer goes, not at awareness's 30 s timeout", async () => {
    running = await cluster(['a', 'b', 'c'])
    const [a, b, c] = running.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    const [pa, pb, pc] = [presence(a, 'ann'), presence(b, 'bob'), presence(c, 'cat')]
    await until(() => names(pa.awareness).join() === 'ann,bob,cat')
    const removed: number[] = []
    pa.awareness.on('change', ({ removed: gone }: { removed: number[] }) => removed.push(...gone))
    running.network.kill('b')
    await until(() => names(pa.awareness).join() === 'ann,cat' && names(pc.awareness).join() === 'ann,cat')
    expect(removed).toEqual([pb.awareness.clientID])
    for (const p of [pa, pb, pc]) p.awareness.destroy()
  })

  it('refuses an awareness of another document', async () => {
    running = await cluster(['a'])
    const [a] = running.nodes as [DistribunatorNode]
    expect(() => a.share(new Y.Doc(), 'x', { awareness: new Awareness(new Y.Doc()) })).toThrow(ArgumentError)
  })
})
