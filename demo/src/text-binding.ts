/**
 * Binds a <textarea> to a Y.Text, so two tabs can type in one note at once: a local edit
 * becomes the smallest delete + insert (the common prefix and suffix are kept), and a
 * remote edit updates the textarea while the caret and selection stay on the same
 * characters.
 */
import type * as Y from 'yjs'

/** Keeps `textarea` and `text` equal; returns the unbind function. */
export function bindTextarea(textarea: HTMLTextAreaElement, text: Y.Text): () => void {
  textarea.value = text.toString()

  const onInput = (): void => {
    const before = text.toString()
    const after = textarea.value
    let start = 0
    while (start < before.length && start < after.length && before[start] === after[start]) start++
    let endBefore = before.length
    let endAfter = after.length
    while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
      endBefore--
      endAfter--
    }
    text.doc?.transact(() => {
      if (endBefore > start) text.delete(start, endBefore - start)
      if (endAfter > start) text.insert(start, after.slice(start, endAfter))
    })
  }

  const onChange = (event: Y.YTextEvent, transaction: Y.Transaction): void => {
    if (transaction.local) return
    const focused = document.activeElement === textarea
    let selectionStart = textarea.selectionStart
    let selectionEnd = textarea.selectionEnd
    let index = 0
    // Shift the selection by every insert and delete that happened before it.
    for (const op of event.delta) {
      if (op.retain !== undefined) {
        index += op.retain
      } else if (typeof op.insert === 'string') {
        const length = op.insert.length
        if (index <= selectionStart) selectionStart += length
        if (index < selectionEnd) selectionEnd += length
        index += length
      } else if (op.delete !== undefined) {
        selectionStart = shiftForDelete(selectionStart, index, op.delete)
        selectionEnd = shiftForDelete(selectionEnd, index, op.delete)
      }
    }
    textarea.value = text.toString()
    if (focused) textarea.setSelectionRange(selectionStart, selectionEnd)
  }

  textarea.addEventListener('input', onInput)
  text.observe(onChange)
  return () => {
    textarea.removeEventListener('input', onInput)
    text.unobserve(onChange)
  }
}

/** Where a position lands after `length` characters at `index` are deleted. */
function shiftForDelete(position: number, index: number, length: number): number {
  if (position <= index) return position
  return Math.max(index, position - length)
}
