/**
 * Live cursors: this tab publishes its pointer over the board (at most once a frame) in
 * its presence, and draws every other tab's pointer, with its name, in its colour.
 */
import { h } from './dom.js'
import type { Presence } from './presence.js'

/** Shares this tab's pointer over `canvas` and draws the others'. */
export function mountCursors(canvas: HTMLElement, presence: Presence): void {
  const layer = h('div', { class: 'cursor-layer', 'aria-hidden': 'true' })
  canvas.append(layer)
  const cursors = new Map<number, HTMLElement>()
  let pending: { x: number; y: number } | null | undefined

  const publish = (pointer: { x: number; y: number } | null): void => {
    if (pending === undefined) {
      requestAnimationFrame(() => {
        if (pending !== undefined) presence.setPointer(pending)
        pending = undefined
      })
    }
    pending = pointer
  }
  canvas.addEventListener('pointermove', (event) => {
    const rect = canvas.getBoundingClientRect()
    if (rect.width === 0) return
    publish({ x: (event.clientX - rect.left) / rect.width, y: Math.round(event.clientY - rect.top) })
  })
  canvas.addEventListener('pointerleave', () => publish(null))

  const render = (): void => {
    const seen = new Set<number>()
    for (const person of presence.people()) {
      if (person.isSelf || person.pointer === null) continue
      seen.add(person.clientId)
      let cursor = cursors.get(person.clientId)
      if (cursor === undefined) {
        cursor = h('div', { class: 'cursor' }, arrow(), h('span', { class: 'cursor-name' }))
        cursors.set(person.clientId, cursor)
        layer.append(cursor)
      }
      cursor.style.setProperty('--user', person.user.color)
      cursor.style.transform = `translate(${(person.pointer.x * canvas.clientWidth).toFixed(1)}px, ${person.pointer.y}px)`
      const name = cursor.querySelector('.cursor-name') as HTMLElement
      if (name.textContent !== person.user.name) name.textContent = person.user.name
    }
    for (const [clientId, cursor] of cursors) {
      if (seen.has(clientId)) continue
      cursor.remove()
      cursors.delete(clientId)
    }
  }
  presence.onChange(render)
}

function arrow(): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 16 20')
  svg.setAttribute('width', '16')
  svg.setAttribute('height', '20')
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path')
  path.setAttribute('d', 'M1 1 L1 16 L5 12 L8 19 L11 17.6 L8 11 L14 11 Z')
  svg.append(path)
  return svg
}
