/**
 * The bench's worker: a node joined through the page that attaches it (`parent: self`),
 * serving 'echo' and 'sink' as a tab's node does (ours.ts), and the far end of a raw
 * MessagePort the page hands it, for the baseline of the same two threads.
 */
import { startNode, type WorkerScope } from '../../src/index.js'
import { portPipe, serveEcho, serveSink, type Pipe } from './pipe.js'

/** What the page sends on the worker itself (not on the raw port). */
type Command =
  { readonly benchPort: MessagePort } | { readonly benchServe: 'echo' } | { readonly benchServe: 'sink'; readonly count: number }

const scope = self as unknown as WorkerScope & { location: Location; postMessage(message: unknown): void }
const { room } = JSON.parse(new URL(scope.location.href).searchParams.get('options') ?? '{}') as { room: string }

void startNode({ room, nodeId: 'worker', parent: scope }).then((node) => {
  node.register('echo', node.spawn({ handleCall: (msg: unknown) => msg }))
  let count = 0
  node.register(
    'sink',
    node.spawn({
      handleCast: () => void count++,
      handleCall: () => {
        const seen = count
        count = 0
        return seen
      },
    }),
  )
})

let raw: Pipe | undefined

scope.addEventListener('message', (event: MessageEvent) => {
  const command = event.data as Command | null
  if (command === null || typeof command !== 'object') return
  if ('benchPort' in command) raw = portPipe(command.benchPort)
  else if ('benchServe' in command && raw !== undefined) {
    if (command.benchServe === 'echo') serveEcho(raw)
    else serveSink(raw, command.count)
    // On the worker itself, so the page knows the port's handler is set before it sends there.
    scope.postMessage({ benchServing: command.benchServe })
  }
})
