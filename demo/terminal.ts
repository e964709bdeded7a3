/**
 * A terminal tour of the library on the in-memory network: three nodes, a counter service
 * registered on two of them, calls and casts by name, a crash with failover, and a netsplit
 * that heals to the exact union. Run with `npm start`.
 */
import { GenServer, createMemoryNetwork, startNode, type DistribunatorNode, type From } from '../src/index.js'

class Counter extends GenServer<'next' | 'peek', number, number> {
  static override serviceName = 'counter'
  private count = 0
  override handleCall(msg: 'next' | 'peek', from: From): number {
    if (msg === 'next') this.count++
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
    const check = (): void => (condition() ? resolve() : void setTimeout(check, 1))
    check()
  })
}

const network = createMemoryNetwork({ latency: [1, 3] })
const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((nodeId) =>
  startNode({ room: 'tour', nodeId, transport: network.transport() })))) as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
await until(() => [a, b, c].every((n) => n.nodes().length === 2))
say(`three nodes up: ${[a, b, c].map((n) => `${n.id} sees [${n.nodes().join(', ')}]`).join('; ')}`)

c.watch('counter', (e) => say(`  c sees ${e.type} of ${e.pid} (${e.reason})`))
await a.start(Counter)
await b.start(Counter)
await until(() => c.allPidsOf(Counter).length === 2)
say(`counter lives on ${c.allNodesOf(Counter).join(' and ')}; 'first' pick everywhere: ${c.pidOf(Counter, { pick: 'first' })}`)

say('c calls the counter by name:')
await c.call(Counter, 'next')
c.cast(Counter, 10)
await c.call(Counter, 'next')

say('node a crashes:')
network.kill('a')
await until(() => c.allPidsOf(Counter).length === 1)
say('c calls again and fails over to b:')
await c.call(Counter, 'next')

say('netsplit b | c, then heal:')
network.partition(['b'], ['c'])
await until(() => c.allPidsOf(Counter).length === 0)
say(`  during the split c sees ${c.allPidsOf(Counter).length} counters`)
network.heal()
await until(() => c.allPidsOf(Counter).length === 1)
say(`  after the heal c sees ${c.allPidsOf(Counter).map(String).join(', ')}`)

await Promise.all([b.stop(), c.stop()])
say('done.')
