/**
 * WebKit, Safari's engine: the MiniBrowser that Debian's WebKitGTK ships, driven by
 * WebKitGTK's WebDriver (`webkit2gtk-driver`) under a virtual X server (Xvfb), through
 * selenium-webdriver. Playwright cannot drive a stock WebKitGTK, and cannot download its own
 * WebKit here. This build has no WebRTC: its tab joins a room through the server relay.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { expect } from '@playwright/test'
import { Builder, type WebDriver } from 'selenium-webdriver'
import { miniBrowserPath, webkitDriverPath, xvfbPath } from './browsers.js'
import type { Peer } from './peer.js'

/** A MiniBrowser window with the test page, and what runs it. */
export interface WebKitBrowser {
  readonly driver: WebDriver
  /** Ends the session, the driver and the X server. */
  close(): Promise<void>
}

/** Starts Xvfb, WebKitWebDriver and a MiniBrowser session. */
export async function launchWebKit(): Promise<WebKitBrowser> {
  const children: ChildProcess[] = []
  const stopAll = async (): Promise<void> => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      child.kill()
      await once(child, 'exit')
    }
  }
  try {
    // -displayfd: Xvfb picks a free display and writes its number once it accepts clients.
    const xvfb = spawn(xvfbPath(), ['-displayfd', '1', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    children.push(xvfb)
    const display = await firstLine(xvfb, 'Xvfb')

    const port = await freePort()
    const webdriver = spawn(webkitDriverPath(), [`--port=${port}`], {
      env: { ...process.env, DISPLAY: `:${display}` },
      stdio: 'ignore',
    })
    children.push(webdriver)
    const server = `http://127.0.0.1:${port}`
    await expect.poll(() => isReady(server), { message: 'WebKitWebDriver answers /status', timeout: 15_000 }).toBe(true)

    const driver = await new Builder()
      .usingServer(server)
      .withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: miniBrowserPath(), args: ['--automation'] },
      })
      .build()
    return {
      driver,
      close: async () => {
        await driver.quit().catch(() => undefined)
        await stopAll()
      },
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}

/** Loads `url` and waits until the test page is ready. */
export async function openWebKitPage(browser: WebKitBrowser, url: string): Promise<void> {
  await browser.driver.get(url)
  await browser.driver.wait(() => browser.driver.executeScript('return document.body.dataset.ready === "true"'), 30_000)
}

/** The node in a WebKit page of the test page. */
export function webkitPeer(browser: WebKitBrowser, nodeId: string, runtime = 'webkit'): Peer {
  return {
    runtime,
    nodeId,
    run: async (method, ...args) => {
      // WebDriver's async script: the last argument is the callback; errors come back as values.
      const outcome = (await browser.driver.executeAsyncScript(
        `const [method, args, done] = arguments
         Promise.resolve()
           .then(() => window.dn[method](...args))
           .then((value) => done({ ok: true, value: value === undefined ? null : value }),
                 (error) => done({ ok: false, name: String(error && error.name), message: String(error && error.message) }))`,
        method,
        args,
      )) as { ok: true; value: unknown } | { ok: false; name: string; message: string }
      if (!outcome.ok) throw Object.assign(new Error(outcome.message), { name: outcome.name })
      return outcome.value as never
    },
  }
}

function firstLine(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(text.trim())
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)))
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function isReady(server: string): Promise<boolean> {
  try {
    const response = await fetch(`${server}/status`)
    return response.ok && ((await response.json()) as { value?: { ready?: boolean } }).value?.ready === true
  } catch {
    return false
  }
}
