/**
 * The demo's entry point: starts this tab's node in the room from the URL, shares the
 * board's Y.Doc (with presence) over the mesh, starts the counter service, and mounts the
 * cards. An app would import from 'distribunator'; the demo imports the source tree.
 */
import * as Y from 'yjs'
import { startNode, type DistribunatorNode } from '../../src/index.js'
import { Board } from './board.js'
import { configFrom } from './config.js'
import { mountCounterCard } from './counter-card.js'
import { mountCursors } from './cursors.js'
import { byTestId } from './dom.js'
import { loadIdentity, nodeIdFor } from './identity.js'
import { mountInspector } from './inspector.js'
import { mountPeopleList } from './people-list.js'
import { persistInLocalStorage } from './persistence.js'
import { Presence } from './presence.js'

/** What the page exposes as `window.demo`, for the console and end-to-end tests. */
export interface DemoHandle {
  readonly node: DistribunatorNode
  readonly doc: Y.Doc
  readonly presence: Presence
}

declare global {
  interface Window {
    demo?: DemoHandle
  }
}

async function main(): Promise<void> {
  const config = configFrom(location)
  const identity = loadIdentity()
  byTestId('room').textContent = config.room
  byTestId('open-tab').addEventListener('click', () => window.open(location.href, '_blank'))

  const node = await startNode({
    room: config.room,
    nodeId: nodeIdFor(identity),
    signaling: config.signaling,
    broadcastChannel: config.broadcastChannel,
  })
  const doc = new Y.Doc()
  persistInLocalStorage(doc, config.room)
  const presence = new Presence(doc, identity, node.id)
  node.share(doc, 'board', { awareness: presence.awareness })

  const board = new Board(byTestId('board'), doc, presence, identity)
  mountCursors(board.canvas, presence)
  byTestId('add-note').addEventListener('click', () => board.add())

  let refreshPeople = (): void => undefined
  const serving = await mountCounterCard(node, doc, presence, () => refreshPeople())
  refreshPeople = mountPeopleList(byTestId('presence'), byTestId('presence-count'), presence, serving)
  mountInspector(node, presence, config.signaling)
  showStatus(node)

  node.on('error', (error) => {
    if (error.name === 'NodeIdTakenError') showBanner('Another tab took over this tab\u2019s node id. Reload to rejoin.')
  })
  // A page restored from the back/forward cache had its node stopped on pagehide: rejoin.
  addEventListener('pageshow', (event) => event.persisted && location.reload())
  window.demo = { node, doc, presence }
}

/** The header's "n tabs connected" pill. */
function showStatus(node: DistribunatorNode): void {
  const status = byTestId('status')
  const text = status.querySelector('span') as HTMLElement
  const update = (): void => {
    const others = node.nodes().length
    status.classList.toggle('alone', others === 0)
    text.textContent = others === 0 ? 'alone in the room' : `connected to ${others} other tab${others === 1 ? '' : 's'}`
  }
  node.on('nodeup', update)
  node.on('nodedown', update)
  update()
}

function showBanner(message: string): void {
  const banner = byTestId('banner')
  banner.textContent = message
  banner.hidden = false
}

main().catch((error: unknown) => showBanner(`The demo could not start: ${(error as Error).message}`))
