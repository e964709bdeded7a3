/**
 * One node under test, whatever runs it: a Chromium tab (Playwright), a Firefox tab
 * (puppeteer-core) or a Node process. Each runs the same test API (e2e/page/test-api.ts),
 * so a test drives them alike: `await peer.run('call', 'echo', 'hi')`.
 */
import type { Page } from '@playwright/test'
import type { Page as PuppeteerPage } from 'puppeteer-core'
import type { TestApi } from '../page/test-api.js'

/** A method of the test API. */
export type Method = keyof TestApi

/** What a method of the test API resolves with. */
export type Result<M extends Method> = Awaited<ReturnType<TestApi[M]>>

/** A node under test. */
export interface Peer {
  /** Who runs it, for messages: 'chromium', 'firefox', 'node'. */
  readonly runtime: string
  /** The node id it was (or will be) started with. */
  readonly nodeId: string
  /** Calls a test API method on the node. */
  run<M extends Method>(method: M, ...args: Parameters<TestApi[M]>): Promise<Result<M>>
}

/** Runs `window.dn[method](...args)` in a page; shared by both browser drivers. */
function invoke([method, args]: [string, unknown[]]): unknown {
  const api = (window as unknown as { dn: Record<string, (...a: unknown[]) => unknown> }).dn
  return api[method]?.(...args)
}

/** A node in a Playwright page of the test page. */
export function pagePeer(page: Page, nodeId: string, runtime = 'chromium'): Peer {
  return {
    runtime,
    nodeId,
    run: async (method, ...args) => page.evaluate(invoke, [method, args] as [string, unknown[]]) as never,
  }
}

/** A node in a puppeteer page of the test page (Firefox over WebDriver BiDi). */
export function puppeteerPeer(page: PuppeteerPage, nodeId: string, runtime = 'firefox'): Peer {
  return {
    runtime,
    nodeId,
    run: async (method, ...args) => page.evaluate(invoke, [method, args] as [string, unknown[]]) as never,
  }
}

/** A node in a Web Worker or SharedWorker that a Playwright page started (e2e/page/workers.ts). */
export function workerPeer(page: Page, nodeId: string, runtime = 'worker'): Peer {
  return {
    runtime,
    nodeId,
    run: async (method, ...args) =>
      page.evaluate(
        ([id, m, a]) => {
          const control = (window as unknown as { dnWorkers: { run(id: string, m: string, a: unknown[]): Promise<unknown> } }).dnWorkers
          return control.run(id, m, a)
        },
        [nodeId, method, args] as [string, string, unknown[]],
      ) as never,
  }
}
