/**
 * `npm run tour`: the signaling server on its defaults (ws://127.0.0.1:4444), and a tour in
 * the terminal — three nodes meet through it over real WebRTC, call a counter service by
 * name, and fail over when the node serving it leaves. The server then stays up, so other
 * processes or browser tabs can join room 'tour' until Ctrl-C.
 */
import { startSignalingServer } from '../signaling-server/index.js'
import { GenServer, startNode, type DistribunatorNode, type From } from '../src/index.js'

class Counter extends GenServer<'next', number, number> {
  static override serviceName = 'counter'
  private count = 0
  override handleCall(_msg: 'next', from: From): number {
    this.count++
    say(`  ${this.self} answers ${from.node}: ${this.count}`)
    return this.count
  }
  override handleCast(by: number): void {
    this.count += by
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (condition() ? resolve() : void setTimeout(check, 5))
    check()
  })
}

const port = Number(process.env.PORT ?? 4444)
const server = await startSignalingServer({ port })
say(`signaling server: ${server.url}`)

const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((nodeId) => startNode({ room: 'tour', nodeId, signaling: [server.url] })))) as [
  DistribunatorNode,
  DistribunatorNode,
  DistribunatorNode,
]
await until(() => [a, b, c].every((n) => n.nodes().length === 2))
say(`three nodes meshed over WebRTC: ${[a, b, c].map((n) => `${n.id} sees [${n.nodes().join(', ')}]`).join('; ')}`)

c.watch('counter', (e) => say(`  c sees ${e.type} of ${e.pid} (${e.reason})`))
await a.start(Counter)
await b.start(Counter)
await until(() => c.allPidsOf(Counter).length === 2)
say(`counter lives on ${c.allNodesOf(Counter).join(' and ')}; the first in every node's order: ${c.pidOf(Counter, { pick: 'first' })}`)

say('c calls the counter by name:')
await c.call(Counter, 'next')
c.cast(Counter, 10)
await c.call(Counter, 'next')

say('node a leaves:')
await a.stop()
await until(() => c.allPidsOf(Counter).length === 1)
say('c calls again and fails over to b:')
await c.call(Counter, 'next')

say(`\nroom 'tour' stays open on ${server.url} with b and c in it; join it from another process with`)
say(`  startNode({ room: 'tour', signaling: ['${server.url}'] })`)
say('Ctrl-C to stop.')
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([b.stop(), c.stop()])
      .then(() => server.close())
      .then(() => process.exit(0))
  })
}
b.on('nodeup', ({ node }) => say(`  ${node} joined`))
b.on('nodedown', ({ node, reason }) => say(`  ${node} left (${reason})`))
