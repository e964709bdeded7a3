#!/usr/bin/env node
/**
 * `distribunator-signal`: runs the signaling server until SIGINT or SIGTERM, then closes
 * every socket and exits 0. Usage errors exit 2, a failure to start exits 1.
 */
import { USAGE, UsageError, parseCommandLine } from './cli-args.js'
import { startSignalingServer, type SignalingServer } from './server.js'

async function main(): Promise<void> {
  let options
  try {
    options = parseCommandLine(process.argv.slice(2), process.env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`distribunator-signal: ${err.message}\nTry 'distribunator-signal --help'.\n`)
    process.exitCode = 2
    return
  }
  if (options === 'help') {
    process.stdout.write(USAGE)
    return
  }
  let server: SignalingServer
  try {
    server = await startSignalingServer(options)
  } catch (err) {
    process.stderr.write(`distribunator-signal: cannot start: ${(err as Error).message}\n`)
    process.exitCode = 1
    return
  }
  process.stdout.write(`distribunator signaling server listening on ${server.url}\n`)
  const shutdown = (signal: NodeJS.Signals): void => {
    process.stderr.write(`distribunator-signal: ${signal}, closing\n`)
    // A second signal during close falls back to Node's default: exit at once.
    process.off('SIGINT', shutdown)
    process.off('SIGTERM', shutdown)
    void server.close().then(() => {
      process.exitCode = 0
    })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

await main()
