/** Numbers for the benchmark: a clock shared by all processes, percentiles, markdown tables. */

/**
 * Milliseconds on CLOCK_MONOTONIC (what `process.hrtime` reads on Linux): one clock for the
 * whole machine, so a time taken in one process can be subtracted from one taken in another.
 */
export function clock(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** The `p`th percentile (0–100) of `samples`, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Median of `samples`. */
export function median(samples: readonly number[]): number {
  return percentile(samples, 50)
}

/** Prints a markdown table; the first column is left-aligned, the others right. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'))
  for (const cells of [header, align, ...rows]) console.log(`| ${cells.join(' | ')} |`)
}

/** A number with `digits` decimals. */
export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '—'
}

/** `ours / base` as "1.23×". */
export function ratio(ours: number, base: number): string {
  return Number.isFinite(ours) && Number.isFinite(base) && base !== 0 ? `${(ours / base).toFixed(2)}×` : '—'
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
