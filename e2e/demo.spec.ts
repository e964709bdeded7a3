/**
 * The demo as `npm start` serves it (demo/demo-server.ts: our signaling server and Vite's
 * dev server, here on free ports), in three tabs: two of one browser profile (they meet
 * over BroadcastChannel) and one of another (WebRTC). A light session — a note, counter
 * calls and a cast, the serving tab closed and the counter failing over — and screenshots
 * of each tab saved as artifacts in test-results/e2e/ (kept by CI).
 */
import type { Page, TestInfo } from '@playwright/test'
import { startDemo, type DemoServer } from '../demo/demo-server.js'
import { expect, test } from './support/fixtures.js'

const VIEWPORT = { width: 1280, height: 800 }

let demo: DemoServer
test.beforeAll(async () => {
  demo = await startDemo({ port: 0, signalingPort: 0, mode: 'dev', logLevel: 'warn' })
})
test.afterAll(async () => demo?.close())

test('the demo in three tabs: notes, the counter service, failover; screenshots', async ({ browser, room }, testInfo) => {
  const profile1 = await browser.newContext({ viewport: VIEWPORT })
  const profile2 = await browser.newContext({ viewport: VIEWPORT })
  try {
    // The room goes in the hash, after the query naming the signaling server.
    const url = `${demo.url}#room=${room}`
    const tabs: Page[] = []
    const uncaught: string[] = []
    for (const context of [profile1, profile1, profile2]) {
      const page = await context.newPage()
      page.on('pageerror', (error) => void uncaught.push(error.message))
      await page.goto(url)
      tabs.push(page)
    }
    const [a, b, c] = tabs as [Page, Page, Page]
    for (const tab of tabs) {
      await expect.poll(() => tab.evaluate(() => window.demo?.node.nodes().length ?? 0), { timeout: 30_000 }).toBe(2)
      await expect.poll(() => tab.evaluate(() => window.demo?.node.allNodesOf('counter').length ?? 0), { timeout: 30_000 }).toBe(3)
      await expect(tab.getByTestId('presence-count')).toHaveText('3')
    }
    const ids = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.demo!.node.id)))
    const links = await a.evaluate(() => window.demo!.node.links().map((l) => [l.node, l.via]))
    expect(Object.fromEntries(links)).toEqual({ [ids[1]!]: 'broadcast-channel', [ids[2]!]: 'webrtc' })

    // A note added in one tab shows in all three.
    await a.getByTestId('board').dblclick({ position: { x: 220, y: 120 } })
    await a.getByTestId('note-text').first().waitFor()
    await a.keyboard.type('Written in tab A, seen in B and C.')
    for (const tab of tabs) await expect(tab.getByTestId('note-text').first()).toHaveValue('Written in tab A, seen in B and C.')

    // Two calls and a cast to the counter, whichever tab serves it.
    await b.getByTestId('counter-call').click()
    await b.getByTestId('counter-call').click()
    await c.getByTestId('counter-cast').click()
    for (const tab of tabs) await expect(tab.getByTestId('counter-value')).toHaveText('12')
    for (const [i, tab] of tabs.entries()) await screenshot(tab, `demo-tab-${'abc'[i]}`, testInfo)

    // Failover: the serving tab closes; the next call is served by another.
    const serving = await a.getByTestId('served-by').getAttribute('data-node')
    const servingTab = tabs[ids.indexOf(serving ?? '')]
    expect(servingTab, `the serving node ${serving} is one of the tabs`).toBeDefined()
    await servingTab!.close({ runBeforeUnload: true })
    const survivors = tabs.filter((t) => t !== servingTab)
    for (const tab of survivors) {
      await expect(tab.getByTestId('served-by')).not.toHaveAttribute('data-node', serving!)
      await expect(tab.getByTestId('served-by')).not.toHaveAttribute('data-node', '')
    }
    await survivors[0]!.getByTestId('counter-call').click()
    for (const tab of survivors) await expect(tab.getByTestId('counter-value')).toHaveText('13')
    await screenshot(survivors[0]!, 'demo-after-failover', testInfo)
    expect(uncaught, 'uncaught errors in the demo').toEqual([])
  } finally {
    await profile1.close()
    await profile2.close()
  }
})

/** Saves a PNG in the test's output directory and attaches it to the report. */
async function screenshot(page: Page, name: string, testInfo: TestInfo): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`)
  await page.screenshot({ path, fullPage: true, animations: 'disabled' })
  await testInfo.attach(name, { path, contentType: 'image/png' })
}
