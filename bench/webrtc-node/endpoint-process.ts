/**
 * One benchmark endpoint in its own Node process (as in a real deployment): loads its
 * stack, reports `loaded` with its memory, then obeys commands from the main script over
 * IPC. Started by endpoint-handle.ts with `--expose-gc --import tsx`; the settings come as
 * one JSON argument.
 */
import type { Command, Endpoint, EndpointSettings, Memory, Report } from './endpoint.js'
import { OursEndpoint } from './ours-endpoint.js'
import { PeerjsEndpoint } from './peerjs-endpoint.js'
import { RawEndpoint } from './raw-endpoint.js'

const settings = JSON.parse(process.argv[2] ?? '{}') as EndpointSettings
const report = (message: Report): void => {
  process.send?.(message)
}

/** `generation` counts rejoins: a raw endpoint ignores negotiation left over from an earlier one. */
function create(room: string, generation: number): Endpoint {
  return settings.stack === 'ours'
    ? new OursEndpoint({ ...settings, room })
    : settings.stack === 'raw'
      ? new RawEndpoint(settings.id, generation, (to, data) => report({ event: 'signal', to, data }))
      : new PeerjsEndpoint(settings)
}

let generation = 0
let endpoint = create(settings.room, generation)

/** Memory after a full GC, so that garbage does not count. */
function memory(): Memory {
  ;(globalThis as { gc?: () => void }).gc?.()
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rss, heapUsed, external }
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'start':
      return endpoint.start()
    case 'mesh':
      return endpoint.mesh(command.peers)
    case 'pingPong':
      return endpoint.pingPong(command.peer, command.count, command.variant, command.gapMs)
    case 'arm':
      return endpoint.arm(command.count)
    case 'received':
      return endpoint.received()
    case 'blast':
      return endpoint.blast(command.peer, command.count, command.bytes)
    case 'armSeries':
      return endpoint.armSeries(command.tag, command.count)
    case 'collected':
      return endpoint.collected()
    case 'emit':
      return endpoint.emit(command.tag, command.count, command.perSecond)
    case 'gone':
      return endpoint.gone(command.peer)
    case 'signal':
      return endpoint.signal?.(command.from, command.data)
    case 'memory':
      return memory()
    case 'signalingPayloads':
      return endpoint.signalingPayloads?.()
    case 'forward':
      return endpoint.forward?.(...command.between)
    case 'via':
      return endpoint.via?.(command.peer)
    // CPU time (user + system, µs) this process has used: a cost that other load on the machine does not inflate.
    case 'cpu': {
      const { user, system } = process.cpuUsage()
      return user + system
    }
    case 'rejoin':
      await endpoint.stop()
      endpoint = create(command.room, ++generation)
      return endpoint.start()
    case 'stop':
      await endpoint.stop()
      setImmediate(() => process.exit(0))
      return undefined
  }
}

process.on('message', (message: Command & { id: number }) => {
  handle(message).then(
    (value) => report({ id: message.id, ok: true, value: value ?? null }),
    (error: Error) => report({ id: message.id, ok: false, error: error.stack ?? String(error) }),
  )
})
// The main script is gone (it crashed or was killed): do not outlive it.
process.on('disconnect', () => process.exit(0))
report({ event: 'loaded', memory: memory() })
