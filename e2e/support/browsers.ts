/**
 * Finds the browsers the e2e suite drives: the system's Chromium and Firefox ESR (Debian
 * packages), or Playwright's own Chromium where one is installed. Throws a clear error
 * naming what to install when none is found.
 */
import { existsSync } from 'node:fs'
import { chromium } from '@playwright/test'

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome']
const FIREFOX_PATHS = ['/usr/bin/firefox-esr', '/usr/bin/firefox']

/** Chromium's executable: $CHROMIUM_PATH, a system Chromium, or Playwright's own. */
export function chromiumPath(): string {
  const found = firstExisting([process.env.CHROMIUM_PATH, ...CHROMIUM_PATHS, playwrightChromium()])
  if (found === undefined) {
    throw new Error(
      `no Chromium found (looked at $CHROMIUM_PATH, ${CHROMIUM_PATHS.join(', ')} and Playwright's own): ` +
        'install it with `apt-get install -y chromium` (or `npx playwright install chromium` where downloads work)',
    )
  }
  return found
}

/** Firefox's executable for WebDriver BiDi: $FIREFOX_PATH or a system Firefox (ESR). */
export function firefoxPath(): string {
  const found = firstExisting([process.env.FIREFOX_PATH, ...FIREFOX_PATHS])
  if (found === undefined) {
    throw new Error(
      `no Firefox found (looked at $FIREFOX_PATH, ${FIREFOX_PATHS.join(', ')}): install it with \`apt-get install -y firefox-esr\``,
    )
  }
  return found
}

/** Chromium flags for this suite: root in a container, no GPU, no background traffic, plain host ICE candidates. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  // Otherwise host candidates are mDNS `.local` names, which Firefox and Node cannot resolve here.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]

/** Firefox prefs for this suite: plain host ICE candidates rather than mDNS names. */
export const FIREFOX_PREFS = { 'media.peerconnection.ice.obfuscate_host_addresses': false }

function playwrightChromium(): string | undefined {
  try {
    return chromium.executablePath()
  } catch {
    // Playwright throws when its browser registry has no entry for this platform.
    return undefined
  }
}

function firstExisting(paths: readonly (string | undefined)[]): string | undefined {
  return paths.find((p): p is string => p !== undefined && p !== '' && existsSync(p))
}
