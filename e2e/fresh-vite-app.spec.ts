/**
 * The fresh, zero-config Vite app (e2e/apps/fresh-vite-app, built into its dist/ by
 * `npm run check:fresh-app` from the packed package) runs in a browser: it joins the room
 * with a Chromium tab of the test page and a Node edge peer, and they call each other.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test } from './support/fixtures.js'
import { waitForMesh } from './support/mesh.js'
import { startStaticServer, type StaticServer } from './support/static-server.js'

const APP_DIST = fileURLToPath(new URL('./apps/fresh-vite-app/dist/', import.meta.url))

/** What the app puts on window (see its main.ts). */
interface FreshAppWindow {
  node?: {
    id: string
    call(name: string, msg: unknown): Promise<unknown>
    spawn(b: object): unknown
    register(name: string, pid: unknown): void
  }
}

let site: StaticServer
test.beforeAll(async () => {
  if (!existsSync(`${APP_DIST}index.html`))
    throw new Error(`${APP_DIST} is missing: run \`npm run build && npm run check:fresh-app\` before the e2e suite`)
  site = await startStaticServer({ '/': APP_DIST })
})
test.afterAll(async () => site?.close())

test('a fresh Vite app importing the package joins the room', async ({ browser, room, signalingUrl, openTab, startEdge }) => {
  const tab = await openTab('tab')
  const edge = await startEdge('edge')
  await waitForMesh([tab, edge])
  await tab.run('serveEcho', 'echo@tab')
  await edge.run('serveEcho', 'echo@edge')

  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    const uncaught: string[] = []
    page.on('pageerror', (error) => void uncaught.push(error.message))
    await page.goto(`${site.url}/?${new URLSearchParams({ room, signaling: signalingUrl, nodeId: 'fresh-app' })}`)
    await expect(page.locator('#status')).toHaveText('started')
    await expect(page.locator('#peers')).toHaveText('edge,tab', { timeout: 30_000 })

    // The app's own node serves a name the others call.
    await page.evaluate(() => {
      const node = (window as unknown as FreshAppWindow).node!
      node.register('echo@fresh-app', node.spawn({ handleCall: (msg: unknown) => ({ echo: msg, by: node.id }) }))
    })
    await expect.poll(async () => (await edge.run('state')).registry['echo@fresh-app']).toEqual(['fresh-app'])
    await expect.poll(async () => (await tab.run('state')).registry['echo@fresh-app']).toEqual(['fresh-app'])
    expect(await edge.run('call', 'echo@fresh-app', 'node → app')).toEqual({ echo: 'node → app', by: 'fresh-app' })
    expect(await tab.run('call', 'echo@fresh-app', 'tab → app')).toEqual({ echo: 'tab → app', by: 'fresh-app' })
    for (const name of ['echo@tab', 'echo@edge']) {
      const reply = await page.evaluate((n) => (window as unknown as FreshAppWindow).node!.call(n, 'app → peer'), name)
      expect(reply).toEqual({ echo: 'app → peer', by: name.slice('echo@'.length) })
    }
    expect(uncaught, 'uncaught errors in the app').toEqual([])
  } finally {
    await context.close()
  }
})
