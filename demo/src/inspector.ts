/**
 * The live inspector: this node's id, its signaling servers and how each is doing (from
 * `node.signaling()`: connected, or failing and why), its links (transport and heartbeat
 * round trip, from `node.links()`), the registry (every name with its pids and their nodes),
 * and a log of nodeup/nodedown, signaling and registry events. Servers, links and registry
 * are redrawn twice a second, only when they changed; events are pushed as they happen.
 */
import { ProtocolError, type DistribunatorNode, type LinkInfo, type WatchEvent } from '../../src/index.js'
import { byTestId, h, renderIfChanged } from './dom.js'
import { clockTime, milliseconds } from './format.js'
import type { Presence, User } from './presence.js'

const REFRESH_MS = 500
const EVENT_LOG_LENGTH = 40
const VIA_LABELS: Record<string, string> = {
  webrtc: 'WebRTC',
  'broadcast-channel': 'BroadcastChannel',
  'message-port': 'MessagePort',
  memory: 'memory',
}

/** Fills the inspector card and keeps it current. */
export function mountInspector(node: DistribunatorNode, presence: Presence, signaling: readonly string[]): void {
  byTestId('node-id').textContent = node.id
  byTestId('room-name').textContent = node.room
  const servers = byTestId('signaling')
  const links = byTestId('peers')
  const linkCount = byTestId('link-count')
  const registry = byTestId('registry')
  const events = byTestId('events')
  const userOf = (id: string): User | undefined => presence.userOf(id)

  /** A node as people know it: its tab's colour and name, then its id. */
  const nodeLabel = (id: string): HTMLElement => {
    const user = userOf(id)
    return h(
      'span',
      { class: 'node-label' },
      h('span', { class: 'dot', style: `--user: ${user?.color ?? '#8a90a2'}` }),
      h('span', { class: 'node-name' }, user?.name ?? id),
      id === node.id ? h('span', { class: 'badge you' }, 'this tab') : '',
    )
  }

  const renderServers = (): void => {
    const states = node.signaling()
    const key = JSON.stringify(states.map((s) => [s.url, s.state, s.error]))
    renderIfChanged(servers, key, () =>
      states.length === 0
        ? [h('code', {}, signaling.join(', '))]
        : states.map((s) =>
            h(
              'div',
              { class: 'server', 'data-state': s.state },
              h('code', {}, s.url),
              h('span', { class: `state ${s.state === 'connected' ? 'up' : s.state}` }, s.state),
              s.error === undefined ? null : h('span', { class: 'server-error' }, s.error),
            ),
          ),
    )
  }

  const renderLinks = (): void => {
    const rows = currentLinks(node)
    linkCount.textContent = String(rows.filter((l) => l.up).length)
    const key = JSON.stringify(rows.map((l) => [l.node, l.up, l.via, l.rtt === undefined ? null : l.rtt.toFixed(1), userOf(l.node)]))
    renderIfChanged(links, key, () =>
      rows.length === 0
        ? [h('tr', {}, h('td', { colspan: 4, class: 'empty-row lead' }, 'No other node yet — open this page in another tab.'))]
        : rows.map((l) =>
            h(
              'tr',
              { 'data-node': l.node },
              h('td', { class: 'lead' }, nodeLabel(l.node), h('code', { class: 'node-id' }, l.node)),
              h('td', {}, h('span', { class: `via via-${l.via}` }, VIA_LABELS[l.via] ?? l.via)),
              h('td', { class: `rtt ${rttClass(l.rtt)}` }, l.rtt === undefined ? '–' : milliseconds(l.rtt)),
              h('td', {}, h('span', { class: `state ${l.up ? 'up' : 'connecting'}` }, l.up ? 'up' : 'connecting')),
            ),
          ),
    )
  }

  const renderRegistry = (): void => {
    const names = [...node.registry()].sort(([a], [b]) => a.localeCompare(b))
    const key = JSON.stringify(names.map(([name, pids]) => [name, pids.map(String), pids.map((p) => userOf(p.node))]))
    renderIfChanged(registry, key, () =>
      names.length === 0
        ? [h('tr', {}, h('td', { colspan: 2, class: 'empty-row lead' }, 'No names registered.'))]
        : names.flatMap(([name, pids]) =>
            pids.map((pid, index) =>
              h(
                'tr',
                { 'data-name': name, class: index === 0 ? 'group-start' : '' },
                index === 0 ? h('td', { rowspan: pids.length, class: 'lead name-cell' }, h('code', {}, name)) : null,
                h(
                  'td',
                  {},
                  h('code', { class: 'pid' }, String(pid)),
                  h(
                    'div',
                    { class: 'pid-owner' },
                    nodeLabel(pid.node),
                    index === 0 && pids.length > 1
                      ? h('span', { class: 'badge first', title: "pick: 'first' chooses it on every node" }, 'first')
                      : '',
                  ),
                ),
              ),
            ),
          ),
    )
  }

  const logEvent = (kind: string, text: string, detail?: string): void => {
    events.prepend(
      h(
        'li',
        { class: `event event-${kind}` },
        h('time', {}, clockTime()),
        h('span', { class: 'event-kind' }, kind),
        h('span', {}, text, detail === undefined ? null : h('code', { class: 'event-detail' }, detail)),
      ),
    )
    while (events.children.length > EVENT_LOG_LENGTH) events.lastElementChild?.remove()
  }
  node.on('nodeup', ({ node: id }) => logEvent('nodeup', id))
  node.on('nodedown', ({ node: id, reason }) => logEvent('nodedown', `${id} (${reason})`))
  node.on('signaling', (s) => {
    renderServers()
    logEvent('signaling', `${s.url}: ${s.state}`, s.error)
  })
  node.watch('*', (event: WatchEvent) => logEvent(event.type, `${event.name} (${event.reason})`, String(event.pid)))
  node.on('error', (error) =>
    logEvent('error', error.message, error instanceof ProtocolError && error.peer !== undefined ? `from ${error.peer}` : undefined),
  )
  logEvent('start', `${node.id} joined room ${node.room}`)

  const refresh = (): void => {
    renderServers()
    renderLinks()
    renderRegistry()
  }
  presence.onChange(refresh)
  setInterval(refresh, REFRESH_MS)
  refresh()
}

/** Every link, by node id. */
function currentLinks(node: DistribunatorNode): LinkInfo[] {
  return node.links().sort((a, b) => a.node.localeCompare(b.node))
}

function rttClass(rtt: number | undefined): string {
  if (rtt === undefined) return ''
  return rtt < 10 ? 'fast' : rtt < 100 ? 'ok' : 'slow'
}
