/**
 * Ours, driven the way an app uses it: a node in the page, an echo process answering
 * `node.call`, a sink counting `node.cast`, and the registry and failure probes. The loops
 * mirror pipe.ts so ours and the baselines pay the same harness cost.
 */
import { startNode, type DistribunatorNode, type Pid } from '../../src/index.js'
import type { Pipe } from './pipe.js'

/** Options the harness starts a node with (plain JSON). */
export interface StartOptions {
  readonly room: string
  readonly nodeId: string
  readonly signaling?: readonly string[]
}

/** A node's links, as plain data. */
export interface LinkView {
  readonly node: string
  readonly via: string
  readonly up: boolean
  readonly rtt: number | undefined
}

/** The node of this page and the probes over it. */
export class Ours {
  private node: DistribunatorNode | undefined
  private own: Pid | undefined
  private errors: string[] = []
  private left: Promise<number> | undefined
  private downs: string[] = []

  private get running(): DistribunatorNode {
    if (this.node === undefined) throw new Error('start the node first')
    return this.node
  }

  /** Starts the node; resolves with its id. */
  async start(options: StartOptions): Promise<string> {
    this.node = await startNode(options)
    this.node.on('error', (error) => this.errors.push(`${error.name}: ${error.message}`))
    this.node.on('nodedown', ({ node, reason }) => this.downs.push(`${node} down (${reason}) at ${Date.now()}`))
    this.own = this.node.spawn({})
    return this.node.id
  }

  /** Connected nodes, sorted. */
  nodes(): string[] {
    return this.running.nodes().sort()
  }

  links(): LinkView[] {
    return this.running.links().map(({ node, via, up, rtt }) => ({ node, via, up, rtt }))
  }

  /** Every nodedown so far, as 'peer down (reason) at ms'. */
  nodedowns(): string[] {
    return [...this.downs]
  }

  /** The node's `error` events so far. */
  errorsSeen(): string[] {
    return [...this.errors]
  }

  /** Registers a process under `name` that answers every call with the message itself. */
  serveEcho(name: string): void {
    this.running.register(name, this.running.spawn({ handleCall: (msg: unknown) => msg }))
  }

  /** Registers a process under `name` counting casts; a call returns the count and resets it. */
  serveSink(name: string): void {
    let count = 0
    this.running.register(
      name,
      this.running.spawn({
        handleCast: () => void count++,
        handleCall: () => {
          const seen = count
          count = 0
          return seen
        },
      }),
    )
  }

  /** Sequential `call`s of `name` with a `size`-byte message; each round trip in ms. */
  async callLoop(name: string, n: number, size: number): Promise<number[]> {
    const node = this.running
    const payload = new Uint8Array(size)
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await node.call(name, payload)
      times.push(performance.now() - t0)
    }
    return times
  }

  /** `count` casts of `size` bytes to `name`, then a call that returns the sink's count; ms. */
  async castThroughput(name: string, count: number, size: number): Promise<number> {
    const node = this.running
    const payload = new Uint8Array(size)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) node.cast(name, payload)
    // The link keeps order, so the reply comes after the sink has handled every cast.
    const seen = await node.call(name, 'count', { timeout: 120_000 }).catch((error: Error) => {
      throw new Error(`${error.message}; nodedowns: ${this.downs.join(', ')}`)
    })
    const ms = performance.now() - t0
    if (seen !== count) throw new Error(`the sink saw ${String(seen)} of ${count} casts`)
    return ms
  }

  /** Empties the sink `name` (a call returns its count and resets it). */
  async resetSink(name: string): Promise<void> {
    await this.running.call(name, 'count')
  }

  /** On the watching side: every join of a name starting with `prefix`, once `pidOf` sees it, is acked over `pipe`. */
  ackJoins(prefix: string, pipe: Pipe): void {
    const node = this.running
    node.watch('*', (e) => {
      if (e.type === 'join' && e.name.startsWith(prefix) && node.pidOf(e.name) !== undefined) pipe.send('ack')
    })
  }

  /** Registers `name`, waits for the other side's ack over `pipe`, unregisters; ms from register to ack. */
  async registerUntilAcked(name: string, pipe: Pipe): Promise<number> {
    const node = this.running
    const acked = new Promise<void>((resolve, reject) => {
      pipe.onMessage(() => resolve())
      setTimeout(() => reject(new Error(`no ack for ${name} within 10 s`)), 10_000)
    })
    const t0 = performance.now()
    node.register(name, this.own!)
    await acked
    const ms = performance.now() - t0
    node.unregister(name, this.own!)
    return ms
  }

  /** Starts watching for `name` to leave; `leftAt` resolves with the wall-clock ms when it does. */
  armLeave(name: string): void {
    const node = this.running
    this.left = new Promise((resolve) => {
      const stop = node.watch(name, (e) => {
        if (e.type === 'leave' && node.pidOf(name) === undefined) {
          stop()
          resolve(Date.now())
        }
      })
    })
  }

  /** When the name given to `armLeave` left (wall clock, ms). */
  leftAt(): Promise<number> {
    if (this.left === undefined) throw new Error('armLeave first')
    return this.left
  }

  /** Resolves (wall clock, ms) once `peers` are all connected and every name of `names` has one pid per node in `owners`. */
  meshed(peers: readonly string[], names: Readonly<Record<string, readonly string[]>>): Promise<number> {
    const node = this.running
    const done = (): boolean =>
      peers.every((p) => node.nodes().includes(p)) &&
      Object.entries(names).every(([name, owners]) => sameSet(node.allNodesOf(name), owners))
    return new Promise((resolve) => {
      if (done()) return resolve(Date.now())
      const check = (): void => {
        if (!done()) return
        stopWatch()
        node.off('nodeup', check)
        resolve(Date.now())
      }
      const stopWatch = node.watch('*', check)
      node.on('nodeup', check)
    })
  }

  /** The registry as name → nodes in the agreed order, names sorted (to compare across tabs). */
  registryView(): [string, string[]][] {
    return [...this.running.registry()].map(([name, pids]): [string, string[]] => [name, pids.map((p) => p.node)]).sort()
  }

  /** Links a worker running a node with `parent: self` (worker.ts) to this page's node. */
  attachWorker(worker: Worker): void {
    this.running.attachWorker(worker)
  }

  /** Resolves once every one of `names` has a pid in this node's registry. */
  namesShown(names: readonly string[]): Promise<void> {
    const node = this.running
    const shown = (): boolean => names.every((name) => node.pidOf(name) !== undefined)
    return new Promise((resolve) => {
      if (shown()) return resolve()
      const stop = node.watch('*', () => {
        if (!shown()) return
        stop()
        resolve()
      })
    })
  }

  /** Registers `name` for this node's own process. */
  register(name: string): void {
    this.running.register(name, this.own!)
  }

  async stop(): Promise<void> {
    await this.node?.stop()
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && b.every((x) => a.includes(x))
}
