/**
 * The collaboration demo (demo/): a plain TypeScript + DOM app served by Vite. It imports
 * the library from source (../src), so `npm start` shows the working tree without a
 * library build. `npm run demo:build` writes demo/dist.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  root: here('./demo'),
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 5173 },
  // Pre-bundled up front: a dependency discovered on the first page load would make Vite
  // reload the page, and every tab with it, a second after it joined the room.
  optimizeDeps: {
    include: [
      'yjs',
      'y-protocols/awareness',
      'y-protocols/sync',
      'lib0/encoding',
      'lib0/decoding',
      'lib0/observable',
      '@msgpack/msgpack',
      'obug',
    ],
  },
  build: {
    outDir: here('./demo/dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  clearScreen: false,
})
