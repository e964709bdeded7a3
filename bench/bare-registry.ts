/**
 * The registry's layout on a bare Y.Doc (src/registry.ts): the floor the benchmarks hold
 * our registry against, the same Yjs work with no node, codec or transport.
 */
import * as Y from 'yjs'
import { ITEM_ELEMENTS } from '../src/registry-local.js'

/**
 * Writes `entries` as one owner's subtree of `doc`, one transaction per entry as `register`
 * does, ending an item every ITEM_ELEMENTS appends as the registry does.
 */
export function writeBareSubtree(doc: Y.Doc, owner: string, entries: readonly string[]): Y.Array<string> {
  const subtree = new Y.Array<string>()
  doc.getMap<Y.Array<string>>('owners').set(owner, subtree)
  entries.forEach((entry, i) => {
    subtree.push([entry])
    if ((i + 1) % ITEM_ELEMENTS !== 0) return
    subtree.push([''])
    subtree.delete(subtree.length - 1, 1)
  })
  return subtree
}

/** `count` entries of one pid: `1:<prefix>0`, `1:<prefix>1`, … */
export function bareEntries(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `1:${prefix}${i}`)
}
