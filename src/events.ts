/**
 * The one event mechanism: lib0's typed `ObservableV2` (`on`, `once`, `off`), with an `emit`
 * that runs every listener even when one throws. A throwing listener must not break the
 * node's own work (it may be running inside a transport callback); its error goes to
 * `listenerFailed` instead.
 */
import { ObservableV2 } from 'lib0/observable'

/** Typed events whose listeners cannot disturb the emitter or each other. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- lib0's own constraint
export class SafeObservable<EVENTS extends { [key in keyof EVENTS]: (...args: any[]) => void }> extends ObservableV2<EVENTS> {
  constructor(private readonly listenerFailed: (error: unknown) => void) {
    super()
  }

  override emit<NAME extends keyof EVENTS & string>(name: NAME, args: Parameters<EVENTS[NAME]>): void {
    const listeners = this._observers.get(name)
    if (listeners === undefined) return
    for (const listener of [...listeners] as ((...a: Parameters<EVENTS[NAME]>) => void)[]) {
      try {
        listener(...args)
      } catch (error) {
        this.listenerFailed(error)
      }
    }
  }
}
