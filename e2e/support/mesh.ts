/** Conditions over several peers, polled until they hold (never a fixed sleep). */
import { expect } from '@playwright/test'
import type { NodeState } from '../page/test-api.js'
import type { Peer } from './peer.js'

/** How long a WebRTC mesh may take to form on a loaded 2-core machine. */
export const MESH_TIMEOUT = 30_000

/** Every peer's view, keyed by node id. */
export async function states(peers: readonly Peer[]): Promise<Record<string, NodeState>> {
  const views = await Promise.all(peers.map((p) => p.run('state')))
  return Object.fromEntries(views.map((v) => [v.id, v]))
}

/** Waits until each peer sees every other one up. */
export async function waitForMesh(peers: readonly Peer[], timeout = MESH_TIMEOUT): Promise<void> {
  const ids = peers.map((p) => p.nodeId).sort()
  await expect
    .poll(
      async () => {
        const views = await states(peers)
        return Object.fromEntries(Object.entries(views).map(([id, v]) => [id, v.nodes]))
      },
      { timeout, message: 'every peer sees every other peer' },
    )
    .toEqual(Object.fromEntries(ids.map((id) => [id, ids.filter((other) => other !== id)])))
}

/** Waits until every peer's registry, as name → nodes (in the agreed order), equals `expected` (any order). */
export async function waitForRegistry(peers: readonly Peer[], expected: Record<string, string[]>, timeout = MESH_TIMEOUT): Promise<void> {
  const sorted = (registry: Record<string, string[]>): Record<string, string[]> =>
    Object.fromEntries(Object.entries(registry).map(([name, nodes]) => [name, [...nodes].sort()]))
  await expect
    .poll(
      async () => {
        const views = await states(peers)
        return Object.fromEntries(Object.entries(views).map(([id, v]) => [id, sorted(v.registry)]))
      },
      { timeout, message: 'every peer has the expected registry' },
    )
    .toEqual(Object.fromEntries(peers.map((p) => [p.nodeId, sorted(expected)])))
}

/** Waits until every peer has the same registry, each name's nodes in the same (agreed) order. */
export async function waitForAgreement(peers: readonly Peer[], timeout = MESH_TIMEOUT): Promise<Record<string, string[]>> {
  let agreed: Record<string, string[]> = {}
  await expect
    .poll(
      async () => {
        // Names in any order (a Map's order is local history); the nodes of a name in the agreed one.
        const views = Object.values(await states(peers)).map((v) => JSON.stringify(Object.entries(v.registry).sort()))
        agreed = Object.fromEntries(JSON.parse(views[0] ?? '[]') as [string, string[]][])
        return new Set(views).size
      },
      { timeout, message: 'every peer has the same registry' },
    )
    .toBe(1)
  return agreed
}
