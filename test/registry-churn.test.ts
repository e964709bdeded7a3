/**
 * A long-lived node whose peer restarts again and again (a tab reloaded all day) must not
 * keep a residue of every incarnation it saw: the registry document's history of dead
 * writers is dropped with a fresh epoch (registry.ts), and the names stay right throughout.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createMemoryNetwork, startNode, type DistribunatorNode } from '../src/index.js'
import { dataHeapBytes } from './fixtures/heap.js'
import { idle, until } from './helpers.js'

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
