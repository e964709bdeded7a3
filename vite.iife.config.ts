/**
 * The script-tag build: dist/distribunator.iife.js, minified, bundling every dependency,
 * defines `window.Distribunator` with the exports of src/index.ts. Browsers only: packages
 * resolve to their browser builds (Vite's default client conditions), and node-datachannel
 * (Node's WebRTC) is never reached: transport/peer-connection.ts loads it by a specifier
 * the bundler does not follow, and only where the runtime has no RTCPeerConnection.
 * Runs after the ESM build (vite.config.ts), into the same dist/.
 */
import { defineConfig } from 'vite'

export default defineConfig({
  build: {
    lib: {
      entry: 'src/index.ts',
      formats: ['iife'],
      name: 'Distribunator',
      fileName: () => 'distribunator.iife.js',
    },
    emptyOutDir: false,
    minify: true,
    sourcemap: true,
    target: 'es2022',
    rolldownOptions: {
      // The Node 20 fallback of signaling/websocket.ts (browsers have a WebSocket): left as
      // an `import('ws')` that never runs here, and would fail softly if it did.
      external: ['ws'],
    },
  },
})
