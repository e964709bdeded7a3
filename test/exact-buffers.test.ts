/** Frames copied into buffers of their exact size, reused per size (src/transport/exact-buffers.ts). */
import { describe, expect, it } from 'vitest'
import { exactCopy } from '../src/transport/exact-buffers.js'

const bytes = (size: number, fill: number): Uint8Array => new Uint8Array(size).fill(fill)

describe('exactCopy', () => {
  it('copies a view into a buffer of exactly its size', () => {
    const encoder = bytes(4096, 7)
    const copy = exactCopy(encoder.subarray(10, 50))
    expect(copy.byteOffset).toBe(0)
    expect(copy.buffer.byteLength).toBe(40)
    expect([...copy]).toEqual([...bytes(40, 7)])
  })

  it('reuses the buffer of a size, whatever sizes came between', () => {
    const first = exactCopy(bytes(33, 1))
    expect(exactCopy(bytes(33, 2))).toBe(first)
    expect([...first]).toEqual([...bytes(33, 2)])
    const other = exactCopy(bytes(34, 3))
    expect(exactCopy(bytes(33, 4))).toBe(first)
    expect([...first]).toEqual([...bytes(33, 4)])
    expect([...other]).toEqual([...bytes(34, 3)])
  })

  it('keeps the 8 sizes used last, and a buffer of its own for a frame over 1 MiB', () => {
    const kept = exactCopy(bytes(100, 1))
    for (let size = 101; size < 109; size++) exactCopy(bytes(size, 1))
    expect(exactCopy(bytes(100, 5)) === kept).toBe(false)
    const big = bytes(1024 * 1024 + 1, 9)
    expect(exactCopy(big) === exactCopy(big)).toBe(false)
  })
})
