/**
 * Topic → subscribers, kept exact: a topic with no subscriber left is deleted, so the map
 * only ever holds topics some open socket is subscribed to.
 */

/** The subscribers of every topic that has any. */
export class Topics<C> {
  readonly #subscribers = new Map<string, Set<C>>()

  /** Number of topics with at least one subscriber. */
  get size(): number {
    return this.#subscribers.size
  }

  /** Adds `client` to `topic`'s subscribers; true when it is the topic's first. */
  subscribe(topic: string, client: C): boolean {
    let set = this.#subscribers.get(topic)
    const created = set === undefined
    if (set === undefined) {
      set = new Set()
      this.#subscribers.set(topic, set)
    }
    set.add(client)
    return created
  }

  /** Removes `client` from `topic`'s subscribers, and the topic when it was the last: then true. */
  unsubscribe(topic: string, client: C): boolean {
    const set = this.#subscribers.get(topic)
    if (set === undefined) return false
    set.delete(client)
    if (set.size > 0) return false
    this.#subscribers.delete(topic)
    return true
  }

  /** The subscribers of `topic` (empty when it has none). */
  subscribersOf(topic: string): ReadonlySet<C> {
    return this.#subscribers.get(topic) ?? EMPTY
  }
}

const EMPTY: ReadonlySet<never> = new Set()
