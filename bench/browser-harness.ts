/**
 * What the browser benchmark runs on: the bench page bundled from src with Vite's JS API,
 * served by Vite's preview server (cross-origin isolated), our signaling server, a
 * PeerServer (`peer`) for PeerJS, and Chromium tabs each in a context (profile) of its own
 * unless told to share one. Reuses the e2e suite's Chromium lookup.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test'
import { PeerServer } from 'peer'
import { build, preview } from 'vite'
import { CHROMIUM_ARGS, chromiumPath } from '../e2e/support/browsers.js'
import { startSignalingServer } from '../signaling-server/index.js'
import { dataBytesOfSnapshot } from '../test/fixtures/heap.js'
// window.bench, for the functions the harness runs in pages.
import type {} from './browser-page/main.js'
import type { PeerServerAddress } from './browser-page/peerjs-pipe.js'

/** Where the built page goes (under test-results/, which git ignores). */
const PAGE_DIR = fileURLToPath(new URL('../test-results/bench-browser-page/', import.meta.url))

/** One tab of the bench page. */
export interface Tab {
  readonly page: Page
  readonly context: BrowserContext
  readonly cdp: CDPSession
  /** Runs `fn(arg)` in the page (it reaches the page's API as `window.bench`). */
  run<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>
  /** JS heap in use after a full GC, bytes (CDP Runtime.getHeapUsage). */
  heapUsed(): Promise<number>
  /** The heap's data alone, without the code V8 compiles (a heap snapshot, so after a full GC), bytes. */
  dataHeapBytes(): Promise<number>
}

/** The running servers and browser. */
export class Harness {
  private constructor(
    readonly browser: Browser,
    readonly signalingUrl: string,
    readonly peerServer: PeerServerAddress,
    private readonly pageUrl: string,
    private readonly closers: (() => Promise<void>)[],
  ) {}

  /** Builds the page, starts the servers and Chromium. */
  static async start(): Promise<Harness> {
    await build({
      root: fileURLToPath(new URL('./browser-page/', import.meta.url)),
      configFile: false,
      logLevel: 'warn',
      build: { outDir: PAGE_DIR, emptyOutDir: true, target: 'es2022', minify: false, sourcemap: true },
    })
    const signaling = await startSignalingServer({ port: 0, host: '127.0.0.1' })
    // Cross-origin isolation gives performance.now() its 5 µs resolution (100 µs otherwise).
    const statics = await preview({
      configFile: false,
      logLevel: 'warn',
      build: { outDir: PAGE_DIR },
      preview: {
        host: '127.0.0.1',
        port: 0,
        headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
      },
    })
    const pageUrl = statics.resolvedUrls?.local[0]
    if (pageUrl === undefined) throw new Error('vite preview has no local URL')
    const peer = await startPeerServer()
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true })
    return new Harness(browser, signaling.url, peer.address, pageUrl, [
      () => browser.close(),
      peer.close,
      () => statics.close(),
      signaling.close,
    ])
  }

  /** A new browser context: a profile of its own. */
  async newContext(): Promise<BrowserContext> {
    const context = await this.browser.newContext()
    return context
  }

  /** Opens the bench page in `context` (a new one by default) and waits until it is ready. */
  async openTab(context?: BrowserContext): Promise<Tab> {
    const ctx = context ?? (await this.newContext())
    const page = await ctx.newPage()
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`))
    await page.goto(this.pageUrl)
    await page.waitForFunction(() => document.body.dataset.ready === 'true')
    const cdp = await ctx.newCDPSession(page)
    return {
      page,
      context: ctx,
      cdp,
      run: (fn, arg) => page.evaluate(fn as never, arg) as never,
      async heapUsed() {
        await cdp.send('HeapProfiler.collectGarbage')
        return (await cdp.send('Runtime.getHeapUsage')).usedSize
      },
      async dataHeapBytes() {
        const chunks: string[] = []
        const collect = ({ chunk }: { chunk: string }): number => chunks.push(chunk)
        cdp.on('HeapProfiler.addHeapSnapshotChunk', collect)
        try {
          await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false })
        } finally {
          cdp.off('HeapProfiler.addHeapSnapshotChunk', collect)
        }
        return dataBytesOfSnapshot(chunks.join(''))
      },
    }
  }

  /** Closes a context (its tabs). */
  async closeContext(context: BrowserContext): Promise<void> {
    await context.close()
  }

  /** Closes the browser and every server. */
  async close(): Promise<void> {
    for (const close of this.closers) await close().catch((error: Error) => console.error(`closing: ${error.message}`))
  }
}

/** A PeerServer on a free loopback port. */
async function startPeerServer(): Promise<{ address: PeerServerAddress; close: () => Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    PeerServer({ port: 0, host: '127.0.0.1', path: '/' }, (s) => resolve(s as Server))
  })
  const { port } = server.address() as AddressInfo
  return {
    address: { host: '127.0.0.1', port, path: '/' },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
