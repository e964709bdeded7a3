/** Numbers and tables for the browser benchmark's report. */

/** The p-th percentile (0–100) of `samples`, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1] ?? NaN
}

/** The median of `samples`. */
export function median(samples: readonly number[]): number {
  return percentile(samples, 50)
}

/** `value` with `digits` decimals. */
export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '—'
}

/** A ratio as `1.23×`. */
export function times(ratio: number): string {
  return `${fixed(ratio)}×`
}

/** A markdown table: the header row, then each row; numbers right-aligned by the `---:` marks of `align`. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const marks = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'))
  return [header, marks, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n')
}

/** A target's verdict, as the reports print it. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED'
}
