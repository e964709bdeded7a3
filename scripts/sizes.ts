/**
 * Sizes of built JavaScript as the build reports them: minified with Vite's own minifier
 * (oxc), then gzipped at level 9 (as bundlephobia and gzip-size measure).
 */
import { gzipSync } from 'node:zlib'
import { minify } from 'vite'

/** Bytes of one build: as written, minified, minified and gzipped. */
export interface Size {
  readonly bytes: number
  readonly min: number
  readonly gzip: number
}

/** Measures `code`; a `script` (the IIFE) keeps its top-level names, a `module` its exports. */
export async function measure(fileName: string, code: string, kind: 'module' | 'script'): Promise<Size> {
  const result = await minify(fileName, code, { module: kind === 'module' })
  if (result.errors.length > 0) throw new Error(`cannot minify ${fileName}: ${result.errors[0]?.message}`)
  const min = Buffer.byteLength(result.code)
  return { bytes: Buffer.byteLength(code), min, gzip: gzipSync(result.code, { level: 9 }).byteLength }
}

/** Adds up the sizes of several files (an app's chunks). */
export function total(sizes: readonly Size[]): Size {
  return sizes.reduce((a, b) => ({ bytes: a.bytes + b.bytes, min: a.min + b.min, gzip: a.gzip + b.gzip }), {
    bytes: 0,
    min: 0,
    gzip: 0,
  })
}

/** One line of the size report: `label  12.3 kB min  4.5 kB min+gzip`. */
export function sizeLine(label: string, size: Size): string {
  const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`
  return `${label.padEnd(54)} ${kB(size.min).padStart(9)} min ${kB(size.gzip).padStart(9)} min+gzip`
}
