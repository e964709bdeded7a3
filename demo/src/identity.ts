/**
 * Who this tab is to the others: a friendly name and a colour, kept in sessionStorage so a
 * reload keeps them (each tab has its own sessionStorage), and a node id made from the
 * name plus a random suffix, fresh at every load (ids are unique in a room).
 */

/** A tab's name and colour, as presence shows it. */
export interface Identity {
  name: string
  color: string
}

const ADJECTIVES = [
  'Amber',
  'Brisk',
  'Calm',
  'Dusky',
  'Eager',
  'Fuzzy',
  'Gentle',
  'Happy',
  'Jolly',
  'Lucky',
  'Mellow',
  'Nimble',
  'Plucky',
  'Quiet',
  'Rosy',
  'Sunny',
  'Swift',
  'Witty',
]
const ANIMALS = [
  'Otter',
  'Fox',
  'Heron',
  'Lynx',
  'Panda',
  'Koala',
  'Badger',
  'Falcon',
  'Gecko',
  'Moose',
  'Puffin',
  'Quokka',
  'Seal',
  'Tapir',
  'Walrus',
  'Yak',
  'Wombat',
  'Owl',
]
/** Vivid, well-separated colours that carry white text. */
export const USER_COLORS = ['#e5484d', '#e2661b', '#b8860b', '#2f9e5f', '#0f9b8e', '#0b84e6', '#6e56cf', '#d6409f']

const STORAGE_KEY = 'distribunator-demo/identity'

/** This tab's identity: the stored one, or a new random one. */
export function loadIdentity(): Identity {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Identity> | null
    if (typeof stored?.name === 'string' && typeof stored.color === 'string') return { name: stored.name, color: stored.color }
  } catch {
    // A corrupt entry: start over with a new identity.
  }
  const identity = { name: `${pick(ADJECTIVES)} ${pick(ANIMALS)}`, color: pick(USER_COLORS) }
  saveIdentity(identity)
  return identity
}

/** Remembers the identity for reloads of this tab. */
export function saveIdentity(identity: Identity): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(identity))
}

/** A node id for this load: 'lucky-otter-k3f9'. */
export function nodeIdFor(identity: Identity): string {
  const slug =
    identity.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 24) || 'tab'
  return `${slug}-${Math.random().toString(36).slice(2, 6)}`
}

/** Initials for an avatar: 'Lucky Otter' → 'LO'. */
export function initials(name: string): string {
  const letters = name
    .trim()
    .split(/\s+/)
    .map((word) => word[0] ?? '')
    .join('')
  return (letters.slice(0, 2) || '?').toUpperCase()
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T
}
