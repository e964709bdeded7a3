/**
 * Presence: every tab publishes who it is (name, colour, node id), where its pointer is on
 * the board and which note it is editing, through a y-protocols Awareness that
 * `node.share` syncs with the room. A tab that goes away is dropped at once by the library.
 */
import { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { USER_COLORS, saveIdentity, type Identity } from './identity.js'

/** Who a tab is. */
export interface User {
  readonly name: string
  readonly color: string
  readonly nodeId: string
}

/** A pointer on the board: x as a fraction of the board's width, y in pixels. */
export interface Pointer {
  readonly x: number
  readonly y: number
}

/** What each tab publishes. */
export interface PresenceState {
  readonly user: User
  readonly pointer: Pointer | null
  readonly editing: string | null
}

/** One tab in the room, as this tab sees it. */
export interface Person extends PresenceState {
  readonly clientId: number
  readonly isSelf: boolean
}

/** This tab's presence and everyone else's. */
export class Presence {
  readonly awareness: Awareness
  /** Every user seen, by node: names stay known after a tab left (for logs). */
  private readonly seen = new Map<string, User>()

  constructor(
    doc: Y.Doc,
    private readonly identity: Identity,
    readonly nodeId: string,
  ) {
    this.awareness = new Awareness(doc)
    const state: PresenceState = { user: { name: identity.name, color: identity.color, nodeId }, pointer: null, editing: null }
    this.awareness.setLocalState(state)
    this.onChange(() => this.avoidColorClash())
  }

  /** Everyone in the room, this tab first, then by name. */
  people(): Person[] {
    const people: Person[] = []
    for (const [clientId, state] of this.awareness.getStates()) {
      if (!isPresence(state)) continue
      people.push({ ...state, clientId, isSelf: clientId === this.awareness.clientID })
    }
    return people.sort((a, b) => Number(b.isSelf) - Number(a.isSelf) || a.user.name.localeCompare(b.user.name))
  }

  /** The user running (or last seen running) on a node. */
  userOf(nodeId: string): User | undefined {
    for (const person of this.people()) this.seen.set(person.user.nodeId, person.user)
    return this.seen.get(nodeId)
  }

  /** Moves this tab's pointer (null: off the board). */
  setPointer(pointer: Pointer | null): void {
    this.awareness.setLocalStateField('pointer', pointer)
  }

  /** Marks the note this tab is editing (null: none). */
  setEditing(noteId: string | null): void {
    if (this.local()?.editing !== noteId) this.awareness.setLocalStateField('editing', noteId)
  }

  /** Renames this tab (and remembers the name for its reloads). */
  rename(name: string): void {
    this.identity.name = name
    saveIdentity(this.identity)
    const user = this.local()?.user
    if (user !== undefined) this.awareness.setLocalStateField('user', { ...user, name })
  }

  /** Calls `listener` on every change of anyone's presence; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.awareness.on('change', listener)
    return () => this.awareness.off('change', listener)
  }

  /** Two tabs of one colour: the one with the larger client id takes a free colour. */
  private avoidColorClash(): void {
    const user = this.local()?.user
    if (user === undefined) return
    const others = this.people().filter((p) => !p.isSelf)
    if (!others.some((p) => p.user.color === user.color && p.clientId < this.awareness.clientID)) return
    const taken = new Set(others.map((p) => p.user.color))
    const free = USER_COLORS.find((color) => !taken.has(color))
    if (free === undefined) return
    this.identity.color = free
    saveIdentity(this.identity)
    this.awareness.setLocalStateField('user', { ...user, color: free })
  }

  private local(): PresenceState | undefined {
    const state: unknown = this.awareness.getLocalState()
    return isPresence(state) ? state : undefined
  }
}

function isPresence(state: unknown): state is PresenceState {
  const user = (state as { user?: Partial<User> } | null)?.user
  return typeof user?.name === 'string' && typeof user.color === 'string' && typeof user.nodeId === 'string'
}
