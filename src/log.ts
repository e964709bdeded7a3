/**
 * The one logger: namespaced `distribunator:<component>`, silent unless enabled the usual
 * `debug` way (`DEBUG=distribunator:*` in Node, `localStorage.debug` in a browser).
 */
import { createDebug } from 'obug'

/** A namespaced logger for one component. */
export type Logger = ReturnType<typeof createDebug>

/** Returns the logger of a component, e.g. `logger('registry')`. */
export function logger(component: string): Logger {
  return createDebug(`distribunator:${component}`)
}
