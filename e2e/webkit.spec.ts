/**
 * Safari's engine without WebRTC: a WebKit tab (WebKitGTK's MiniBrowser, whose build has no
 * RTCPeerConnection) joins a room through a signaling server that relays (`relay: true`). It
 * is a full member: it sees the others' names and calls a Chromium tab and a Node peer, and
 * they call it, while those two stay on WebRTC between themselves.
 */
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { EdgeProcess } from './support/edge-process.js'
import { expect, test } from './support/fixtures.js'
import { waitForMesh, waitForRegistry } from './support/mesh.js'
import type { Peer } from './support/peer.js'
import { launchWebKit, openWebKitPage, webkitPeer, type WebKitBrowser } from './support/webkit.js'

test('a WebKit tab without WebRTC joins through the server relay, calls a Chromium tab and a Node peer, and is called by them', async ({
  openTab,
  pageUrl,
  nodeOptions,
}) => {
  let server: SignalingServer | undefined
  let webkit: WebKitBrowser | undefined
  let edge: EdgeProcess | undefined
  try {
    server = await startSignalingServer({ port: 0, relay: true })
    const options = (nodeId: string) => ({ ...nodeOptions(nodeId), signaling: [server!.url] })

    webkit = await launchWebKit()
    await openWebKitPage(webkit, pageUrl)
    const safari = webkitPeer(webkit, 'webkit')
    expect(await webkit.driver.executeScript('return typeof RTCPeerConnection'), 'this WebKit has no WebRTC').toBe('undefined')
    await safari.run('start', options('webkit'))
    const tab = await openTab('chromium', { start: false })
    await tab.run('start', options('chromium'))
    edge = await EdgeProcess.spawn('node')
    await edge.run('start', options('node'))

    const peers: Peer[] = [safari, tab, edge]
    await waitForMesh(peers)
    for (const peer of peers) await peer.run('serveEcho', `echo@${peer.nodeId}`)
    await waitForRegistry(peers, Object.fromEntries(peers.map((p) => [`echo@${p.nodeId}`, [p.nodeId]])))
    for (const from of peers) {
      for (const to of peers.filter((p) => p !== from)) {
        const route = `${from.nodeId} → ${to.nodeId}`
        expect(await from.run('call', `echo@${to.nodeId}`, { route }), route).toEqual({ echo: { route }, by: to.nodeId })
      }
    }

    // The WebKit tab's links go through the server; the other two still link directly.
    const via = async (peer: Peer) => Object.fromEntries((await peer.run('links')).map((l) => [l.node, l.via]))
    expect(await via(safari)).toEqual({ chromium: 'server-relay', node: 'server-relay' })
    expect(await via(tab)).toMatchObject({ webkit: 'server-relay', node: 'webrtc' })
    expect(await via(edge)).toMatchObject({ webkit: 'server-relay', chromium: 'webrtc' })
    // What the server relays shows in its metrics: a 300 kB call and its reply cross it.
    const bytesIn = async () => {
      const metrics = await (await fetch(`${server!.url.replace(/^ws/, 'http')}/metrics`)).text()
      return Number(/^distribunator_signal_bytes_total\{direction="in"\} (\d+)$/m.exec(metrics)?.[1] ?? 0)
    }
    const before = await bytesIn()
    const big = 'x'.repeat(300_000)
    expect(await safari.run('call', 'echo@chromium', big)).toEqual({ echo: big, by: 'chromium' })
    expect((await bytesIn()) - before, 'bytes the server took in for the call').toBeGreaterThan(2 * big.length)

    expect(await safari.run('errors'), 'error events in WebKit').toEqual([])
    expect(await edge.run('errors'), 'error events in the Node peer').toEqual([])
  } finally {
    await edge?.close()
    await webkit?.close()
    await server?.close()
  }
})
