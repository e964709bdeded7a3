/**
 * Three Chromium tabs (three browser contexts: three profiles, so they meet over WebRTC
 * through our signaling server) and a Node edge peer in one room: names registered
 * anywhere are seen everywhere, and call, cast and rpc work in every direction — tab → tab,
 * tab → Node, Node → tab.
 */
import { expect, test } from './support/fixtures.js'
import { waitForAgreement, waitForMesh, waitForRegistry } from './support/mesh.js'
import type { Peer } from './support/peer.js'

test('register, call, cast and rpc across tabs and a Node peer', async ({ openTab, startEdge }) => {
  const peers: Peer[] = [await openTab('tab-a'), await openTab('tab-b'), await openTab('tab-c'), await startEdge('edge')]
  await waitForMesh(peers)

  for (const peer of peers) {
    await peer.run('serveEcho', `echo@${peer.nodeId}`)
    await peer.run('serveInbox', `inbox@${peer.nodeId}`)
  }
  // One name on two nodes: every node lists both, in one agreed order.
  await peers[0]!.run('serveEcho', 'shared')
  await peers[3]!.run('serveEcho', 'shared')
  const expected: Record<string, string[]> = { shared: ['tab-a', 'edge'] }
  for (const peer of peers) {
    expected[`echo@${peer.nodeId}`] = [peer.nodeId]
    expected[`inbox@${peer.nodeId}`] = [peer.nodeId]
  }
  await waitForRegistry(peers, expected)
  const agreed = await waitForAgreement(peers)
  expect([...(agreed.shared ?? [])].sort()).toEqual(['edge', 'tab-a'])

  for (const from of peers) {
    for (const to of peers) {
      if (from === to) continue
      const route = `${from.runtime} ${from.nodeId} → ${to.runtime} ${to.nodeId}`
      expect(await from.run('call', `echo@${to.nodeId}`, { from: from.nodeId, n: 1 }), route).toEqual({
        echo: { from: from.nodeId, n: 1 },
        by: to.nodeId,
      })
      expect(await from.run('cast', `inbox@${to.nodeId}`, `cast from ${from.nodeId}`), route).toBe(true)
      expect(await from.run('rpc', to.nodeId, 'whoami', []), route).toBe(to.nodeId)
      expect(await from.run('rpc', to.nodeId, 'add', [2, 3]), route).toBe(5)
      expect(await from.run('rpc', to.nodeId, 'runtime', []), route).toContain(to.runtime === 'node' ? 'Node' : 'Chrome')
    }
  }

  // Casts arrive in order per sender; each inbox ends up with one from every other node.
  for (const to of peers) {
    const others = peers
      .filter((p) => p !== to)
      .map((p) => `cast from ${p.nodeId}`)
      .sort()
    await expect
      .poll(async () => ((await to.run('call', `inbox@${to.nodeId}`, 'read')) as string[]).sort(), {
        message: `casts to ${to.nodeId}`,
      })
      .toEqual(others)
  }

  // The shared name answers from whichever node is first in the agreed order, the same everywhere.
  const first = agreed.shared?.[0]
  for (const peer of peers.filter((p) => p.nodeId !== first)) {
    expect(await peer.run('call', 'shared', 'who?')).toEqual({ echo: 'who?', by: first })
  }
})
