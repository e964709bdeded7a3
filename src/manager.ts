/**
 * The Manager keeps a list of nodes connected, as the seed's `Distribunator.Manager`:
 * nodes are `absent` until a link to them is up, then `present`. Absent nodes are dialled
 * on a reconcile round, every `reconcileInterval` ms while any stay absent, backing off
 * (doubling up to `maxReconcileInterval`) while rounds bring none of them up. A nodedown
 * moves a present node back to absent and schedules a round — where the original crashed.
 *
 * One timer at most, ever: scheduling replaces the pending round.
 */
import { ArgumentError, DuplicateNodeError, NoNodeError, NodeStoppedError } from './errors.js'
import { logger } from './log.js'

/** Manager settings. */
export interface ManagerOptions {
  /** Nodes to keep connected from the start. @default [] */
  readonly nodes?: readonly string[]
  /** Milliseconds between reconcile rounds while nodes are absent. @default 5000 */
  readonly reconcileInterval?: number
  /** Longest wait between rounds once backing off. @default 60000 */
  readonly maxReconcileInterval?: number
}

/** What the Manager needs from its node. */
export interface ManagerHooks {
  /** Id of the node this Manager belongs to: it cannot manage itself. */
  readonly selfId: string
  /** Whether a link to the node is up. */
  isUp(nodeId: string): boolean
  /** Asks the transport for a link. */
  dial(nodeId: string): void
  /** Closes the link to a node, if any. */
  hangUp(nodeId: string): void
}

const log = logger('manager')

/** Keeps a set of nodes connected; `node.manager`. */
export class Manager {
  private readonly absentNodes = new Set<string>()
  private readonly presentNodes = new Set<string>()
  private readonly baseInterval: number
  private readonly maxInterval: number
  private interval: number
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false

  /** @internal Every node makes its own: `node.manager`. */
  constructor(
    private readonly hooks: ManagerHooks,
    options: ManagerOptions = {},
  ) {
    this.baseInterval = positive(options.reconcileInterval ?? 5000, 'reconcileInterval')
    this.maxInterval = Math.max(this.baseInterval, positive(options.maxReconcileInterval ?? 60_000, 'maxReconcileInterval'))
    this.interval = this.baseInterval
    const nodes = options.nodes ?? []
    if (nodes.length > 0) this.connect(nodes)
  }

  /** Nodes being managed whose link is up. */
  get present(): string[] {
    return [...this.presentNodes]
  }

  /** Nodes being managed whose link is not up. */
  get absent(): string[] {
    return [...this.absentNodes]
  }

  /**
   * Starts managing nodes; they are dialled on the next round (at once). Throws
   * `DuplicateNodeError` if any is already managed, and then manages none of them.
   */
  connect(nodes: string | readonly string[]): void {
    const list = this.nodeList(nodes)
    const known = list.filter((n) => this.absentNodes.has(n) || this.presentNodes.has(n))
    if (known.length > 0) throw new DuplicateNodeError(known)
    for (const node of list) {
      if (this.hooks.isUp(node)) this.presentNodes.add(node)
      else this.absentNodes.add(node)
    }
    this.interval = this.baseInterval
    this.schedule(0)
  }

  /**
   * Stops managing nodes and closes their links. Throws `NoNodeError` unless all of them
   * are managed, and then changes nothing. (Like Erlang's `Node.disconnect`, a peer may
   * link again later; the Manager just no longer insists.)
   */
  disconnect(nodes: string | readonly string[]): void {
    const list = this.nodeList(nodes)
    const unknown = list.filter((n) => !this.absentNodes.has(n) && !this.presentNodes.has(n))
    if (unknown.length > 0) throw new NoNodeError(`no node: ${unknown.join(', ')}`)
    for (const node of list) {
      this.absentNodes.delete(node)
      if (this.presentNodes.delete(node)) this.hooks.hangUp(node)
    }
    if (this.absentNodes.size === 0) this.cancel()
  }

  /** Runs a reconcile round now: dial every absent node. */
  reconcile(): void {
    this.cancel() // called by hand, the pending round must not stay behind as a second timer
    if (this.stopped) return
    for (const node of this.absentNodes) {
      log('dialling %s', node)
      this.hooks.dial(node)
    }
    if (this.absentNodes.size === 0) return
    this.schedule(this.interval)
    this.interval = Math.min(this.interval * 2, this.maxInterval)
  }

  /** The node reports a link up. */
  nodeUp(nodeId: string): void {
    if (!this.absentNodes.delete(nodeId)) return
    this.presentNodes.add(nodeId)
    this.interval = this.baseInterval
    if (this.absentNodes.size === 0) this.cancel()
  }

  /** The node reports a link down: a present node becomes absent and is retried. */
  nodeDown(nodeId: string): void {
    if (!this.presentNodes.delete(nodeId)) return
    this.absentNodes.add(nodeId)
    this.interval = this.baseInterval
    this.schedule(this.baseInterval)
  }

  /** Stops for good: clears the timer. */
  stop(): void {
    this.stopped = true
    this.cancel()
  }

  /** Checks a connect/disconnect argument: a list of other nodes' ids, while running. */
  private nodeList(nodes: string | readonly string[]): string[] {
    if (this.stopped) throw new NodeStoppedError(this.hooks.selfId)
    const list = typeof nodes === 'string' ? [nodes] : [...nodes]
    for (const node of list) {
      if (typeof node !== 'string' || node === '') throw new ArgumentError('node ids must be non-empty strings')
      if (node === this.hooks.selfId) throw new ArgumentError(`a node cannot manage itself (${node})`)
    }
    return [...new Set(list)]
  }

  private schedule(delay: number): void {
    if (this.stopped) return
    this.cancel()
    this.timer = setTimeout(() => this.reconcile(), delay)
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new ArgumentError(`${name} must be a positive number of ms`)
  return value
}
