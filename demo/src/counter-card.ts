/**
 * The "Counter service" card: starts this tab's counter process, shows the value (from the
 * shared doc) and which tab serves it, and calls or casts to the service by name. Its log
 * shows this tab's requests with their round trip, the requests this tab served, and
 * failovers.
 */
import type * as Y from 'yjs'
import type { DistribunatorNode, Pid, WatchEvent } from '../../src/index.js'
import { byTestId, h } from './dom.js'
import { Counter, counterValue, type CounterCall, type CounterReply } from './counter-service.js'
import { clockTime, milliseconds } from './format.js'
import type { Presence } from './presence.js'

type LogKind = 'call' | 'cast' | 'served' | 'failover' | 'handover' | 'error'

const LOG_LENGTH = 6

/** Starts the local counter process and wires the card; returns a function telling who serves. */
export async function mountCounterCard(
  node: DistribunatorNode,
  doc: Y.Doc,
  presence: Presence,
  changed: () => void,
): Promise<() => string | undefined> {
  const state = doc.getMap<unknown>('counter')
  const valueView = byTestId('counter-value')
  const servedBy = byTestId('served-by')
  const standby = byTestId('standby')
  const toggle = byTestId<HTMLButtonElement>('counter-toggle')
  const log = byTestId('counter-log')
  const nameOf = (nodeId: string): string => presence.userOf(nodeId)?.name ?? nodeId
  const serving = (): string | undefined => node.pidOf(Counter, { pick: 'first' })?.node

  const addLog = (kind: LogKind, text: string): void => {
    log.prepend(
      h(
        'li',
        { class: `log-${kind}` },
        h('span', { class: 'log-kind' }, kind),
        h('span', { class: 'log-text' }, text.charAt(0).toUpperCase() + text.slice(1)),
        h('time', {}, clockTime()),
      ),
    )
    while (log.children.length > LOG_LENGTH) log.lastElementChild?.remove()
  }

  let shown = counterValue(state)
  const showValue = (): void => {
    const value = counterValue(state)
    valueView.textContent = String(value)
    if (value === shown) return
    shown = value
    // Restart the bump animation on every change.
    valueView.classList.remove('bump')
    void valueView.offsetWidth
    valueView.classList.add('bump')
  }
  state.observe(showValue)
  valueView.textContent = String(shown)

  let server: string | undefined
  // Until the first peer is up, the server changes only because this tab is learning the registry.
  let settled = false
  node.on('nodeup', () => void (settled = true))
  const showServer = (event?: WatchEvent): void => {
    const now = serving()
    if (settled && server !== undefined && now !== undefined && now !== server) {
      const [before, after] = [server === node.id ? 'this tab' : nameOf(server), now === node.id ? 'this tab' : nameOf(now)]
      if (node.allNodesOf(Counter).includes(server)) {
        addLog('handover', `${after} serves now: first in the registry's order`)
      } else {
        const how = event?.reason === 'nodedown' ? 'left' : 'stopped serving'
        addLog('failover', `${before} ${how}: ${after} takes over`)
      }
    }
    server = now
    const user = now === undefined ? undefined : presence.userOf(now)
    servedBy.dataset.node = now ?? ''
    servedBy.replaceChildren(
      ...(now === undefined
        ? [h('span', { class: 'nobody' }, 'no tab serves it')]
        : [
            h('span', { class: 'dot', style: `--user: ${user?.color ?? '#8a90a2'}` }),
            h('strong', {}, user?.name ?? now),
            now === node.id ? h('span', { class: 'badge you' }, 'this tab') : '',
            h('code', { class: 'node-id' }, now),
          ]),
    )
    const others = node.allNodesOf(Counter).filter((n) => n !== now).length
    standby.textContent = others === 0 ? 'no stand-by' : `${others} tab${others === 1 ? '' : 's'} on stand-by`
    changed()
  }
  node.watch(Counter, showServer)
  presence.onChange(() => showServer())

  const onServed = ({ op, by, from, value }: { op: string; by: number; from: string; value: number }): void => {
    if (from === node.id) return // our own request: its call log line says it all
    addLog('served', `${op === 'reset' ? 'reset' : `${by > 0 ? '+' : ''}${by}`} for ${nameOf(from)} → ${value}`)
  }
  let pid: Pid | undefined = await node.start(Counter, state, onServed)
  toggle.addEventListener('click', async () => {
    toggle.disabled = true
    if (pid !== undefined) {
      node.exit(pid)
      pid = undefined
    } else {
      pid = await node.start(Counter, state, onServed)
    }
    toggle.textContent = pid === undefined ? 'Serve here' : 'Stop serving'
    toggle.disabled = false
  })

  const call = async (msg: CounterCall, label: string): Promise<void> => {
    const started = performance.now()
    try {
      const reply = await node.call<CounterReply>(Counter, msg, { pick: 'first', timeout: 3000 })
      const ms = performance.now() - started
      const by = reply.servedBy === node.id ? 'this tab' : nameOf(reply.servedBy)
      addLog('call', `${label} → ${reply.value} · by ${by} · ${milliseconds(ms)}`)
    } catch (error) {
      addLog('error', `${label}: ${explain(error)}`)
    }
  }
  byTestId('counter-call').addEventListener('click', () => void call({ op: 'add', by: 1 }, '+1'))
  byTestId('counter-reset').addEventListener('click', () => void call({ op: 'reset' }, 'reset'))
  byTestId('counter-cast').addEventListener('click', () => {
    const sent = node.cast(Counter, { op: 'add', by: 10, from: node.id })
    addLog(sent ? 'cast' : 'error', sent ? `+10 sent to ${nameOf(serving() ?? '?')} (no reply)` : '+10: no tab serves the counter')
  })

  showServer()
  return serving
}

function explain(error: unknown): string {
  const { name, message } = error as Error
  if (name === 'NoPidError') return 'no tab serves the counter'
  if (name === 'NodeDownError') return 'the serving tab went away mid-call; the next call goes to another tab'
  if (name === 'TimeoutError') return 'no answer in time'
  return `${name}: ${message}`
}
