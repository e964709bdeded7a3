/**
 * Churn benchmark: an observer node and a peer killed and restarted N times (each
 * incarnation registers a name, so it is a writer of the registry document), on the
 * in-memory network. Prints the observer's heap after GC after 10 restarts and after N, and
 * their ratio: a node that outlives many peer incarnations must keep no residue of them.
 *
 * Two measures: `heapUsed` after GC (the whole process), and the JS data on the heap (a heap
 * snapshot without V8's compiled code, which grows for a while as more functions turn hot:
 * not a residue, but enough to blur the first). A throwaway observer warms the code up first.
 *
 * Run: `npm run bench:churn` (options: --restarts=N, default 1000; --warmup=N, default 300;
 * --snapshot=DIR writes heap snapshots after 10 and N restarts, to diff).
 */
import { writeHeapSnapshot } from 'node:v8'
import { createMemoryNetwork, startNode, type DistribunatorNode, type MemoryNetwork } from '../src/index.js'
import { dataHeapBytes } from '../test/fixtures/heap.js'

const option = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const RESTARTS = Number(option('restarts') ?? 1000)
const WARMUP = Number(option('warmup') ?? 300)
const SNAPSHOTS = option('snapshot')
/** The grace period the issue measured with; restarts here are seen at once (Hello, kill). */
const GRACE_PERIOD = 2000
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

function heapAfterGc(): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

function waitFor(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition()) resolve()
      else setTimeout(check, 0)
    }
    check()
  })
}

/** An observer holding a name; `restart` starts the peer, waits until both see each other's names, and kills it. */
async function observed(network: MemoryNetwork, room: string): Promise<{ observer: DistribunatorNode; restart: () => Promise<void> }> {
  const start = (nodeId: string): Promise<DistribunatorNode> =>
    startNode({ room, nodeId, transport: network.transport(), registryGracePeriod: GRACE_PERIOD })
  const observer = await start('observer')
  observer.register('observer', observer.spawn({}))
  const restart = async (): Promise<void> => {
    const peer = await start('peer')
    const pid = peer.spawn({})
    peer.register('svc', pid)
    await waitFor(() => observer.allPidsOf('svc').some((p) => p.equals(pid)) && peer.allPidsOf('observer').length === 1)
    network.kill('peer')
    await waitFor(() => !observer.nodes().includes('peer'))
    await peer.stop()
  }
  return { observer, restart }
}

const warm = await observed(createMemoryNetwork(), 'warmup')
for (let i = 0; i < WARMUP; i++) await warm.restart()
await warm.observer.stop()

const { observer, restart } = await observed(createMemoryNetwork(), 'churn')
const heap = new Map<number, number>()
const data = new Map<number, number>()
for (let i = 1; i <= RESTARTS; i++) {
  await restart()
  if (i === 10 || i === RESTARTS || i % 100 === 0) {
    heap.set(i, heapAfterGc())
    console.log(`restart ${i}: heap after GC ${(heap.get(i)! / 1024).toFixed(0)} KiB`)
  }
  if (i === 10 || i === RESTARTS) {
    data.set(i, await dataHeapBytes())
    if (SNAPSHOTS !== undefined) writeHeapSnapshot(`${SNAPSHOTS}/churn-${i}.heapsnapshot`)
  }
}
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`
for (const [label, values] of [
  ['heap after GC', heap],
  ['JS data (no code)', data],
] as const) {
  const [first, last] = [values.get(10)!, values.get(RESTARTS)!]
  console.log(
    `${label}: ${kib(first)} after 10 restarts, ${kib(last)} after ${RESTARTS}: ${(last / first).toFixed(3)}× (${((last - first) / (RESTARTS - 10)).toFixed(0)} B per restart)`,
  )
}
await observer.stop()
