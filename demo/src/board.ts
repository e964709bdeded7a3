/**
 * The shared sticky-notes board: renders the doc's notes (notes.ts) as NoteViews, keeps
 * them in sync with every change (local or from another tab), and adds notes on a
 * double-click or the "+ Note" button. Positions are stored as a fraction of the board's
 * width, so tabs of different widths show the same arrangement.
 */
import type * as Y from 'yjs'
import { h } from './dom.js'
import type { Identity } from './identity.js'
import { NoteView } from './note-view.js'
import { NOTE_COLORS, addNote, fieldsOf, notesOf, raise, type NoteColor } from './notes.js'
import type { Presence } from './presence.js'

const NARROW_BOARD_PX = 560

/** The board in `scroller` (the scrolling element), showing the notes of `doc`. */
export class Board {
  /** The board's content: notes and cursors are placed in its coordinates. */
  readonly canvas: HTMLElement
  private readonly notes: Y.Map<Y.Map<unknown>>
  private readonly views = new Map<string, NoteView>()
  private noteWidth = 196
  private noteHeight = 156

  constructor(
    private readonly scroller: HTMLElement,
    private readonly doc: Y.Doc,
    private readonly presence: Presence,
    private readonly identity: Identity,
  ) {
    this.notes = notesOf(doc)
    this.canvas = h(
      'div',
      { class: 'board-canvas' },
      h(
        'div',
        { class: 'board-empty' },
        h('strong', {}, 'The board is empty'),
        h('span', {}, 'Double-click anywhere to add a note — every tab in the room sees it at once.'),
      ),
    )
    scroller.append(this.canvas)
    this.canvas.addEventListener('dblclick', (event) => {
      if (event.target !== this.canvas) return
      const at = this.toBoard(event)
      this.add(at.x - this.noteWidth / 2, at.y - 18)
    })
    new ResizeObserver(() => this.resize()).observe(scroller)
    this.notes.observeDeep(() => this.sync())
    presence.onChange(() => this.showEditors())
    this.resize()
  }

  /** Adds a note somewhere in view (or at board pixel `left`, `top`) and puts the caret in it. */
  add(left?: number, top?: number): string {
    const room = Math.max(1, this.canvas.clientWidth - this.noteWidth)
    const visible = Math.max(this.noteHeight, this.scroller.clientHeight - this.noteHeight - 32)
    const x = left === undefined ? 0.04 + Math.random() * 0.92 : left / room
    const y = top ?? this.scroller.scrollTop + 16 + Math.random() * visible
    const colors = Object.keys(NOTE_COLORS) as NoteColor[]
    const color = colors[Math.floor(Math.random() * colors.length)] as NoteColor
    const id = addNote(this.doc, { x: Math.min(1, Math.max(0, x)), y: Math.max(0, Math.round(y)), color, author: this.identity.name })
    this.views.get(id)?.focus()
    return id
  }

  /** Board coordinates of a pointer event: pixels from the canvas's top left. */
  private toBoard(event: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect()
    return { x: event.clientX - rect.left, y: event.clientY - rect.top }
  }

  /** Creates, lays out and removes views to match the doc. */
  private sync(): void {
    for (const [id, note] of this.notes) {
      if (!this.views.has(id)) this.views.set(id, this.createView(id, note))
    }
    for (const [id, view] of this.views) {
      if (!this.notes.has(id)) {
        view.destroy()
        this.views.delete(id)
      }
    }
    let bottom = 0
    for (const [id, view] of this.views) {
      view.layout()
      bottom = Math.max(bottom, fieldsOf(this.notes.get(id) as Y.Map<unknown>).y + this.noteHeight)
    }
    this.canvas.style.minHeight = `${Math.max(bottom + 24, this.scroller.clientHeight)}px`
    this.scroller.classList.toggle('empty', this.notes.size === 0)
    this.showEditors()
  }

  private createView(id: string, note: Y.Map<unknown>): NoteView {
    const view = new NoteView(id, note, {
      toBoard: (event) => this.toBoard(event),
      sizes: () => ({ board: this.canvas.clientWidth, note: this.noteWidth }),
      raise: () => raise(this.notes, note),
      remove: () => this.notes.delete(id),
      editing: (active) => this.presence.setEditing(active ? id : null),
    })
    this.canvas.append(view.element)
    return view
  }

  /** Outlines each note someone else is typing in, in their colour. */
  private showEditors(): void {
    const editors = new Map(
      this.presence
        .people()
        .filter((p) => !p.isSelf && p.editing !== null)
        .map((p) => [p.editing, p.user]),
    )
    for (const [id, view] of this.views) view.showEditor(editors.get(id))
  }

  private resize(): void {
    const narrow = this.scroller.clientWidth < NARROW_BOARD_PX
    this.noteWidth = narrow ? 150 : 196
    this.noteHeight = narrow ? 132 : 156
    this.canvas.style.setProperty('--note-width', `${this.noteWidth}px`)
    this.canvas.style.setProperty('--note-height', `${this.noteHeight}px`)
    this.sync()
  }
}
