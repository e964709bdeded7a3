/**
 * A fresh, zero-config Vite app that installed `distribunator` like any package: it proves
 * an app needs no Node polyfills. `npm run build` and `npm run check:fresh-app` build it
 * into dist/ (scripts/fresh-vite-app.ts), with the packed package in node_modules/.
 *
 * What the page exposes, for tests:
 * - `window.startNode`: the package's `startNode`.
 * - With `?signaling=ws://…&room=…` (optional `&nodeId=…`), it starts a node at load:
 *   `window.node` is the node once started; `#node-id` shows its id; `#status` goes
 *   'idle' → 'starting' → 'started' (or 'error: …'); `#peers` lists `node.nodes()` (sorted,
 *   comma-separated) and follows nodeup / nodedown. Tests stop it with `window.node.stop()`.
 */
import { startNode } from 'distribunator'

type DistribunatorNode = Awaited<ReturnType<typeof startNode>>

declare global {
  interface Window {
    startNode: typeof startNode
    node?: DistribunatorNode
  }
}

window.startNode = startNode

const params = new URLSearchParams(location.search)
const signaling = params.get('signaling')
const room = params.get('room')
const show = (id: string, text: string) => {
  document.getElementById(id)!.textContent = text
}

if (signaling !== null && room !== null) {
  show('status', 'starting')
  startNode({ room, signaling: [signaling], nodeId: params.get('nodeId') ?? undefined }).then(
    (node) => {
      window.node = node
      const showPeers = () => show('peers', node.nodes().sort().join(','))
      node.on('nodeup', showPeers)
      node.on('nodedown', showPeers)
      show('node-id', node.id)
      show('status', 'started')
      showPeers()
    },
    (error: unknown) => show('status', `error: ${String(error)}`),
  )
}
