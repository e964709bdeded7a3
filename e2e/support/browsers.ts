/**
 * Finds the browsers the e2e suite drives: the system's Chromium and Firefox ESR (Debian
 * packages), or Playwright's own Chromium where one is installed. Throws a clear error
 * naming what to install when none is found.
 */
import { existsSync } from 'node:fs'
import { chromium } from '@playwright/test'

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome']
const FIREFOX_PATHS = ['/usr/bin/firefox-esr', '/usr/bin/firefox']
const MINIBROWSER_PATHS = [
  '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
  '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
  '/usr/libexec/webkit2gtk-4.1/MiniBrowser',
]

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

/** WebKitGTK's WebDriver: $WEBKIT_DRIVER_PATH or Debian's `webkit2gtk-driver`. */
export function webkitDriverPath(): string {
  return required('WebKitWebDriver', [process.env.WEBKIT_DRIVER_PATH, '/usr/bin/WebKitWebDriver'], 'webkit2gtk-driver')
}

/** The MiniBrowser WebKitGTK ships (the browser its WebDriver drives): $MINIBROWSER_PATH or libwebkit2gtk's. */
export function miniBrowserPath(): string {
  return required('MiniBrowser', [process.env.MINIBROWSER_PATH, ...MINIBROWSER_PATHS], 'webkit2gtk-driver')
}

/** The virtual X server WebKit runs under: $XVFB_PATH or Debian's `xvfb`. */
export function xvfbPath(): string {
  return required('Xvfb', [process.env.XVFB_PATH, '/usr/bin/Xvfb'], 'xvfb')
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

function required(what: string, paths: readonly (string | undefined)[], debianPackage: string): string {
  const found = firstExisting(paths)
  if (found === undefined) {
    const looked = paths.filter((p) => p !== undefined && p !== '').join(', ')
    throw new Error(`no ${what} found (looked at ${looked}): install it with \`apt-get install -y ${debianPackage}\``)
  }
  return found
}
