/**
 * Workers are nodes: a Web Worker and a SharedWorker, each attached to its page's node
 * (`node.attachWorker` / `parent: self`), are addressable from the whole mesh — a tab of
 * another profile and a Node peer call them, and they call back — through tunnels their
 * pages open as gateways, since workers have no WebRTC of their own.
 */
import { expect, test } from './support/fixtures.js'
import { waitForMesh, waitForRegistry } from './support/mesh.js'
import { workerPeer, type Peer } from './support/peer.js'

/** A worker's start options: its room and id, no signaling (it has no WebRTC to meet with). */
function workerOptions(options: { room: string; nodeId?: string }): { room: string; nodeId?: string } {
  return { room: options.room, nodeId: options.nodeId }
}

/** Every peer calls, casts to and rpcs every other one. */
async function allTalk(peers: readonly Peer[]): Promise<void> {
  for (const peer of peers) await peer.run('serveEcho', `echo@${peer.nodeId}`)
  await waitForRegistry(peers, Object.fromEntries(peers.map((p) => [`echo@${p.nodeId}`, [p.nodeId]])))
  for (const from of peers) {
    for (const to of peers) {
      if (from === to) continue
      const route = `${from.runtime} ${from.nodeId} → ${to.runtime} ${to.nodeId}`
      expect(await from.run('call', `echo@${to.nodeId}`, from.nodeId), route).toEqual({ echo: from.nodeId, by: to.nodeId })
      expect(await from.run('rpc', to.nodeId, 'whoami', []), route).toBe(to.nodeId)
    }
  }
}

test('a Web Worker is a node: reached through its page by another profile and a Node peer', async ({ openTab, startEdge, nodeOptions }) => {
  const page = await openTab('page')
  await page.page.evaluate((options) => window.dnWorkers.spawn('dedicated', options), workerOptions(nodeOptions('worker')))
  const worker = workerPeer(page.page, 'worker')
  const peers: Peer[] = [page, worker, await openTab('other-profile'), await startEdge('edge')]
  await waitForMesh(peers)
  expect(Object.fromEntries((await worker.run('links')).map((l) => [l.node, l.via]))).toEqual({
    page: 'message-port',
    'other-profile': 'relay:page',
    edge: 'relay:page',
  })
  await allTalk(peers)
  expect(await worker.run('errors')).toEqual([])

  // The page closes: its worker goes with it, and leaves every registry.
  await page.page.close()
  await waitForRegistry(peers.slice(2), { 'echo@other-profile': ['other-profile'], 'echo@edge': ['edge'] })
})

test('a SharedWorker of two tabs stays reachable when one of them closes', async ({ openTab, startEdge, nodeOptions, browser }) => {
  const context = await browser.newContext()
  const first = await openTab('first', { context })
  const second = await openTab('second', { context })
  for (const tab of [first, second]) {
    await tab.page.evaluate((options) => window.dnWorkers.spawn('shared', options), workerOptions(nodeOptions('shared')))
  }
  const edge = await startEdge('edge')
  await waitForMesh([first, second, workerPeer(first.page, 'shared'), edge])
  // The Node peer reaches the worker through one of the two tabs: close that one.
  const via = (await edge.run('links')).find((l) => l.node === 'shared')?.via
  expect(via).toMatch(/^relay:(first|second)$/)
  const [gone, staying] = via === 'relay:first' ? [first, second] : [second, first]
  const shared = workerPeer(staying.page, 'shared')
  await allTalk([staying, shared, edge])

  await gone.page.close()
  await waitForMesh([staying, shared, edge])
  await expect.poll(async () => (await edge.run('links')).find((l) => l.node === 'shared')?.via).toBe(`relay:${staying.nodeId}`)
  expect(await edge.run('call', 'echo@shared', 'still there?')).toEqual({ echo: 'still there?', by: 'shared' })
  expect(await shared.run('errors')).toEqual([])
  await context.close()
})
