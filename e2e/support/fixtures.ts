/**
 * The e2e fixtures. Per worker: our signaling server on a free port, and a static server
 * for the built test page. Per test: a room of its own, and factories for Chromium tabs
 * (each in its own browser context, i.e. its own profile, so tabs meet over WebRTC rather
 * than BroadcastChannel) and Node edge peers, all cleaned up after the test.
 */
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test'
import { startSignalingServer } from '../../signaling-server/index.js'
import { PAGE_DIR } from './build-page.js'
import { EdgeProcess } from './edge-process.js'
import { pagePeer, type Peer } from './peer.js'
import { startStaticServer } from './static-server.js'
import type { StartOptions } from '../page/test-api.js'

/** A Chromium tab running the test page. */
export interface Tab extends Peer {
  readonly page: Page
  readonly context: BrowserContext
}

interface WorkerFixtures {
  /** ws:// URL of our signaling server. */
  signalingUrl: string
  /** http:// URL of the built test page. */
  pageUrl: string
}

interface TestFixtures {
  /** A room name no other test uses. */
  room: string
  /** Node options joining this test's room through the signaling server. */
  nodeOptions: (nodeId: string) => StartOptions
  /** Opens the test page in a new browser context (`context` to share one) and starts a node in it. */
  openTab: (nodeId: string, options?: { context?: BrowserContext; start?: boolean }) => Promise<Tab>
  /** Starts a Node edge peer in the room. */
  startEdge: (nodeId: string) => Promise<EdgeProcess>
}

/** Playwright's `test` with the e2e fixtures. */
export const test = base.extend<TestFixtures, WorkerFixtures>({
  signalingUrl: [
    async ({}, use) => {
      const server = await startSignalingServer({ port: 0 })
      await use(server.url)
      await server.close()
    },
    { scope: 'worker' },
  ],

  pageUrl: [
    async ({}, use) => {
      const server = await startStaticServer({ '/': PAGE_DIR })
      await use(`${server.url}/`)
      await server.close()
    },
    { scope: 'worker' },
  ],

  room: async ({}, use, testInfo) => {
    await use(`e2e-${testInfo.testId}-${testInfo.retry}`)
  },

  nodeOptions: async ({ room, signalingUrl }, use) => {
    await use((nodeId) => ({ room, nodeId, signaling: [signalingUrl] }))
  },

  openTab: async ({ browser, pageUrl, nodeOptions }, use) => {
    const contexts: BrowserContext[] = []
    const opened: { tab: Tab; crashed: boolean; uncaught: string[] }[] = []
    await use(async (nodeId, { context, start = true } = {}) => {
      if (context === undefined) {
        context = await browser.newContext()
        contexts.push(context)
      }
      const page = await context.newPage()
      const tab: Tab = { ...pagePeer(page, nodeId), page, context }
      const record = { tab, crashed: false, uncaught: [] as string[] }
      opened.push(record)
      page.on('crash', () => void (record.crashed = true))
      page.on('pageerror', (error) => void record.uncaught.push(error.message))
      await page.goto(pageUrl)
      await page.waitForFunction(() => document.body.dataset.ready === 'true')
      if (start) await tab.run('start', nodeOptions(nodeId))
      return tab
    })
    // Whatever the test checked, a tab must not have thrown or seen a bad frame on the way.
    const problems: string[] = []
    for (const { tab, crashed, uncaught } of opened) {
      problems.push(...uncaught.map((message) => `${tab.nodeId}: uncaught ${message}`))
      if (!crashed && !tab.page.isClosed()) problems.push(...(await tab.run('errors')).map((e) => `${tab.nodeId}: ${e}`))
    }
    for (const context of contexts) await context.close()
    expect(problems, 'errors in the tabs').toEqual([])
  },

  startEdge: async ({ nodeOptions }, use) => {
    const edges: EdgeProcess[] = []
    await use(async (nodeId) => {
      const edge = await EdgeProcess.spawn(nodeId)
      edges.push(edge)
      await edge.run('start', nodeOptions(nodeId))
      return edge
    })
    const problems: string[] = []
    for (const edge of edges) {
      const errors = await edge.run('errors').catch((error: Error) => [`no answer: ${error.message}`])
      problems.push(...errors.map((e) => `${edge.nodeId}: ${e}`))
      await edge.close()
    }
    expect(problems, 'errors in the Node peers').toEqual([])
  },
})

export { expect }
