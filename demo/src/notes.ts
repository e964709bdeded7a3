/**
 * The board's data, in the shared Y.Doc: `notes` is a Y.Map from note id to a Y.Map with
 * `text` (a Y.Text, so several tabs can type in one note), `x` (a fraction of the board's
 * width), `y` (pixels), `z` (stacking order), `color` (a NOTE_COLORS key) and `author`.
 */
import * as Y from 'yjs'

/** Pastel note colours by name. */
export const NOTE_COLORS = {
  yellow: '#fff1a6',
  pink: '#ffd4de',
  green: '#cdf2d6',
  blue: '#d2e6ff',
  violet: '#e4dbff',
  peach: '#ffdcc0',
} as const

/** A NOTE_COLORS key. */
export type NoteColor = keyof typeof NOTE_COLORS

/** One note's fields, read from its Y.Map. */
export interface NoteFields {
  readonly x: number
  readonly y: number
  readonly z: number
  readonly color: NoteColor
  readonly author: string
}

/** The shared map of notes. */
export function notesOf(doc: Y.Doc): Y.Map<Y.Map<unknown>> {
  return doc.getMap('notes')
}

/** Adds a note; returns its id. */
export function addNote(doc: Y.Doc, fields: Omit<NoteFields, 'z'>, text = ''): string {
  const notes = notesOf(doc)
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  const note = new Y.Map<unknown>()
  doc.transact(() => {
    note.set('text', new Y.Text(text))
    note.set('x', fields.x)
    note.set('y', fields.y)
    note.set('z', topZ(notes) + 1)
    note.set('color', fields.color)
    note.set('author', fields.author)
    notes.set(id, note)
  })
  return id
}

/** A note's fields, with safe defaults for anything missing or malformed. */
export function fieldsOf(note: Y.Map<unknown>): NoteFields {
  const number = (key: string, fallback: number): number => {
    const value = note.get(key)
    return typeof value === 'number' && Number.isFinite(value) ? value : fallback
  }
  const color = note.get('color')
  const author = note.get('author')
  return {
    x: Math.min(1, Math.max(0, number('x', 0))),
    y: Math.max(0, number('y', 0)),
    z: number('z', 0),
    color: typeof color === 'string' && color in NOTE_COLORS ? (color as NoteColor) : 'yellow',
    author: typeof author === 'string' ? author : '',
  }
}

/** A note's text, created if a malformed note lacks one. */
export function textOf(note: Y.Map<unknown>): Y.Text {
  const text = note.get('text')
  if (text instanceof Y.Text) return text
  const created = new Y.Text()
  note.set('text', created)
  return created
}

/** Puts a note on top of the others. */
export function raise(notes: Y.Map<Y.Map<unknown>>, note: Y.Map<unknown>): void {
  const top = topZ(notes)
  if (fieldsOf(note).z < top) note.set('z', top + 1)
}

/** The next colour after `color`, for the colour button. */
export function nextColor(color: NoteColor): NoteColor {
  const names = Object.keys(NOTE_COLORS) as NoteColor[]
  return names[(names.indexOf(color) + 1) % names.length] as NoteColor
}

function topZ(notes: Y.Map<Y.Map<unknown>>): number {
  let top = 0
  for (const note of notes.values()) top = Math.max(top, fieldsOf(note).z)
  return top
}
