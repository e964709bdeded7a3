/**
 * A long-lived node whose peer restarts again and again (a tab reloaded all day) must not
 * keep a residue of every incarnation it saw: the registry document's history of dead
 * writers is dropped with a fresh epoch (registry.ts), and the names stay right throughout.
 */
import { getHeapSnapshot } from 'node:v8'
import { afterEach, describe, expect, it } from 'vitest'
import { createMemoryNetwork, startNode, type DistribunatorNode } from '../src/index.js'
import { idle, until } from './helpers.js'

/**
 * Bytes of JavaScript data on the heap (a snapshot, taken after a full GC), leaving out what
 * V8 compiles: its code grows for a while as more functions turn hot, which is not a residue.
 */
async function dataHeapBytes(): Promise<number> {
  const chunks: Buffer[] = []
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer)
  const { snapshot, nodes } = JSON.parse(Buffer.concat(chunks).toString()) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
  }
  const fields = snapshot.meta.node_fields
  const [typeAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('self_size')]
  const types = snapshot.meta.node_types[0]
  let bytes = 0
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]!]
    if (type !== 'code' && type !== 'hidden') bytes += nodes[i + sizeAt]!
  }
  return bytes
}

let stopAll: (() => Promise<void>) | undefined
afterEach(async () => {
  await stopAll?.()
  stopAll = undefined
})

describe('peer churn', () => {
  it('a node keeps no residue of 500 peer incarnations, and shows the right names throughout', async () => {
    const network = createMemoryNetwork()
    const start = (nodeId: string): Promise<DistribunatorNode> =>
      startNode({ room: 'churn', nodeId, transport: network.transport(), registryGracePeriod: 2000 })
    const observer = await start('observer')
    stopAll = () => observer.stop()
    const own = idle(observer)
    observer.register('observer', own)
    const restart = async (): Promise<void> => {
      const peer = await start('peer')
      const pid = idle(peer)
      peer.register('svc', pid)
      await until(() => observer.allPidsOf('svc').some((p) => p.equals(pid)) && peer.allPidsOf('observer').length === 1)
      // Exact through every epoch: the live peer's name, and the observer's own.
      expect(observer.allPidsOf('svc')).toEqual([pid])
      expect(observer.allPidsOf('observer')).toEqual([own])
      network.kill('peer')
      await until(() => !observer.nodes().includes('peer'))
      await peer.stop()
    }
    for (let i = 0; i < 50; i++) await restart()
    const before = await dataHeapBytes()
    for (let i = 0; i < 500; i++) await restart()
    const growth = (await dataHeapBytes()) - before
    // A Y.Doc alone keeps ~650 bytes per dead writer: over 300 KiB here.
    expect(growth).toBeLessThan(100 * 1024)
  }, 60_000)
})
