/**
 * Starts what the demo needs, together: the signaling server (its embedded defaults, port
 * 4444) and the web app, through Vite's JS API — the dev server, or a production build
 * served by `vite preview`. Used by `npm start` (serve.ts) and by screenshot.ts.
 */
import { fileURLToPath } from 'node:url'
import { build, createServer, preview } from 'vite'
import { startSignalingServer } from '../signaling-server/index.js'

/** Options of `startDemo`. */
export interface DemoServerOptions {
  /** Port of the web app; 0 picks a free one. @default 5173 (or the next free one) */
  readonly port?: number
  /** Port of the signaling server; 0 picks a free one. @default 4444 */
  readonly signalingPort?: number
  /** 'dev': Vite's dev server on the sources; 'preview': build demo/dist, then serve it. @default 'dev' */
  readonly mode?: 'dev' | 'preview'
  /** Vite's log level. @default 'info' */
  readonly logLevel?: 'info' | 'warn' | 'error' | 'silent'
}

/** The running demo. */
export interface DemoServer {
  /** The page to open; it names the signaling server in its query when that is not on port 4444. */
  readonly url: string
  readonly signalingUrl: string
  /** Stops the web server and the signaling server. */
  close(): Promise<void>
}

const DEFAULT_SIGNALING_PORT = 4444
const configFile = fileURLToPath(new URL('../vite.demo.config.ts', import.meta.url))

/** Starts the signaling server and the web app; resolves once both listen. */
export async function startDemo(options: DemoServerOptions = {}): Promise<DemoServer> {
  const signalingPort = options.signalingPort ?? DEFAULT_SIGNALING_PORT
  const logLevel = options.logLevel ?? 'info'
  const signaling = await startSignalingServer({ port: signalingPort }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error
    throw new Error(`port ${signalingPort} is taken (another npm start?): stop it, or set SIGNALING_PORT`, { cause: error })
  })
  try {
    const web = await startWeb(options.mode ?? 'dev', options.port ?? 5173, logLevel)
    const base = web.resolvedUrls?.local[0]
    if (base === undefined) throw new Error('Vite did not report the URL it listens on')
    const url = signaling.port === DEFAULT_SIGNALING_PORT ? base : `${base}?signaling=${encodeURIComponent(signaling.url)}`
    let closing: Promise<void> | undefined
    return {
      url,
      signalingUrl: signaling.url,
      close: () => (closing ??= Promise.all([web.close(), signaling.close()]).then(() => undefined)),
    }
  } catch (error) {
    await signaling.close()
    throw error
  }
}

async function startWeb(mode: 'dev' | 'preview', port: number, logLevel: DemoServerOptions['logLevel']) {
  if (mode === 'preview') {
    await build({ configFile, logLevel: logLevel === 'info' ? 'warn' : logLevel })
    return preview({ configFile, logLevel, preview: { port } })
  }
  const server = await createServer({ configFile, logLevel, server: { port } })
  await server.listen()
  return server
}
