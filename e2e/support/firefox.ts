/**
 * Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi (Playwright cannot
 * drive a stock Firefox, and cannot download its own here). One browser per test.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { FIREFOX_PREFS, firefoxPath } from './browsers.js'

/** Launches a headless Firefox. */
export function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath(),
    protocol: 'webDriverBiDi',
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
  })
}

/** Opens `url` in a new Firefox page and waits until the test page is ready. */
export async function openFirefoxPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(url)
  await page.waitForFunction(() => document.body.dataset.ready === 'true', { timeout: 30_000 })
  return page
}
