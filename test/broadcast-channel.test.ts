/**
 * The BroadcastChannel transport over Node's own BroadcastChannel (the same API browsers
 * have; e2e/ proves it between real tabs), alone and combined with another transport.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ArgumentError,
  broadcastChannelTransport,
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type Link,
  type NodeOptions,
} from '../src/index.js'
import { BATCH, splitBatch } from '../src/transport/batching.js'
import { linkChannel } from '../src/transport/broadcast-channel.js'
import { idle, nextEvent, until } from './helpers.js'

let room = 0
const started: DistribunatorNode[] = []

/** A node on the BroadcastChannel of this test's room. */
async function node(nodeId: string, extra: Partial<NodeOptions> = {}): Promise<DistribunatorNode> {
  const n = await startNode({ room: `bc-${room}`, nodeId, broadcastChannel: true, ...extra })
  started.push(n)
  return n
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
  room++
})

describe('BroadcastChannel transport', () => {
  it('links nodes with no server, and carries names and calls', async () => {
    const a = await node('a')
    const b = await node('b')
    await until(() => a.nodes().includes('b') && b.nodes().includes('a'))
    expect(a.links()).toEqual([expect.objectContaining({ node: 'b', via: 'broadcast-channel', up: true })])

    const echo = b.spawn({ handleCall: (msg: unknown) => ({ echoed: msg }) })
    b.register('echo', echo)
    await until(() => a.pidOf('echo') !== undefined)
    await expect(a.call('echo', 'hi')).resolves.toEqual({ echoed: 'hi' })
  })

  it('meets a node that joins later, and each pair links once', async () => {
    const a = await node('a')
    const b = await node('b')
    await until(() => a.nodes().length === 1)
    const c = await node('c')
    await until(() => [a, b, c].every((n) => n.nodes().length === 2))
    for (const n of [a, b, c]) expect(n.links().map((l) => l.via)).toEqual(['broadcast-channel', 'broadcast-channel'])
  })

  it('keeps rooms and passwords apart', async () => {
    // Each channel gets a pair, so each channel is shown to work before its isolation is checked.
    const a = await node('a', { password: 'one' })
    const b = await node('b', { password: 'two' })
    const c = await node('c', { password: 'one' })
    const b2 = await node('b2', { password: 'two' })
    const d = await node('d', { room: `other-${room}`, password: 'one' })
    const d2 = await node('d2', { room: `other-${room}`, password: 'one' })
    const plain = await node('plain')
    const plain2 = await node('plain2')
    await until(() =>
      [
        [a, c],
        [b, b2],
        [d, d2],
        [plain, plain2],
      ].every(([x, y]) => x!.nodes().includes(y!.id) && y!.nodes().includes(x!.id)),
    )
    for (const [x, y] of [
      [a, c],
      [b, b2],
      [d, d2],
      [plain, plain2],
    ] as const) {
      expect(x.links().map((l) => l.node)).toEqual([y.id])
    }
  })

  it('sees a graceful stop at once, and a restart as a new incarnation', async () => {
    const a = await node('a')
    const b = await node('b')
    await until(() => a.nodes().includes('b'))
    b.register('svc', idle(b))
    await until(() => a.pidOf('svc') !== undefined)
    const down = nextEvent(a, 'nodedown')
    await b.stop()
    expect(await down).toEqual({ node: 'b', reason: 'stop' })
    expect(a.pidOf('svc')).toBeUndefined()

    const b2 = await node('b')
    await until(() => a.nodes().includes('b'))
    expect(a.links()).toEqual([expect.objectContaining({ node: 'b', incarnation: b2.incarnation })])
  })

  it('ignores foreign and malformed messages on its channel', async () => {
    const a = await node('a')
    const errors: unknown[] = []
    a.on('error', (e) => errors.push(e))
    const intruder = new BroadcastChannel(`distribunator/bc-${room}`)
    for (const junk of [
      null,
      42,
      'x',
      {},
      { type: 'announce' },
      { type: 'announce', from: { nodeId: '', incarnation: 1 } },
      { type: 'frame', from: { nodeId: 'z', incarnation: 1 }, to: 'a', data: 'not bytes' },
      { type: 'bye', from: { nodeId: 'z', incarnation: 1.5 }, to: 'a' },
    ])
      intruder.postMessage(junk)
    // A well-formed announce after the junk: a's reply to it proves the junk was handled.
    const replied = new Promise<void>((resolve) => {
      intruder.onmessage = (event: MessageEvent) => event.data?.to === 'z@1' && resolve()
    })
    intruder.postMessage({ type: 'announce', from: { nodeId: 'z', incarnation: 1 } })
    await replied
    await node('b')
    await until(() => a.nodes().includes('b'))
    intruder.close()
    expect(errors).toEqual([])
  })

  it('with another transport, a pair keeps one link, and other nodes come over the other one', async () => {
    // a and b are "tabs" (channel + network), c is a "remote" node on the network only.
    const network = createMemoryNetwork()
    const a = await node('a', { transport: network.transport() })
    const b = await node('b', { transport: network.transport() })
    const c = await startNode({ room: `bc-${room}`, nodeId: 'c', transport: network.transport() })
    started.push(c)
    const errors: unknown[] = []
    for (const n of [a, b, c]) n.on('error', (e) => errors.push(e))
    await until(() => [a, b, c].every((n) => n.nodes().length === 2))
    await until(() => a.links().length === 2 && b.links().length === 2)
    const viaOf = (n: DistribunatorNode): Record<string, string> => Object.fromEntries(n.links().map((l) => [l.node, l.via]))
    expect(viaOf(c)).toEqual({ a: 'memory', b: 'memory' })
    // Which transport wins a and b's race is timing; that both agree on it is not.
    expect(viaOf(a).b).toBe(viaOf(b).a)
    expect(viaOf(a).c).toBe('memory')
    expect(errors).toEqual([])

    c.register('svc', c.spawn({ handleCall: () => 'from c' }))
    await until(() => a.pidOf('svc') !== undefined)
    await expect(a.call('svc', null)).resolves.toBe('from c')
  })

  it('a session that closes tells its peers at once', async () => {
    const events: string[] = []
    const handlers = (who: string) => ({
      linkOpened: (link: Link) => events.push(`${who} opened ${link.remoteNodeId}`),
      frameReceived: () => undefined,
      linkClosed: (link: Link, reason: string) => events.push(`${who} closed ${link.remoteNodeId}: ${reason}`),
    })
    const transport = broadcastChannelTransport()
    const a = transport.open({ nodeId: 'a', incarnation: 1, room: `bc-${room}` }, handlers('a'))
    const b = transport.open({ nodeId: 'b', incarnation: 1, room: `bc-${room}` }, handlers('b'))
    await until(() => events.length === 2)
    a.close()
    await until(() => events.includes('b closed a: closed'))
    b.close()
    expect(events.filter((e) => e.startsWith('a closed'))).toEqual([])
  })

  it('holds what it sends until the other end is heard on the link, then sends it in order (borrowed bytes too)', async () => {
    // The other end is played by hand, so that it listens on the link's channel only after
    // our end has sent its frames there: posted then, they would reach no one.
    const sent: Link[] = []
    const transport = broadcastChannelTransport()
    const a = transport.open(
      { nodeId: 'a', incarnation: 1, room: `bc-${room}` },
      {
        linkOpened: (link: Link) => {
          link.send(Uint8Array.of(1))
          // Borrowed bytes (the encoder's buffer) are overwritten at once: a held one is a copy.
          const borrowed = Uint8Array.of(2)
          link.sendBorrowed!(borrowed)
          borrowed[0] = 0
          sent.push(link)
        },
        frameReceived: () => undefined,
        linkClosed: () => undefined,
      },
    )
    const roomChannel = new BroadcastChannel(`distribunator/bc-${room}`)
    const announces: unknown[] = []
    roomChannel.onmessage = (event: MessageEvent) => announces.push(event.data)
    // Once a listens on the room's channel (it announces itself), z announces itself to it.
    await until(() => announces.length === 1)
    roomChannel.postMessage({ type: 'announce', from: { nodeId: 'z', incarnation: 1 } })
    await until(() => announces.length === 2)
    expect(announces[1]).toEqual({ type: 'announce', from: { nodeId: 'a', incarnation: 1 }, to: 'z@1' })
    expect(sent.map((l) => l.remoteNodeId)).toEqual(['z'])

    const heard: unknown[] = []
    let messages = 0
    const link = new BroadcastChannel(linkChannel(`distribunator/bc-${room}`, 'a@1', 'z@1'))
    link.onmessage = ({ data }: MessageEvent) => {
      messages++
      if (!(data instanceof Uint8Array)) heard.push(data)
      else for (const frame of data[0] === BATCH ? splitBatch(data, 100) : [data]) heard.push([...frame])
    }
    link.postMessage('hi')
    await until(() => heard.length === 3)
    expect(heard).toEqual(['ready', [1], [2]])
    // Heard: the first frame of a task goes at once, the rest in one batch; borrowed bytes are copied as they were.
    const borrowed = new Uint8Array(3)
    for (let i = 0; i < 20; i++) {
      borrowed.fill(10 + i)
      sent[0]!.sendBorrowed!(borrowed)
    }
    borrowed.fill(0)
    await until(() => heard.length === 23)
    expect(heard.slice(3)).toEqual(Array.from({ length: 20 }, (_, i) => [10 + i, 10 + i, 10 + i]))
    expect(messages).toBe(3 + 2)
    // Frames of the task that closes the link go before its bye: the second waited in a batch.
    sent[0]!.send(Uint8Array.of(0x93, 1))
    sent[0]!.send(Uint8Array.of(0x93, 2))
    a.close()
    await until(() => heard.length === 26)
    expect(heard.slice(23)).toEqual([[0x93, 1], [0x93, 2], 'bye'])
    link.close()
    roomChannel.close()
  })

  it('a password needs Web Crypto (a page on plain http has none): a clear error, not a silent failure', async () => {
    vi.stubGlobal('crypto', {})
    try {
      await expect(startNode({ room: 'r', broadcastChannel: true, password: 'p' })).rejects.toThrow(/crypto\.subtle/)
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('is off in Node unless asked for, and checks its option', async () => {
    const lone = await startNode({ room: `bc-${room}`, nodeId: 'lone' })
    started.push(lone)
    const a = await node('a')
    await node('b')
    await until(() => a.nodes().includes('b'))
    expect(lone.links()).toEqual([])
    expect(a.links().map((l) => l.node)).toEqual(['b'])
    await expect(startNode({ room: 'r', broadcastChannel: 'yes' as unknown as boolean })).rejects.toThrow(ArgumentError)
  })
})
