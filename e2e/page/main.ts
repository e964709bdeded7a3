/**
 * The e2e test page: the library straight from src (bundled by Vite as an app would, so
 * a test run needs no library build), and the test API on `window.dn` for Playwright.
 */
import { startNode } from '../../src/index.js'
import { createTestApi, type TestApi } from './test-api.js'

declare global {
  interface Window {
    /** The e2e test API (see test-api.ts). */
    dn: TestApi
  }
}

window.dn = createTestApi(startNode)
document.body.dataset.ready = 'true'
