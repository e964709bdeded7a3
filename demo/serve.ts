/**
 * `npm start`: the signaling server on ws://127.0.0.1:4444 and the demo web app on
 * http://127.0.0.1:5173/ (Vite's dev server; `--preview` serves a production build
 * instead), until Ctrl-C. PORT and SIGNALING_PORT change the ports.
 */
import { startDemo } from './demo-server.js'

const port = process.env.PORT === undefined ? undefined : Number(process.env.PORT)
const signalingPort = process.env.SIGNALING_PORT === undefined ? undefined : Number(process.env.SIGNALING_PORT)
const mode = process.argv.includes('--preview') ? 'preview' : 'dev'

try {
  const demo = await startDemo({ port, signalingPort, mode, logLevel: 'warn' })
  const say = (line: string): void => void process.stdout.write(`${line}\n`)
  say('')
  say('  Distribunator multi-tab demo')
  say('')
  say(`  open        ${demo.url}`)
  say('              …then open it in more tabs (or other browsers on this machine)')
  say(`  signaling   ${demo.signalingUrl}`)
  say(`  rooms       add #room=name to the URL for a room of your own`)
  say('')
  say('  Ctrl-C to stop. The terminal tour is `npm run tour`.')
  let stopping = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1) // a second Ctrl-C: do not wait
      stopping = true
      say('\n  stopping…')
      void demo.close().then(() => process.exit(0))
    })
  }
} catch (error) {
  process.stderr.write(`npm start: ${(error as Error).message}\n`)
  process.exit(1)
}
