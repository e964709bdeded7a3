/**
 * One room over a cluster of three signaling servers sharing a real Redis: a Chromium tab on
 * server 1, a Firefox tab on server 2 and a Node peer on server 3 meet, though no two of them
 * share a server, and call each other.
 */
import type { Browser } from 'puppeteer-core'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { startRedis, type RedisServer } from '../test/fixtures/redis-server.js'
import { EdgeProcess } from './support/edge-process.js'
import { expect, test } from './support/fixtures.js'
import { launchFirefox, openFirefoxPage } from './support/firefox.js'
import { waitForMesh, waitForRegistry } from './support/mesh.js'
import { puppeteerPeer, type Peer } from './support/peer.js'

test('a Chromium tab, a Firefox tab and a Node peer on three servers of a cluster meet and call each other', async ({
  openTab,
  pageUrl,
  nodeOptions,
}) => {
  let redis: RedisServer | undefined
  let firefox: Browser | undefined
  let edge: EdgeProcess | undefined
  const servers: SignalingServer[] = []
  try {
    redis = await startRedis()
    for (let i = 0; i < 3; i++) servers.push(await startSignalingServer({ port: 0, redis: redis.url }))
    await expect.poll(() => servers.every((s) => s.health().redis === 'up')).toBe(true)
    const [one, two, three] = servers as [SignalingServer, SignalingServer, SignalingServer]

    const tab = await openTab('chromium', { start: false })
    await tab.run('start', { ...nodeOptions('chromium'), signaling: [one.url] })
    firefox = await launchFirefox()
    const fox = puppeteerPeer(await openFirefoxPage(firefox, pageUrl), 'firefox')
    await fox.run('start', { ...nodeOptions('firefox'), signaling: [two.url] })
    edge = await EdgeProcess.spawn('node')
    await edge.run('start', { ...nodeOptions('node'), signaling: [three.url] })
    // Each on its own server: they can only meet through Redis. (The Node peer's socket opens after its start resolves.)
    await expect.poll(() => servers.map((s) => s.connections())).toEqual([1, 1, 1])

    const peers: Peer[] = [tab, fox, edge]
    await waitForMesh(peers)
    for (const peer of peers) await peer.run('serveEcho', `echo@${peer.nodeId}`)
    await waitForRegistry(peers, Object.fromEntries(peers.map((p) => [`echo@${p.nodeId}`, [p.nodeId]])))
    for (const from of peers) {
      for (const to of peers.filter((p) => p !== from)) {
        const route = `${from.nodeId} → ${to.nodeId}`
        expect(await from.run('call', `echo@${to.nodeId}`, { route }), route).toEqual({ echo: { route }, by: to.nodeId })
      }
    }
    expect(await fox.run('errors'), 'error events in Firefox').toEqual([])
    expect(await edge.run('errors'), 'error events in the Node peer').toEqual([])
  } finally {
    await edge?.close()
    await firefox?.close()
    await Promise.all(servers.map((s) => s.close()))
    await redis?.stop()
  }
})
