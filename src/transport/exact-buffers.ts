/**
 * A frame to post over a BroadcastChannel, in a buffer of exactly its size. `postMessage`
 * clones the whole ArrayBuffer under a view, so a view on the encoder's buffer would carry
 * all of it; and fresh memory, not the copy, is what a new buffer costs a Chromium tab (4–25
 * µs for 1 KiB and 200–700 µs for 64 KiB in this VM, against under 1 µs to copy 64 KiB into
 * memory used before: bench/RESULTS.md). The clone is made at once, so each buffer is
 * reused for the next frame of its size; frames of one size often follow each other (a
 * stream of casts, heartbeats, calls with arguments of one shape).
 */

/** Sizes kept, the most recently used last. */
const MAX_SIZES = 8
/** Frames larger than this get a buffer of their own (at most 8 MiB kept). */
const MAX_KEPT_BYTES = 1024 * 1024

const bySize = new Map<number, Uint8Array>()
/** The size of the last copy: already the most recent in `bySize`, no need to move it. */
let lastSize = -1

/** `frame` copied into a buffer of its size, valid until the next call for that size. */
export function exactCopy(frame: Uint8Array): Uint8Array {
  const size = frame.byteLength
  if (size > MAX_KEPT_BYTES) return frame.slice()
  if (size === lastSize) {
    const buffer = bySize.get(size)!
    buffer.set(frame)
    return buffer
  }
  lastSize = size
  let buffer = bySize.get(size)
  if (buffer !== undefined) bySize.delete(size)
  else {
    buffer = new Uint8Array(size)
    if (bySize.size >= MAX_SIZES) bySize.delete(bySize.keys().next().value as number)
  }
  bySize.set(size, buffer)
  buffer.set(frame)
  return buffer
}
