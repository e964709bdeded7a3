/**
 * The keys of the registry document (registry.ts): the root map `owners` has one subtree per
 * node incarnation, keyed `nodeId@incarnation`; a subtree is an array of `pidId:name`
 * entries, each there once per join.
 * And the document's own name, which carries its epoch. Keys and names come from peers too,
 * so parsing one checks every part and returns undefined for junk.
 */

/** Most registrations of one pid under one name; a larger count from a peer is ignored. */
export const MAX_JOIN_COUNT = 65_536

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

/** The registry document's name for sync: the first epoch keeps the name it always had. */
const DOC_NAME = 'distribunator/registry'

/** The name the registry document of `epoch` is synced under (doc-sync.ts). */
export function registryDocName(epoch: number): string {
  return epoch === 0 ? DOC_NAME : `${DOC_NAME}/${epoch}`
}

/** The epoch of a registry document's name, or undefined for any other name (a peer's junk too). */
export function parseRegistryDocName(name: string): number | undefined {
  if (name === DOC_NAME) return 0
  if (!name.startsWith(`${DOC_NAME}/`)) return undefined
  const text = name.slice(DOC_NAME.length + 1)
  const epoch = Number(text)
  return Number.isSafeInteger(epoch) && epoch > 0 && text === String(epoch) ? epoch : undefined
}
