/**
 * Two links to one peer (two transports met it, or two gateways offered a tunnel): the node
 * sends on one, and when that one closes, the other takes over with nothing the peer needs
 * left behind on the link that went.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as sync from 'y-protocols/sync'
import * as decoding from 'lib0/decoding'
import { createMemoryNetwork, startNode } from '../src/index.js'
import { combineTransports } from '../src/transport/combined.js'
import { FrameType, type Frame } from '../src/wire.js'
import { until } from './helpers.js'
import { RawPeer, REGISTRY_DOC } from './raw-peer.js'

const stops: (() => unknown)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** True for a registry sync message of the given y-protocols kind. */
function isSync(kind: number): (frame: Frame) => boolean {
  return (frame) =>
    frame.type === FrameType.Sync && frame.doc === REGISTRY_DOC && decoding.readVarUint(decoding.createDecoder(frame.data)) === kind
}

describe('two links to one peer', () => {
  it('when the link in use closes, the peer gets a sync answer on the one that takes over', async () => {
    // One node on two networks, and one peer `w` on both: two links between the same pair.
    const [first, second] = [createMemoryNetwork(), createMemoryNetwork()]
    const node = await startNode({
      room: 'test',
      nodeId: 'r',
      transport: combineTransports([first.transport(), second.transport()]),
      stopTimeout: 20,
    })
    stops.push(() => node.stop())
    const overFirst = new RawPeer(first, 'w')
    stops.push(() => overFirst.close())
    await overFirst.join('r')
    await until(() => node.nodes().includes('w'))

    // `w` restarts its sync over the second link, as a node does that lost the first one's
    // gateway and took the second link for a new peer. The node still sends on the first link.
    const overSecond = new RawPeer(second, 'w')
    stops.push(() => overSecond.close())
    await overSecond.join('r')
    const answered = overFirst.from('r').filter(isSync(sync.messageYjsSyncStep2)).length
    await until(() => overFirst.from('r').filter(isSync(sync.messageYjsSyncStep2)).length > answered)
    expect(overSecond.from('r').filter(isSync(sync.messageYjsSyncStep2))).toEqual([])

    // The first link goes, with that answer lost with it: the node must answer again on the second.
    overFirst.close()
    await until(() => overSecond.from('r').some(isSync(sync.messageYjsSyncStep2)))
    expect(node.links()).toEqual([expect.objectContaining({ node: 'w', up: true, via: 'memory' })])
  })
})
