/**
 * One sticky note on screen: drag it by its top bar, type in it (bound to its Y.Text),
 * change its colour, delete it. Moves and edits go into the shared doc; the board calls
 * `layout` whenever the doc or the board's size changes, for local and remote changes alike.
 */
import type * as Y from 'yjs'
import { h } from './dom.js'
import { NOTE_COLORS, fieldsOf, nextColor, textOf } from './notes.js'
import type { User } from './presence.js'
import { bindTextarea } from './text-binding.js'

/** What a note needs from its board. */
export interface NoteViewHooks {
  /** Board coordinates (pixels from the board's top left, scrolling included) of a pointer event. */
  toBoard(event: PointerEvent): { x: number; y: number }
  /** Width of the board and of a note, in pixels. */
  sizes(): { board: number; note: number }
  raise(): void
  remove(): void
  /** The local user started (true) or stopped typing in this note. */
  editing(active: boolean): void
}

/** The DOM of one note. */
export class NoteView {
  readonly element: HTMLElement
  private readonly textarea: HTMLTextAreaElement
  private readonly author: HTMLElement
  private readonly editor: HTMLElement
  private readonly unbind: () => void
  private drag: { dx: number; dy: number; pending: { x: number; y: number } | undefined } | undefined

  constructor(
    readonly id: string,
    private readonly note: Y.Map<unknown>,
    private readonly hooks: NoteViewHooks,
  ) {
    this.textarea = h('textarea', {
      class: 'note-text',
      'data-testid': 'note-text',
      placeholder: 'Write something…',
      'aria-label': 'Note text',
      spellcheck: 'false',
    })
    this.author = h('span', { class: 'note-author' })
    this.editor = h('span', { class: 'note-editor' })
    const head = h(
      'header',
      { class: 'note-head', title: 'Drag to move' },
      this.author,
      h(
        'button',
        { class: 'note-button', title: 'Change colour', 'aria-label': 'Change colour', onclick: () => this.cycleColor() },
        h('span', { class: 'swatch' }),
      ),
      h(
        'button',
        {
          class: 'note-button',
          title: 'Delete note',
          'aria-label': 'Delete note',
          'data-testid': 'note-delete',
          onclick: () => hooks.remove(),
        },
        '×',
      ),
    )
    this.element = h('article', { class: 'note', 'data-testid': 'note', 'data-id': id }, head, this.textarea, this.editor)
    head.addEventListener('pointerdown', (event) => this.startDrag(event))
    head.addEventListener('pointermove', (event) => this.moveDrag(event))
    head.addEventListener('pointerup', () => this.endDrag())
    head.addEventListener('pointercancel', () => this.endDrag())
    this.element.addEventListener('pointerdown', () => hooks.raise())
    this.textarea.addEventListener('focus', () => hooks.editing(true))
    this.textarea.addEventListener('blur', () => hooks.editing(false))
    this.unbind = bindTextarea(this.textarea, textOf(note))
  }

  /** Places and paints the note from its fields. */
  layout(): void {
    const { x, y, z, color, author } = fieldsOf(this.note)
    const { board, note } = this.hooks.sizes()
    this.element.style.transform = `translate(${Math.round(x * Math.max(0, board - note))}px, ${Math.round(y)}px)`
    this.element.style.zIndex = String(z)
    this.element.style.setProperty('--note', NOTE_COLORS[color])
    this.author.textContent = author
  }

  /** Shows who else is typing here, if anyone. */
  showEditor(user: User | undefined): void {
    this.element.classList.toggle('edited', user !== undefined)
    this.element.style.setProperty('--editor', user?.color ?? 'transparent')
    this.editor.textContent = user === undefined ? '' : `${user.name} is typing`
  }

  /** Puts the caret in the note. */
  focus(): void {
    this.textarea.focus()
  }

  /** Stops listening to the doc and leaves the page. */
  destroy(): void {
    this.unbind()
    this.element.remove()
  }

  private cycleColor(): void {
    this.note.set('color', nextColor(fieldsOf(this.note).color))
  }

  private startDrag(event: PointerEvent): void {
    if (event.button !== 0 || (event.target as HTMLElement).closest('button') !== null) return
    event.preventDefault()
    const at = this.hooks.toBoard(event)
    const { x, y } = fieldsOf(this.note)
    const { board, note } = this.hooks.sizes()
    this.drag = { dx: at.x - x * Math.max(0, board - note), dy: at.y - y, pending: undefined }
    this.element.classList.add('dragging')
    ;(event.currentTarget as HTMLElement).setPointerCapture(event.pointerId)
  }

  private moveDrag(event: PointerEvent): void {
    const drag = this.drag
    if (drag === undefined) return
    const at = this.hooks.toBoard(event)
    const { board, note } = this.hooks.sizes()
    const room = Math.max(1, board - note)
    // One doc write per frame, however fast the pointer moves.
    if (drag.pending === undefined) requestAnimationFrame(() => this.flushDrag())
    drag.pending = { x: Math.min(1, Math.max(0, (at.x - drag.dx) / room)), y: Math.max(0, at.y - drag.dy) }
  }

  private flushDrag(): void {
    const pending = this.drag?.pending
    if (this.drag === undefined || pending === undefined) return
    this.drag.pending = undefined
    this.note.doc?.transact(() => {
      this.note.set('x', pending.x)
      this.note.set('y', Math.round(pending.y))
    })
  }

  private endDrag(): void {
    this.flushDrag()
    this.drag = undefined
    this.element.classList.remove('dragging')
  }
}
