/**
 * The little API the e2e tests drive a node with: the test page puts it on `window.dn`,
 * and the Node edge peer answers the same commands over IPC, so every test speaks to a
 * Chromium tab, a Firefox tab and a Node process alike.
 *
 * Every value crossing it is plain JSON (pids as strings), since `page.evaluate` and IPC
 * copy them.
 */
import type { DistribunatorNode, NodeOptions, startNode as StartNode } from '../../src/index.js'

/** One registry change a node saw, with its local wall-clock time (ms). */
export interface SeenChange {
  readonly type: 'join' | 'leave'
  readonly name: string
  readonly node: string
  readonly reason: string
  readonly at: number
}

/** A peer going up or down, as this node saw it, with its local wall-clock time (ms). */
export interface SeenNodeEvent {
  readonly type: 'nodeup' | 'nodedown'
  readonly node: string
  /** How a peer went down: 'stop' (it said goodbye), a heartbeat timeout, a closed link... */
  readonly reason?: string
  readonly at: number
}

/** A node's view, as plain data. */
export interface NodeState {
  readonly id: string
  /** Connected nodes, sorted. */
  readonly nodes: string[]
  /** Per name, the nodes of its pids in the agreed order. */
  readonly registry: Record<string, string[]>
}

/** Options a test may start a node with (JSON: no transport object). */
export type StartOptions = Omit<NodeOptions, 'transport' | 'manager'>

/** What a test can ask of a node. */
export interface TestApi {
  /** Starts the node; resolves with its id. */
  start(options: StartOptions): Promise<string>
  /** Registers a process under `name` answering every call with `{ echo, by }`. */
  serveEcho(name: string): string
  /** Registers a process under `name` that keeps every cast; a call returns them all. */
  serveInbox(name: string): string
  /** Removes every registration of `name` made here. */
  unregisterAll(name: string): void
  call(name: string, msg: unknown, timeout?: number): Promise<unknown>
  cast(name: string, msg: unknown): boolean
  /** `doNodeRpc` into the `probe` module every node exposes. */
  rpc(node: string, fn: 'whoami' | 'add' | 'runtime', args: unknown[]): Promise<unknown>
  state(): NodeState
  /** Every registry change seen since start. */
  changes(): SeenChange[]
  /** Every nodeup and nodedown seen since start. */
  nodeEvents(): SeenNodeEvent[]
  /** The node's `error` events since start (a bad frame, a throwing handler), as 'Name: message'. */
  errors(): string[]
  /** The node's links: peer, transport ('webrtc', 'broadcast-channel'...), round trip. */
  links(): { node: string; up: boolean; via: string; rtt: number | undefined }[]
  stop(): Promise<void>
}

/** Creates the API over the library's `startNode` (the page's bundle, or src in Node). */
export function createTestApi(startNode: typeof StartNode): TestApi {
  let node: DistribunatorNode | undefined
  const changes: SeenChange[] = []
  const nodeEvents: SeenNodeEvent[] = []
  const errors: string[] = []
  const registered = new Map<string, string[]>()
  const running = (): DistribunatorNode => {
    if (node === undefined) throw new Error('start the node first')
    return node
  }
  const serve = (name: string, behaviour: Parameters<DistribunatorNode['spawn']>[0]): string => {
    const pid = running().spawn(behaviour)
    running().register(name, pid)
    registered.set(name, [...(registered.get(name) ?? []), String(pid)])
    return String(pid)
  }

  return {
    async start(options) {
      if (node !== undefined) throw new Error('already started')
      node = await startNode(options)
      const self = node
      self.watch('*', (e) => changes.push({ type: e.type, name: e.name, node: e.pid.node, reason: e.reason, at: Date.now() }))
      self.on('error', (error) => errors.push(`${error.name}: ${error.message}`))
      self.on('nodeup', ({ node: peer }) => nodeEvents.push({ type: 'nodeup', node: peer, at: Date.now() }))
      self.on('nodedown', ({ node: peer, reason }) => nodeEvents.push({ type: 'nodedown', node: peer, reason, at: Date.now() }))
      self.expose('probe', {
        whoami: () => self.id,
        add: (a: number, b: number) => a + b,
        runtime: () => globalThis.navigator?.userAgent ?? `Node ${globalThis.process?.version}`,
      })
      return self.id
    },
    serveEcho: (name) => serve(name, { handleCall: (msg: unknown) => ({ echo: msg, by: running().id }) }),
    serveInbox(name) {
      const inbox: unknown[] = []
      return serve(name, { handleCast: (msg: unknown) => void inbox.push(msg), handleCall: () => [...inbox] })
    },
    unregisterAll(name) {
      const self = running()
      for (const pid of self.allPidsOf(name)) {
        if (registered.get(name)?.includes(String(pid))) self.unregister(name, pid)
      }
      registered.delete(name)
    },
    call: (name, msg, timeout = 10_000) => running().call(name, msg, { timeout }),
    cast: (name, msg) => running().cast(name, msg),
    rpc: (target, fn, args) => running().doNodeRpc(target, 'probe', fn, args, { timeout: 10_000 }),
    state() {
      const self = running()
      const registry: Record<string, string[]> = {}
      for (const [name, pids] of self.registry()) registry[name] = pids.map((p) => p.node)
      return { id: self.id, nodes: self.nodes().sort(), registry }
    },
    changes: () => [...changes],
    nodeEvents: () => [...nodeEvents],
    errors: () => [...errors],
    links: () =>
      running()
        .links()
        .map(({ node: peer, up, via, rtt }) => ({ node: peer, up, via, rtt })),
    stop: async () => node?.stop(),
  }
}
