/** Builds the e2e test page (e2e/page) with Vite and no config, the way an app bundles the library. */
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

/** Where the built page goes (under test-results/, which git ignores). */
export const PAGE_DIR = fileURLToPath(new URL('../../test-results/e2e-page/', import.meta.url))

/** Bundles e2e/page into PAGE_DIR. */
export async function buildTestPage(): Promise<void> {
  await build({
    root: fileURLToPath(new URL('../page/', import.meta.url)),
    configFile: false,
    logLevel: 'warn',
    build: { outDir: PAGE_DIR, emptyOutDir: true, target: 'es2022', minify: false, sourcemap: true },
  })
}
