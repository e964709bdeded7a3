/**
 * elementDeltas (registry-deltas.ts) against Yjs's own `event.changes`: random inserts and
 * deletes anywhere in several arrays, local and applied from a peer, must count the same.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { elementDeltas } from '../src/registry-deltas.js'
import { Random } from './fixtures/seeded-random.js'

/** What `event.changes` says each array gained and lost, per element. */
function fromChanges(events: Y.YEvent<Y.AbstractType<unknown>>[]): Map<Y.AbstractType<unknown>, Map<unknown, number>> {
  const result = new Map<Y.AbstractType<unknown>, Map<unknown, number>>()
  for (const event of events) {
    if (!(event.target instanceof Y.Array)) continue
    const deltas = new Map<unknown, number>()
    for (const [items, sign] of [
      [event.changes.added, 1],
      [event.changes.deleted, -1],
    ] as const) {
      for (const item of items) {
        for (const element of item.content.getContent()) deltas.set(element, (deltas.get(element) ?? 0) + sign)
      }
    }
    for (const [element, delta] of deltas) if (delta === 0) deltas.delete(element)
    if (deltas.size > 0) result.set(event.target as Y.AbstractType<unknown>, deltas)
  }
  return result
}

function withoutZeros(all: Map<Y.AbstractType<unknown>, Map<unknown, number>>): Map<Y.AbstractType<unknown>, Map<unknown, number>> {
  for (const [array, deltas] of all) {
    for (const [element, delta] of deltas) if (delta === 0) deltas.delete(element)
    if (deltas.size === 0) all.delete(array)
  }
  return all
}

describe('elementDeltas', () => {
  it('counts what event.changes counts, for local and remote transactions', () => {
    const writer = new Y.Doc()
    const reader = new Y.Doc()
    writer.on('update', (update: Uint8Array) => Y.applyUpdate(reader, update))
    const owners = writer.getMap<Y.Array<string>>('owners')
    for (const key of ['a@1', 'b@1', 'c@1']) owners.set(key, new Y.Array<string>())
    let compared = 0
    for (const doc of [writer, reader]) {
      doc.getMap('owners').observeDeep((events, transaction) => {
        const arrays = new Set(events.filter((e) => e.target instanceof Y.Array).map((e) => e.target))
        expect(withoutZeros(elementDeltas(transaction, arrays))).toEqual(fromChanges(events))
        compared++
      })
    }
    // Seeded, so a failure can be replayed.
    const random = new Random(7)
    for (let step = 0; step < 2000; step++) {
      writer.transact(() => {
        for (let op = 1 + random.int(4); op > 0; op--) {
          const array = owners.get(random.pick(['a@1', 'b@1', 'c@1']))!
          const at = random.int(array.length + 1)
          const kind = random.int(6)
          if (kind === 0) {
            // Inserted and deleted in one transaction: neither event.changes nor we count it.
            array.insert(at, ['gone', 'e0'])
            array.delete(at, 1)
          } else if (kind < 3 && at < array.length) {
            array.delete(at, 1 + random.int(Math.min(3, array.length - at)))
          } else {
            array.insert(at, [`e${random.int(20)}`, `e${random.int(20)}`].slice(random.int(2)))
          }
        }
      })
    }
    expect(compared).toBe(4000)
    // The readers agree on what they hold.
    expect(reader.getMap('owners').toJSON()).toEqual(owners.toJSON())
  })
})
