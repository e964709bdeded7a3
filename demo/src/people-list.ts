/**
 * The "In the room" card: an avatar per tab from presence, with badges for the tab serving
 * the counter and the note each one is editing. A click on your own name renames you.
 */
import { h, renderIfChanged } from './dom.js'
import { initials } from './identity.js'
import type { Person, Presence } from './presence.js'

/** Fills `list` with the people of the room; returns a function that re-renders it. */
export function mountPeopleList(
  list: HTMLElement,
  count: HTMLElement,
  presence: Presence,
  servingNode: () => string | undefined,
): () => void {
  let renaming = false
  const render = (): void => {
    if (renaming) return
    const people = presence.people()
    const serving = servingNode()
    count.textContent = String(people.length)
    // Your own typing is not shown (nor re-renders): a click on your name must not lose its target.
    const key = JSON.stringify([serving, people.map((p) => [p.user, !p.isSelf && p.editing !== null, p.isSelf])])
    renderIfChanged(list, key, () => people.map((person) => item(person, person.user.nodeId === serving)))
  }

  const item = (person: Person, serves: boolean): HTMLElement =>
    h(
      'li',
      { 'data-testid': 'presence-item', 'data-node': person.user.nodeId },
      h('span', { class: 'avatar', style: `--user: ${person.user.color}` }, initials(person.user.name)),
      h(
        'span',
        { class: 'person' },
        person.isSelf
          ? h('button', { class: 'name self', title: 'Rename yourself', onclick: startRename }, person.user.name)
          : h('span', { class: 'name' }, person.user.name),
        h('code', { class: 'node-id' }, person.user.nodeId),
      ),
      h(
        'span',
        { class: 'badges' },
        person.isSelf && h('span', { class: 'badge you' }, 'you'),
        serves && h('span', { class: 'badge serves', title: 'This tab answers the counter service' }, 'serves counter'),
        !person.isSelf && person.editing !== null && h('span', { class: 'badge editing' }, 'typing…'),
      ),
    )

  function startRename(event: MouseEvent): void {
    const button = event.currentTarget as HTMLElement
    renaming = true
    const current = button.textContent ?? ''
    const input = h('input', { class: 'rename', value: current, maxlength: 24, 'aria-label': 'Your name' })
    const finish = (commit: boolean): void => {
      if (!renaming) return
      renaming = false
      const name = input.value.trim()
      if (commit && name !== '' && name !== current) presence.rename(name)
      delete list.dataset.renderKey
      render()
    }
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') finish(true)
      if (e.key === 'Escape') finish(false)
    })
    input.addEventListener('blur', () => finish(true))
    button.replaceWith(input)
    input.select()
  }

  presence.onChange(render)
  render()
  return render
}
