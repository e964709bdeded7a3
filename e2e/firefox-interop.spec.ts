/**
 * Chromium ↔ Firefox ↔ Node: Chromium tabs (Playwright), a Firefox ESR tab (puppeteer-core
 * over WebDriver BiDi) and Node edge peers (node-datachannel) in one room, three WebRTC stacks
 * in one mesh, each offering to each other one. Each calls, casts to and rpcs a service on each
 * of the others.
 */
import type { Browser } from 'puppeteer-core'
import { expect, test } from './support/fixtures.js'
import { launchFirefox, openFirefoxPage } from './support/firefox.js'
import { waitForAgreement, waitForMesh, waitForRegistry } from './support/mesh.js'
import { puppeteerPeer, type Peer } from './support/peer.js'

test('Chromium, Firefox and Node call each other in one room', async ({ openTab, startEdge, pageUrl, nodeOptions }) => {
  let firefox: Browser | undefined
  try {
    firefox = await launchFirefox()
    const foxPage = await openFirefoxPage(firefox, pageUrl)
    const uncaught: string[] = []
    foxPage.on('pageerror', (error) => void uncaught.push(String(error)))
    const fox = puppeteerPeer(foxPage, 'firefox')
    await fox.run('start', nodeOptions('firefox'))
    // Who offers is who sorts first, so each stack offers to each other one: 'chromium' to
    // all, 'edge' to 'firefox', 'firefox' to 'node', both to 'tab'.
    const peers: Peer[] = [await openTab('chromium'), fox, await startEdge('node'), await startEdge('edge'), await openTab('tab')]
    await waitForMesh(peers)
    // Three WebRTC stacks: each pair links over WebRTC itself, whichever of them offers.
    for (const peer of peers) {
      const links = (await peer.run('links')).filter((link) => link.up)
      expect(links.map((link) => `${link.node} via ${link.via}`).sort(), peer.nodeId).toEqual(
        peers
          .filter((p) => p !== peer)
          .map((p) => `${p.nodeId} via webrtc`)
          .sort(),
      )
    }
    for (const peer of peers) {
      await peer.run('serveEcho', `echo@${peer.nodeId}`)
      await peer.run('serveInbox', `inbox@${peer.nodeId}`)
    }
    await waitForRegistry(
      peers,
      Object.fromEntries(
        peers.flatMap((p) => [
          [`echo@${p.nodeId}`, [p.nodeId]],
          [`inbox@${p.nodeId}`, [p.nodeId]],
        ]),
      ),
    )
    await waitForAgreement(peers)

    const runtimes = { chromium: 'Chrome', tab: 'Chrome', firefox: 'Firefox', node: 'Node', edge: 'Node' } as Record<string, string>
    for (const from of peers) {
      for (const to of peers.filter((p) => p !== from)) {
        const route = `${from.nodeId} → ${to.nodeId}`
        expect(await from.run('call', `echo@${to.nodeId}`, { route }), route).toEqual({ echo: { route }, by: to.nodeId })
        expect(await from.run('cast', `inbox@${to.nodeId}`, route), route).toBe(true)
        expect(await from.run('rpc', to.nodeId, 'runtime', []), route).toContain(runtimes[to.nodeId])
      }
    }
    for (const to of peers) {
      const expected = peers
        .filter((p) => p !== to)
        .map((p) => `${p.nodeId} → ${to.nodeId}`)
        .sort()
      await expect.poll(async () => ((await to.run('call', `inbox@${to.nodeId}`, 'read')) as string[]).sort()).toEqual(expected)
    }
    // The fixtures check the Chromium tab and the Node peer; this is the Firefox tab's check.
    expect(uncaught, 'uncaught errors in Firefox').toEqual([])
    expect(await fox.run('errors'), 'error events in Firefox').toEqual([])
  } finally {
    await firefox?.close()
  }
})
