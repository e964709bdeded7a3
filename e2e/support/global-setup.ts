/** Playwright globalSetup: bundles the test page once for the whole run. */
import { buildTestPage } from './build-page.js'

export default async function globalSetup(): Promise<void> {
  await buildTestPage()
}
