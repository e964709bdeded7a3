/**
 * Where a borrowed message (bytes the encoder will overwrite) waits while a data channel's
 * buffer is full: a copy in a shared slab, not in an ArrayBuffer of its own. Fresh memory is
 * what a copy costs — a Chromium tab took 4–25 µs to copy 1 KiB into a new buffer and
 * 200–700 µs for 64 KiB, against under 1 µs for 64 KiB into memory used before (see
 * bench/RESULTS.md) — so slabs are handed back once every message in them has gone, and
 * reused.
 */

/** Bytes in one slab: four 64 KiB messages, or hundreds of small ones. */
const SLAB_BYTES = 256 * 1024
/** Free slabs kept for reuse across all links, at most (4 MiB); more are left to the GC. */
const MAX_FREE_SLABS = 16

const free: Uint8Array[] = []

/** Copies for the messages of one link's queue. */
export class Spill {
  private slab: Uint8Array | undefined
  private used = 0
  /** Slabs filled while the queue has not drained: their copies may still wait. */
  private readonly full: Uint8Array[] = []

  /** A copy of `message` that stays valid until `release()`. */
  copy(message: Uint8Array): Uint8Array {
    if (message.byteLength > SLAB_BYTES) return message.slice()
    if (this.slab === undefined || this.used + message.byteLength > this.slab.byteLength) {
      if (this.slab !== undefined) this.full.push(this.slab)
      this.slab = free.pop() ?? new Uint8Array(SLAB_BYTES)
      this.used = 0
    }
    const copy = this.slab.subarray(this.used, this.used + message.byteLength)
    copy.set(message)
    this.used += message.byteLength
    return copy
  }

  /** Every copy made has been sent or dropped (the queue drained, or the link ended): the slabs go back for reuse. */
  release(): void {
    for (const slab of this.full.splice(0)) if (free.length < MAX_FREE_SLABS) free.push(slab)
    if (this.slab !== undefined && free.length < MAX_FREE_SLABS) free.push(this.slab)
    this.slab = undefined
    this.used = 0
  }
}
