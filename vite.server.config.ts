/**
 * Build of the signaling server: Node code, so an SSR build (Node built-ins and
 * dependencies stay imports) into dist/signaling-server/, after the library build.
 */
import { defineConfig } from 'vite'
import dts from 'vite-plugin-dts'

export default defineConfig({
  build: {
    ssr: true,
    outDir: 'dist/signaling-server',
    emptyOutDir: false,
    target: 'node20',
    sourcemap: true,
    rollupOptions: {
      input: { index: 'signaling-server/index.ts', cli: 'signaling-server/cli.ts' },
      output: { format: 'es', entryFileNames: '[name].js' },
    },
  },
  plugins: [dts({ include: ['signaling-server', 'src/log.ts'], entryRoot: '.', outDirs: 'dist/signaling-server' })],
})
