/** `node.share`: app documents synced over the same links as the registry. */
import { afterEach, describe, expect, it } from 'vitest'
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
