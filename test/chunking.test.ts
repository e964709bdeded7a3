import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../src/index.js'
import { FrameJoiner, READY, splitFrame } from '../src/transport/chunking.js'

describe('chunking', () => {
  it('splits frames into bounded messages and joins them back, frame by frame', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (frames, chunkBytes) => {
          const joiner = new FrameJoiner(1000)
          const out: Uint8Array[] = []
          for (const frame of frames) {
            const messages = splitFrame(frame, chunkBytes)
            expect(messages.length).toBe(Math.max(1, Math.ceil(frame.byteLength / chunkBytes)))
            for (const m of messages) {
              expect(m.byteLength).toBeLessThanOrEqual(chunkBytes + 1)
              const done = joiner.push(m)
              if (done !== undefined) out.push(done)
            }
          }
          expect(out).toEqual(frames)
        },
      ),
    )
  })

  it('sends a frame that fits as it is, unless its first byte could be read as a flag', () => {
    const frame = Uint8Array.of(0x93, 1, 2)
    expect(splitFrame(frame, 64)[0]).toBe(frame)
    expect(splitFrame(Uint8Array.of(1, 2), 64)).toEqual([Uint8Array.of(1, 1, 2)])
    expect(splitFrame(Uint8Array.of(0), 64)).toEqual([Uint8Array.of(1, 0)])
    expect(splitFrame(Uint8Array.of(READY, 5), 64)).toEqual([Uint8Array.of(1, READY, 5)])
    expect(splitFrame(new Uint8Array(0), 64)).toEqual([Uint8Array.of(1)])
    expect(new FrameJoiner(10).push(frame)).toBe(frame)
  })

  it('refuses a frame over the limit as soon as it grows past it, empty messages, a READY among frames, and a whole frame inside a split one', () => {
    const joiner = new FrameJoiner(10)
    const [first, second] = splitFrame(new Uint8Array(12), 6)
    expect(joiner.push(first!)).toBeUndefined()
    expect(() => joiner.push(second!)).toThrow(ProtocolError)
    expect(() => new FrameJoiner(2).push(Uint8Array.of(7, 7, 7))).toThrow(ProtocolError)
    expect(() => new FrameJoiner(10).push(new Uint8Array(0))).toThrow(ProtocolError)
    expect(() => new FrameJoiner(10).push(Uint8Array.of(READY))).toThrow(/ready message/)
    const interrupted = new FrameJoiner(10)
    interrupted.push(Uint8Array.of(0, 5))
    expect(() => interrupted.push(Uint8Array.of(7, 7))).toThrow(ProtocolError)
  })
})
