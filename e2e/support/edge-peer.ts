/**
 * The Node edge peer of the e2e suite, in its own process: the library from src over real
 * WebRTC (node-datachannel), answering the test API (e2e/page/test-api.ts) over IPC.
 * Started by edge-process.ts with `fork(..., { execArgv: ['--import', 'tsx'] })`.
 *
 *   parent → child   { id, method, args }
 *   child → parent   { ready: true } once, then { id, ok: true, value } | { id, ok: false, error }
 */
import { startNode } from '../../src/index.js'
import { createTestApi, type TestApi } from '../page/test-api.js'

/** A command from the test. */
export interface EdgeRequest {
  readonly id: number
  readonly method: keyof TestApi
  readonly args: unknown[]
}

/** What the child reports. */
export type EdgeReply =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string } }

const api = createTestApi(startNode)
const reply = (message: EdgeReply): void => void process.send?.(message)

process.on('message', ({ id, method, args }: EdgeRequest) => {
  Promise.resolve()
    .then(() => (api[method] as (...a: unknown[]) => unknown)(...args))
    .then(
      (value) => reply({ id, ok: true, value: value ?? null }),
      (error: Error) => reply({ id, ok: false, error: { name: error.name, message: error.message } }),
    )
})
// The test runner went away (a crash, a timeout): do not linger.
process.on('disconnect', () => process.exit(0))
reply({ ready: true })
