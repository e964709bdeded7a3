import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../src/index.js'
import { BATCH, BATCH_BYTES, Batcher, batchOf, splitBatch } from '../src/transport/batching.js'
import { MessagePortTransport } from '../src/transport/message-port.js'
import type { Link, TransportHooks } from '../src/transport/transport.js'
import { until } from './helpers.js'

/** A batcher whose messages are copied into `sent` as they go. */
function recording(limit = BATCH_BYTES): { batcher: Batcher; sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  const batcher = new Batcher((message) => sent.push(message.slice()))
  batcher.limit = limit
  return { batcher, sent }
}

/** The frames the messages carry, in order. */
const unpack = (messages: Uint8Array[]): Uint8Array[] =>
  messages.flatMap((m) => (m[0] === BATCH ? splitBatch(m, Number.POSITIVE_INFINITY) : [m]))

const frame = (size: number, fill: number): Uint8Array => new Uint8Array(size).fill(fill).fill(0x93, 0, 1)
const endOfTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

describe('Batcher', () => {
  it("sends a task's first frame at once and the rest in one message once the task's microtasks run", async () => {
    const { batcher, sent } = recording()
    const frames = Array.from({ length: 10 }, (_, i) => frame(20, i))
    for (const f of frames) batcher.add(f, false)
    expect(sent).toEqual([frames[0]])
    await Promise.resolve()
    expect(sent).toHaveLength(2)
    expect(sent[1]![0]).toBe(BATCH)
    expect(unpack(sent)).toEqual(frames)
    // The next task starts over: its first frame goes at once again.
    await endOfTask()
    batcher.add(frames[1]!, false)
    expect(sent).toHaveLength(3)
  })

  it('keeps every frame and its order, whatever their sizes and the limit, with bytes overwritten after each add', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 64, max: BATCH_BYTES }),
        async (sizes, limit) => {
          const { batcher, sent } = recording(limit)
          const borrowed = new Uint8Array(3000)
          for (const [i, size] of sizes.entries()) {
            borrowed.fill(i % 250).fill(0x93, 0, 1)
            batcher.add(borrowed.subarray(0, size), true)
          }
          borrowed.fill(0)
          await Promise.resolve()
          expect(unpack(sent)).toEqual(sizes.map((size, i) => frame(size, i % 250)))
          for (const message of sent) if (message[0] === BATCH) expect(message.byteLength).toBeLessThanOrEqual(limit)
        },
      ),
    )
  })

  it('sends a batch as soon as it is full, a batch of one as the frame itself, and a frame over half a batch alone', () => {
    const { batcher, sent } = recording(100)
    batcher.add(frame(10, 1), false)
    for (let i = 0; i < 5; i++) batcher.add(frame(30, 2), false)
    // 31 bytes each with its length: three fill a batch of 100 (with its flag), the fourth starts the next.
    expect(sent.map((m) => m.byteLength)).toEqual([10, 1 + 3 * 31])
    batcher.add(frame(60, 3), false)
    // The two frames waiting went first, then the large one alone.
    expect(sent.map((m) => m.byteLength)).toEqual([10, 94, 1 + 2 * 31, 60])
    batcher.add(frame(5, 4), false)
    batcher.flush()
    expect(sent[4]).toEqual(frame(5, 4))
  })

  it('drops what waits when cleared, and sends nothing more for it', async () => {
    const { batcher, sent } = recording()
    batcher.add(frame(5, 1), false)
    batcher.add(frame(5, 2), false)
    batcher.clear()
    await Promise.resolve()
    expect(sent).toEqual([frame(5, 1)])
  })
})

describe('splitBatch', () => {
  it('gives back the frame batchOf wrapped, whatever its first byte and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20_000 }), (frame) => {
        expect(splitBatch(batchOf(frame), frame.byteLength)).toEqual([frame])
      }),
    )
  })

  it('reads lengths of several bytes', () => {
    const long = frame(300, 7)
    const message = Uint8Array.of(BATCH, 0xac, 0x02, ...long, 2, 0x93, 1)
    expect(splitBatch(message, 1000)).toEqual([long, Uint8Array.of(0x93, 1)])
  })

  it('refuses a batch of no frames, an empty frame, a length past the end or malformed, and a frame over the limit', () => {
    expect(() => splitBatch(Uint8Array.of(BATCH), 100)).toThrow(/no frames/)
    expect(() => splitBatch(Uint8Array.of(BATCH, 0), 100)).toThrow(/empty frame/)
    expect(() => splitBatch(Uint8Array.of(BATCH, 3, 0x93, 1), 100)).toThrow(/shorter than its frames/)
    expect(() => splitBatch(Uint8Array.of(BATCH, 0x80), 100)).toThrow(/malformed frame length/)
    expect(() => splitBatch(Uint8Array.of(BATCH, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 100)).toThrow(/malformed frame length/)
    expect(() => splitBatch(Uint8Array.of(BATCH, 3, 0x93, 1, 2), 2)).toThrow(ProtocolError)
  })
})

/** Two MessagePort transports linked over one channel; what b receives and how each link ends. */
async function portPair() {
  const channel = new MessageChannel()
  const received: Uint8Array[] = []
  const closed: string[] = []
  const links: Link[] = []
  const hooks = (name: string): TransportHooks => ({
    linkOpened: (link) => void links.push(link),
    frameReceived: (_, frame) => void received.push(frame.slice()),
    linkClosed: (_, reason) => void closed.push(`${name}: ${reason}`),
  })
  const [a, b] = [new MessagePortTransport(), new MessagePortTransport()]
  const sessions = [
    a.open({ nodeId: 'a', incarnation: 1, room: 'r' }, hooks('a')),
    b.open({ nodeId: 'b', incarnation: 1, room: 'r' }, hooks('b')),
  ]
  a.add(channel.port1, true)
  b.add(channel.port2, false)
  await until(() => links.length === 2)
  return { channel, received, closed, sessions, toB: links.find((link) => link.remoteNodeId === 'b')! }
}

describe('a MessagePort link', () => {
  it("posts a task's frames after the first as one batch, a frame that starts with BATCH as a batch of one, and a malformed batch ends the link", async () => {
    const { channel, received, closed, sessions, toB } = await portPair()
    const posted: unknown[] = []
    const post = channel.port1.postMessage.bind(channel.port1)
    channel.port1.postMessage = (message: unknown) => {
      posted.push(message)
      post(message)
    }
    const frames = [...Array.from({ length: 10 }, (_, i) => frame(30, i)), Uint8Array.of(BATCH, 1, 2)]
    for (const f of frames) toB.send(f)
    await until(() => received.length === frames.length)
    expect(received).toEqual(frames)
    // The first at once; nine in one batch, sent ahead of the BATCH-led frame, which goes wrapped.
    expect(posted).toHaveLength(3)
    post({ type: 'frame', data: Uint8Array.of(BATCH, 9, 0x93) })
    await until(() => closed.includes('b: a batch shorter than its frames'))
    for (const session of sessions) session.close()
    channel.port1.close()
  })

  it('takes a borrowed frame whole as it is sent: the encoder may overwrite its bytes at once', async () => {
    const { channel, received, sessions, toB } = await portPair()
    const buffer = new Uint8Array(64)
    const sent: Uint8Array[] = []
    // Alone (a task's first), batched, then large enough to go alone after its batch.
    for (const size of [20, 20, 40]) {
      buffer.set(frame(size, size + sent.length))
      const view = buffer.subarray(0, size)
      sent.push(view.slice())
      toB.sendBorrowed!(view)
      buffer.fill(0xff)
    }
    await until(() => received.length === sent.length)
    expect(received).toEqual(sent)
    for (const session of sessions) session.close()
    channel.port1.close()
  })

  it('sends what a task left in its batch before the bye of a closing session', async () => {
    const { channel, received, closed, sessions, toB } = await portPair()
    toB.send(frame(5, 1))
    toB.send(frame(5, 2))
    sessions[0]!.close()
    await until(() => closed.includes('b: closed'))
    expect(received).toEqual([frame(5, 1), frame(5, 2)])
    sessions[1]!.close()
    channel.port1.close()
  })
})
