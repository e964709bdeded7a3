/**
 * The e2e worker: a node in a Web Worker or SharedWorker, joined through the pages that
 * attach it (`parent: self`). Its start options come in its URL (`?options=<json>`), so the
 * node starts while the script loads, before a SharedWorker's first 'connect'. It runs the
 * same test API as the page, answering `{ dnCommand, method, args }` messages from a page.
 */
import { startNode, type WorkerScope } from '../../src/index.js'
import { createTestApi } from './test-api.js'

interface Command {
  readonly dnCommand: number
  readonly method: string
  readonly args: unknown[]
}

const scope = self as unknown as WorkerScope & { location: Location; postMessage(message: unknown): void }
const api = createTestApi(startNode)
const options = JSON.parse(new URL(scope.location.href).searchParams.get('options') ?? '{}') as Parameters<typeof api.start>[0]
const started = api.start({ ...options, parent: scope })

async function answer(command: Command, reply: (message: unknown) => void): Promise<void> {
  try {
    await started
    const method = (api as unknown as Record<string, (...args: unknown[]) => unknown>)[command.method]
    if (method === undefined) throw new Error(`no test API method ${command.method}`)
    reply({ dnReply: command.dnCommand, ok: true, value: await method(...command.args) })
  } catch (error) {
    reply({ dnReply: command.dnCommand, ok: false, error: String(error) })
  }
}

function isCommand(data: unknown): data is Command {
  return typeof (data as Command | null)?.dnCommand === 'number'
}

// A dedicated worker: commands on `self`.
scope.addEventListener('message', (event) => {
  if (isCommand(event.data)) void answer(event.data, (m) => scope.postMessage(m))
})
// A SharedWorker: commands on each page's port.
scope.addEventListener('connect', (event) => {
  const port = event.ports[0]
  if (port === undefined) return
  port.addEventListener('message', (message) => {
    if (isCommand(message.data)) void answer(message.data, (m) => port.postMessage(m))
  })
  port.start()
})
