/**
 * Keeps the room's board in this browser's localStorage, so it survives closing every tab.
 * All tabs of the browser hold the same converged document, so whichever saves last saves
 * everything; loading an older copy into a live room is harmless (Yjs merges updates, and
 * a deletion made since stays deleted).
 */
import * as Y from 'yjs'

const SAVE_DELAY_MS = 400

/** Loads the stored state of `room` into `doc` and saves every change; returns a stop function. */
export function persistInLocalStorage(doc: Y.Doc, room: string): () => void {
  const key = `distribunator-demo/doc/${room}`
  const stored = localStorage.getItem(key)
  if (stored !== null) {
    try {
      Y.applyUpdate(
        doc,
        Uint8Array.from(atob(stored), (c) => c.charCodeAt(0)),
        'storage',
      )
    } catch {
      localStorage.removeItem(key) // unreadable (another version of the demo): start empty
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const save = (): void => {
    timer = undefined
    const bytes = Y.encodeStateAsUpdate(doc)
    let text = ''
    for (const byte of bytes) text += String.fromCharCode(byte)
    try {
      localStorage.setItem(key, btoa(text))
    } catch {
      // Storage full or disabled: the board still lives in the open tabs.
    }
  }
  const onUpdate = (): void => {
    timer ??= setTimeout(save, SAVE_DELAY_MS)
  }
  doc.on('update', onUpdate)
  addEventListener('pagehide', save)
  return () => {
    doc.off('update', onUpdate)
    removeEventListener('pagehide', save)
    clearTimeout(timer)
  }
}
