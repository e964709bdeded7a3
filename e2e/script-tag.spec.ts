/**
 * The script-tag build (dist/distribunator.iife.js, made by `npm run build`) from a plain
 * HTML page, no bundler and no modules: `window.Distribunator.startNode` joins the room,
 * a GenServer subclass written in plain JavaScript serves calls, and the page calls a
 * Node edge peer back.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test } from './support/fixtures.js'
import { startStaticServer, type StaticServer } from './support/static-server.js'

const IIFE = fileURLToPath(new URL('../dist/distribunator.iife.js', import.meta.url))
const PAGE = fileURLToPath(new URL('./script-tag/', import.meta.url))

/** What the page puts on window. */
interface ScriptTagWindow {
  Distribunator?: Record<string, unknown>
  node: { id: string; call(name: string, msg: unknown): Promise<unknown> }
}

let site: StaticServer
test.beforeAll(async () => {
  if (!existsSync(IIFE)) throw new Error(`${IIFE} is missing: run \`npm run build\` before the e2e suite`)
  site = await startStaticServer({ '/': PAGE, '/distribunator.iife.js': IIFE, '/distribunator.iife.js.map': `${IIFE}.map` })
})
test.afterAll(async () => site?.close())

test('a plain HTML page uses window.Distribunator from the script-tag build', async ({ browser, room, signalingUrl, startEdge }) => {
  const edge = await startEdge('edge')
  await edge.run('serveEcho', 'echo@edge')
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    const uncaught: string[] = []
    page.on('pageerror', (error) => void uncaught.push(error.message))
    const query = new URLSearchParams({ room, signaling: signalingUrl, nodeId: 'script-tag' })
    await page.goto(`${site.url}/?${query}`)
    await expect(page.locator('#status')).toHaveText('started')
    const exported = await page.evaluate(() => Object.keys((window as unknown as ScriptTagWindow).Distribunator ?? {}).sort())
    expect(exported).toEqual(expect.arrayContaining(['GenServer', 'NoPidError', 'Pid', 'createMemoryNetwork', 'startNode']))

    // Its greeter is listed on the edge once the two are linked.
    await expect.poll(async () => (await edge.run('state')).registry.greeter).toEqual(['script-tag'])
    expect(await edge.run('call', 'greeter', 'edge')).toBe('hello edge, from script-tag')
    const reply = await page.evaluate(() => (window as unknown as ScriptTagWindow).node.call('echo@edge', 'from a script tag'))
    expect(reply).toEqual({ echo: 'from a script tag', by: 'edge' })
    expect(uncaught, 'uncaught errors in the page').toEqual([])
  } finally {
    await context.close()
  }
})
