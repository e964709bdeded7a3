/**
 * `npm run demo:screenshots`: starts the demo as `npm start` does (on free ports), opens
 * three tabs of one Chromium window in a fresh room, waits until they see each other,
 * plays a short session (notes, typing, a pointer, counter calls and a cast, then closing
 * the tab that serves the counter) and saves PNGs in demo/screenshots/: the wide layout
 * (1280×800) and the narrow one (420 px). `--preview` uses the production build.
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from '@playwright/test'
import { startDemo } from './demo-server.js'

const outDir = fileURLToPath(new URL('./screenshots/', import.meta.url))
const WAIT = { timeout: 30_000 }
const say = (line: string): void => void process.stdout.write(`${line}\n`)

const demo = await startDemo({ port: 0, signalingPort: 0, mode: process.argv.includes('--preview') ? 'preview' : 'dev', logLevel: 'warn' })
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
  ],
})
try {
  await mkdir(outDir, { recursive: true })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const room = `screens-${Date.now().toString(36)}`
  const url = `${demo.url}#room=${room}`
  say(`demo at ${url}`)
  const pages: Page[] = []
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage()
    page.on('pageerror', (error) => say(`page ${i}: ${error.message}`))
    // The third tab leaves BroadcastChannel out: it meets the others over WebRTC only, so
    // the inspector shows both kinds of link.
    await page.goto(i === 2 ? url.replace('#', `${url.includes('?') ? '&' : '?'}broadcast=off#`) : url)
    pages.push(page)
    if (i === 0) {
      await page.waitForFunction(() => window.demo?.node.allNodesOf('counter').length === 1, undefined, WAIT)
      await shoot(page, 'first-tab-alone')
    }
  }
  const [a, b, c] = pages as [Page, Page, Page]
  for (const page of pages) {
    await page.waitForFunction(() => window.demo?.node.nodes().length === 2 && window.demo.presence.people().length === 3, undefined, WAIT)
    await page.waitForFunction(() => window.demo?.node.allNodesOf('counter').length === 3, undefined, WAIT)
  }
  say('three tabs see each other')

  await addNote(a, 'Welcome! Drag me by the top bar.\n\nEvery tab sees this note at once.', 60, 40)
  await addNote(b, 'Type here in two tabs at the same time: Y.Text merges it.', 330, 90)
  await addNote(c, 'Ideas\n• a job queue service\n• failover drills', 110, 250)
  await addNote(b, 'Close the tab that serves the counter — the next call fails over.', 520, 300)
  for (const page of pages)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="note"]').length === 4, undefined, WAIT)

  for (let i = 0; i < 3; i++) await b.getByTestId('counter-call').click()
  await c.getByTestId('counter-cast').click()
  await a.getByTestId('counter-call').click()
  for (const page of pages)
    await page.waitForFunction(() => document.querySelector('[data-testid="counter-value"]')?.textContent === '14', undefined, WAIT)
  await b.getByTestId('counter-log').locator('li').nth(2).waitFor(WAIT)

  // c types in the second note, b points at the board: a shows both.
  await c.getByTestId('note-text').nth(1).click()
  await b.mouse.move(520, 520)
  await b.mouse.move(560, 540, { steps: 4 })
  await a.locator('.cursor').first().waitFor(WAIT)
  await a.locator('.note.edited').first().waitFor(WAIT)
  for (const page of pages)
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="peers"] .rtt')].every((td) => td.textContent !== '–'),
      undefined,
      WAIT,
    )

  await shoot(a, 'wide-1280x800')
  await a.getByTestId('registry').scrollIntoViewIfNeeded()
  await shoot(a, 'wide-inspector')

  await c.setViewportSize({ width: 420, height: 860 })
  await c.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await shoot(c, 'narrow-420')
  await shoot(c, 'narrow-420-full', true)

  // Failover: close the tab that serves the counter; the others call again.
  const serving = await a.getByTestId('served-by').getAttribute('data-node')
  const servingPage = (await Promise.all(pages.map(async (p) => [p, await p.evaluate(() => window.demo?.node.id)] as const))).find(
    ([, id]) => id === serving,
  )?.[0]
  if (servingPage === undefined) throw new Error(`no tab runs the serving node ${serving}`)
  const survivors = pages.filter((p) => p !== servingPage)
  await servingPage.close({ runBeforeUnload: true })
  for (const page of survivors) {
    await page.waitForFunction(
      (gone) => {
        const node = document.querySelector('[data-testid="served-by"]')?.getAttribute('data-node')
        return node !== gone && node !== '' && window.demo?.node.nodes().length === 1
      },
      serving,
      WAIT,
    )
  }
  const [first] = survivors as [Page]
  await first.getByTestId('counter-call').click()
  for (const page of survivors)
    await page.waitForFunction(() => document.querySelector('[data-testid="counter-value"]')?.textContent === '15', undefined, WAIT)
  await shoot(first, 'failover')
  say(`screenshots in ${outDir}`)
} finally {
  await browser.close()
  await demo.close()
}

/** Double-clicks the board of `page` at board pixels (x, y) and types `text` in the new note. */
async function addNote(page: Page, text: string, x: number, y: number): Promise<void> {
  const count = await page.getByTestId('note').count()
  await page.getByTestId('board').dblclick({ position: { x, y } })
  await page.getByTestId('note').nth(count).waitFor(WAIT)
  await page.keyboard.type(text, { delay: 2 })
}

async function shoot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: `${outDir}${name}.png`, fullPage, animations: 'disabled' })
  say(`saved ${name}.png`)
}
