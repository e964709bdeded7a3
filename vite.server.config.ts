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
  // Types next to the code (dist/signaling-server/index.d.ts): no declaration refers to src/.
  plugins: [dts({ include: ['signaling-server'], entryRoot: 'signaling-server', outDirs: 'dist/signaling-server' })],
})
