/**
 * The keys of the registry document (registry.ts): the root map `owners` has one subtree per
 * node incarnation, keyed `nodeId@incarnation`; a subtree maps `pidId:name` to a join count.
 * Keys come from peers too, so parsing one checks every part and returns undefined for junk.
 */

/** `nodeId@incarnation`, the key of one owner's subtree. */
export function ownerKey(nodeId: string, incarnation: number): string {
  return `${nodeId}@${incarnation}`
}

export function parseOwnerKey(key: string): { nodeId: string; incarnation: number } | undefined {
  const at = key.lastIndexOf('@')
  const incarnation = Number(key.slice(at + 1))
  if (at < 1 || !Number.isSafeInteger(incarnation) || incarnation < 0 || key.slice(at + 1) !== String(incarnation)) return undefined
  return { nodeId: key.slice(0, at), incarnation }
}

export function entryKey(pidId: number, name: string): string {
  return `${pidId}:${name}`
}

export function parseEntryKey(key: string): { pidId: number; name: string } | undefined {
  const colon = key.indexOf(':')
  const pidId = Number(key.slice(0, colon))
  if (colon < 1 || !Number.isSafeInteger(pidId) || pidId < 0 || key.slice(0, colon) !== String(pidId)) return undefined
  return { pidId, name: key.slice(colon + 1) }
}
