/**
 * A tab that goes away takes its names with it, on every other node, within the bound:
 *
 * - closed (`page.close()`, with or without beforeunload handlers): the page's `pagehide`
 *   stops its node, whose goodbye makes peers drop it at once (nodedown reason 'stop');
 * - crashed (the renderer killed through CDP `Page.crash`): nothing is said, so peers see
 *   the silence — within heartbeatTimeout + a quarter of a heartbeatInterval, 1.625 s at the
 *   defaults.
 *
 * Each case prints the measured time and asserts it is under BOUND_MS: the heartbeat bound
 * plus margin for a loaded 2-core machine.
 */
import { expect, test, type Tab } from './support/fixtures.js'
import { waitForMesh, waitForRegistry } from './support/mesh.js'
import type { Peer } from './support/peer.js'

const BOUND_MS = 5000

/** Kills the renderer of a page: CDP answers never (the renderer is gone), Playwright sees 'crash'. */
async function crashRenderer(tab: Tab): Promise<void> {
  const crashed = tab.page.waitForEvent('crash')
  const cdp = await tab.context.newCDPSession(tab.page)
  void cdp.send('Page.crash').catch(() => 'no answer: the renderer died, as asked')
  await crashed
}

const endings: { how: string; end: (tab: Tab) => Promise<void>; graceful: boolean }[] = [
  { how: 'closed with beforeunload', end: (tab) => tab.page.close({ runBeforeUnload: true }), graceful: true },
  { how: 'closed without beforeunload', end: (tab) => tab.page.close({ runBeforeUnload: false }), graceful: true },
  { how: 'crashed', end: crashRenderer, graceful: false },
]

for (const { how, end, graceful } of endings) {
  test(`a tab ${how} leaves the registry of the others within ${BOUND_MS} ms`, async ({ openTab, startEdge }, testInfo) => {
    const leaving = await openTab('leaving')
    const stayers: Peer[] = [await openTab('staying'), await startEdge('edge')]
    const peers = [leaving, ...stayers]
    await waitForMesh(peers)
    for (const peer of peers) await peer.run('serveEcho', `echo@${peer.nodeId}`)
    await leaving.run('serveEcho', 'leaving-service')
    await waitForRegistry(peers, {
      'echo@leaving': ['leaving'],
      'echo@staying': ['staying'],
      'echo@edge': ['edge'],
      'leaving-service': ['leaving'],
    })

    const endedAt = Date.now()
    await end(leaving)
    await waitForRegistry(stayers, { 'echo@staying': ['staying'], 'echo@edge': ['edge'] })

    // When each stayer dropped the tab, by its own clock (same machine, same wall clock).
    for (const stayer of stayers) {
      const down = (await stayer.run('nodeEvents')).find((e) => e.type === 'nodedown' && e.node === 'leaving')
      const lastLeave = (await stayer.run('changes')).filter((c) => c.type === 'leave' && c.node === 'leaving').at(-1)
      expect(down, `${stayer.nodeId} saw the tab go down`).toBeDefined()
      expect(lastLeave, `${stayer.nodeId} saw its names leave`).toBeDefined()
      const ms = Math.max(down!.at, lastLeave!.at) - endedAt
      const line = `${how}: ${stayer.runtime} ${stayer.nodeId} dropped the tab's names after ${ms} ms (nodedown reason '${down!.reason}')`
      console.log(line)
      testInfo.annotations.push({ type: 'timing', description: line })
      expect(ms, line).toBeLessThan(BOUND_MS)
      // A closing page says goodbye; a crashed one cannot, and is found out by its silence.
      if (graceful) expect(down!.reason, line).toBe('stop')
      else expect(down!.reason, line).not.toBe('stop')
    }
  })
}
