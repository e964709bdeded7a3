/**
 * The e2e test page: the library straight from src (bundled by Vite as an app would, so
 * a test run needs no library build), and the test API on `window.dn` for Playwright.
 */
/// <reference types="vite/client" />
import { startNode, type DistribunatorNode } from '../../src/index.js'
import { createTestApi, type TestApi } from './test-api.js'
import { createWorkerControl, type WorkerControl } from './workers.js'

declare global {
  interface Window {
    /** The e2e test API (see test-api.ts). */
    dn: TestApi
    /** Workers started by this page (see workers.ts). */
    dnWorkers: WorkerControl
  }
}

let pageNode: DistribunatorNode | undefined
window.dn = createTestApi(async (options) => (pageNode = await startNode(options)))
window.dnWorkers = createWorkerControl(() => {
  if (pageNode === undefined) throw new Error('start the page node first')
  return pageNode
})
document.body.dataset.ready = 'true'
