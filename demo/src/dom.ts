/**
 * The demo's whole "framework": `h()` builds an element from a tag, attributes (functions
 * become event listeners) and children; `byTestId()` finds the static elements of
 * index.html.
 */

type Attribute = string | number | boolean | undefined | ((event: never) => void)
/** Anything `h()` accepts as a child; null, undefined and false are skipped. */
export type Child = Node | string | number | null | undefined | false

/** Creates an element: `h('button', { class: 'primary', onclick: go }, 'Go')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, Attribute> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, ''), value as EventListener)
    else element.setAttribute(key, value === true ? '' : String(value))
  }
  element.append(...present(children))
  return element
}

/** The element of index.html with this `data-testid`; throws if the page lacks it. */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.querySelector<T>(`[data-testid="${id}"]`)
  if (element === null) throw new Error(`index.html has no [data-testid="${id}"]`)
  return element
}

/** Replaces an element's children, but only when `key` changed since last time (no flicker, no lost hover). */
export function renderIfChanged(element: HTMLElement, key: string, render: () => Child[]): void {
  if (element.dataset.renderKey === key) return
  element.dataset.renderKey = key
  element.replaceChildren(...present(render()))
}

function present(children: readonly Child[]): (Node | string)[] {
  return children.flatMap((c) => (c === null || c === undefined || c === false ? [] : [typeof c === 'number' ? String(c) : c]))
}
