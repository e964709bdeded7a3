/**
 * Shared test helpers: clusters on a memory network, and waits on conditions or events
 * (never on sleeps).
 */
import { afterAll, beforeAll, vi } from 'vitest'
import {
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type MemoryNetwork,
  type NodeEvents,
  type MemoryNetworkOptions,
  type NodeOptions,
  type Pid,
} from '../src/index.js'

/** A set of nodes on one memory network. */
export interface Cluster {
  readonly network: MemoryNetwork
  readonly nodes: DistribunatorNode[]
  /** Starts one more node on the network (a late joiner or a restart). */
  add(nodeId: string, options?: Partial<NodeOptions>): Promise<DistribunatorNode>
  /** Stops every node that is still running. */
  stop(): Promise<void>
}

/** Starts nodes with the given ids on a fresh memory network and waits until all are linked. */
export async function cluster(
  ids: readonly string[],
  options: { network?: MemoryNetworkOptions; node?: Partial<NodeOptions>; connected?: boolean } = {},
): Promise<Cluster> {
  const network = createMemoryNetwork(options.network)
  const nodes: DistribunatorNode[] = []
  const add = async (nodeId: string, extra: Partial<NodeOptions> = {}): Promise<DistribunatorNode> => {
    const node = await startNode({ room: 'test', nodeId, transport: network.transport(), ...options.node, ...extra })
    nodes.push(node)
    return node
  }
  for (const id of ids) await add(id)
  if (options.connected !== false) await fullyConnected(nodes)
  return {
    network,
    nodes,
    add,
    stop: async () => {
      for (const node of nodes) await node.stop()
    },
  }
}

/** Waits until each node sees every other node of the list as up. */
export async function fullyConnected(nodes: readonly DistribunatorNode[]): Promise<void> {
  await until(() => nodes.every((n) => nodes.every((m) => m === n || n.nodes().includes(m.id))))
}

/** Waits until `condition` holds, checking after every macrotask. */
export async function until(condition: () => boolean, timeout = 5000): Promise<void> {
  await vi.waitFor(
    () => {
      if (!condition()) throw new Error('condition not met yet')
    },
    { timeout, interval: 1 },
  )
}

/** How `promise` settled within `ms`: `{ error }` if it rejected, `{}` if it resolved, undefined if it had not yet. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<{ error?: unknown } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const settled = await Promise.race([
    promise.then(
      () => ({}),
      (error: unknown) => ({ error }),
    ),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms)
    }),
  ])
  clearTimeout(timer)
  return settled
}

/** Waits until an asynchronous `condition` holds (a query to a server), checking every `interval` ms. */
export async function untilAsync(condition: () => Promise<boolean>, timeout = 5000, interval = 20): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await condition())) throw new Error('condition not met yet')
    },
    { timeout, interval },
  )
}

/** Resolves with the next `name` event of a node. */
export function nextEvent<K extends keyof NodeEvents>(node: DistribunatorNode, name: K): Promise<Parameters<NodeEvents[K]>[0]> {
  return new Promise((resolve) => node.once(name, ((event: Parameters<NodeEvents[K]>[0]) => resolve(event)) as NodeEvents[K]))
}

/** Printable form of a name's pids on a node, for exact-state assertions. */
export function pidsOf(node: DistribunatorNode, name: string): string[] {
  return node.allPidsOf(name).map(String)
}

/** Every node's view of the registry as plain strings: name → printed pids. */
export function view(node: DistribunatorNode): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [name, pids] of node.registry()) out[name] = pids.map(String)
  return out
}

/** A process that does nothing: a pid to register. */
export function idle(node: DistribunatorNode): Pid {
  return node.spawn({})
}

/** Records uncaught exceptions and unhandled rejections while a file's tests run. */
export function recordUncaught(): unknown[] {
  const uncaught: unknown[] = []
  const record = (error: unknown): void => {
    uncaught.push(error)
  }
  beforeAll(() => {
    process.on('uncaughtException', record)
    process.on('unhandledRejection', record)
  })
  afterAll(() => {
    process.off('uncaughtException', record)
    process.off('unhandledRejection', record)
  })
  return uncaught
}

/** Conditions waited on by event: `when` resolves once its condition holds; call `check` after each change. */
export class Conditions {
  private readonly waiters = new Set<() => void>()

  /** Resolves once `condition` holds, re-checked on every `check()`. */
  when(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (!condition()) return
        this.waiters.delete(waiter)
        resolve()
      }
      this.waiters.add(waiter)
    })
  }

  /** Something changed: re-check every waiting condition. */
  check(): void {
    for (const waiter of [...this.waiters]) waiter()
  }

  /** Forgets every waiting condition. */
  clear(): void {
    this.waiters.clear()
  }
}
