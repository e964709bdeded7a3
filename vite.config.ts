import { defineConfig } from 'vitest/config'
import dts from 'vite-plugin-dts'
import pkg from './package.json' with { type: 'json' }

const dependencies = Object.keys(pkg.dependencies)

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
      // Every dependency stays an import: apps dedupe them (one Yjs), and their bundler
      // picks each package's browser or Node build (ws).
      external: (id) => dependencies.some((dep) => id === dep || id.startsWith(`${dep}/`)),
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
