import { defineConfig } from 'vitest/config'
import dts from 'vite-plugin-dts'

export default defineConfig({
  build: {
    lib: {
      entry: 'src/index.ts',
      formats: ['es'],
      fileName: () => 'distribunator.js',
    },
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      // Peer-facing libraries stay external in the ESM build so apps dedupe them (one Yjs).
      external: [/^yjs/, /^y-protocols/, /^lib0/, /^@msgpack\/msgpack/, /^obug/],
    },
  },
  plugins: [dts({ include: ['src'] })],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    benchmark: {
      include: ['bench/**/*.bench.ts'],
    },
  },
})
