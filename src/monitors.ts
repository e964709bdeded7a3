/**
 * Process monitors, as Erlang's `monitor(process, Pid)`: a monitor fires exactly once, with
 * the exit reason of the process; with 'noproc' if it was already dead (or its node has
 * restarted since); with 'noconnection' if its node went down or was never connected.
 *
 * A monitor of a remote pid sends `Monitor` to the pid's node, which keeps the watch and
 * answers `Down` when the process exits; `Demonitor` drops the watch.
 */
import type { Pid } from './pid.js'
import type { LocalEndpoint } from './transport/transport.js'
import { FrameType, type Frame } from './wire.js'

/** A monitored process went down. */
export interface DownEvent {
  /** The monitored pid. */
  readonly pid: Pid
  /** The exit reason, or 'noproc' / 'noconnection'. */
  readonly reason: unknown
}

/** A monitor: await it (or its `down`) for the DownEvent; `demonitor` cancels it. */
export class Monitor implements PromiseLike<DownEvent> {
  /** Resolves once, when the process goes down. Never resolves after `demonitor`. */
  readonly down: Promise<DownEvent>

  constructor(
    /** The monitored pid. */
    readonly pid: Pid,
    down: Promise<DownEvent>,
    private readonly cancel: () => void,
  ) {
    this.down = down
  }

  /** Stops monitoring: no DownEvent will come. */
  demonitor(): void {
    this.cancel()
  }

  then<A = DownEvent, B = never>(
    onDown?: ((event: DownEvent) => A | PromiseLike<A>) | null,
    onError?: ((error: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.down.then(onDown, onError)
  }
}

/** What monitors need from their node. */
export interface MonitorHooks {
  readonly self: LocalEndpoint
  /** Whether a local process is alive. */
  isAlive(pid: Pid): boolean
  /** Incarnation of a node that is up, else undefined. */
  upIncarnation(nodeId: string): number | undefined
  send(nodeId: string, frame: Frame): void
  /** Every monitor that fires is also reported here (the node's 'down' event). */
  fired(event: DownEvent): void
}

interface Outgoing {
  readonly pid: Pid
  readonly resolve: (event: DownEvent) => void
}

/** The monitors of one node: the ones it holds and the ones peers hold on its processes. */
export class Monitors {
  private readonly outgoing = new Map<number, Outgoing>()
  /** Local pid id → watchers: a local monitor ref, or a peer's `node` + ref. */
  private readonly watches = new Map<number, Map<string, { node: string | null; ref: number }>>()
  private nextRef = 1

  constructor(private readonly hooks: MonitorHooks) {}

  /** Starts monitoring `pid`. */
  monitor(pid: Pid): Monitor {
    const ref = this.nextRef++
    let resolve!: (event: DownEvent) => void
    const down = new Promise<DownEvent>((r) => (resolve = r))
    this.outgoing.set(ref, { pid, resolve })
    const { self } = this.hooks
    let cancel: () => void
    if (pid.node === self.nodeId) {
      cancel = () => {
        this.outgoing.delete(ref)
        this.unwatch(pid.id, watchKey(null, ref))
      }
      if (pid.incarnation === self.incarnation && this.hooks.isAlive(pid)) this.watch(pid.id, null, ref)
      else this.fire(ref, 'noproc')
    } else {
      cancel = () => {
        if (this.outgoing.delete(ref)) this.hooks.send(pid.node, { type: FrameType.Demonitor, ref })
      }
      const incarnation = this.hooks.upIncarnation(pid.node)
      if (incarnation === undefined) this.fire(ref, 'noconnection')
      else if (incarnation !== pid.incarnation) this.fire(ref, 'noproc')
      else this.hooks.send(pid.node, { type: FrameType.Monitor, ref, pid })
    }
    return new Monitor(pid, down, cancel)
  }

  /** A peer monitors one of our processes. */
  peerMonitors(node: string, ref: number, pid: Pid): void {
    const { self } = this.hooks
    if (pid.node === self.nodeId && pid.incarnation === self.incarnation && this.hooks.isAlive(pid)) {
      this.watch(pid.id, node, ref)
    } else {
      this.hooks.send(node, { type: FrameType.Down, ref, reason: 'noproc' })
    }
  }

  /** A peer cancels its monitor. */
  peerDemonitors(node: string, ref: number): void {
    for (const [pidId, watchers] of this.watches) {
      if (watchers.delete(watchKey(node, ref))) {
        if (watchers.size === 0) this.watches.delete(pidId)
        return
      }
    }
  }

  /** A peer reports that a process we monitor went down. */
  peerReportsDown(node: string, ref: number, reason: unknown): void {
    if (this.outgoing.get(ref)?.pid.node === node) this.fire(ref, reason)
  }

  /** A local process exited: fire its monitors, local and remote. */
  processExited(pid: Pid, reason: unknown): void {
    const watchers = this.watches.get(pid.id)
    if (watchers === undefined) return
    this.watches.delete(pid.id)
    for (const { node, ref } of watchers.values()) {
      if (node === null) this.fire(ref, reason)
      else this.hooks.send(node, { type: FrameType.Down, ref, reason })
    }
  }

  /** A node went down: our monitors of its processes fire, its monitors of ours go. */
  nodeDown(node: string): void {
    for (const [ref, entry] of [...this.outgoing]) if (entry.pid.node === node) this.fire(ref, 'noconnection')
    for (const [pidId, watchers] of this.watches) {
      for (const [key, watcher] of watchers) if (watcher.node === node) watchers.delete(key)
      if (watchers.size === 0) this.watches.delete(pidId)
    }
  }

  /** This node stops: every monitor it holds of another node fires 'noconnection'. */
  stop(): void {
    for (const ref of [...this.outgoing.keys()]) this.fire(ref, 'noconnection')
    this.watches.clear()
  }

  private watch(pidId: number, node: string | null, ref: number): void {
    let watchers = this.watches.get(pidId)
    if (watchers === undefined) this.watches.set(pidId, (watchers = new Map()))
    watchers.set(watchKey(node, ref), { node, ref })
  }

  private unwatch(pidId: number, key: string): void {
    const watchers = this.watches.get(pidId)
    watchers?.delete(key)
    if (watchers?.size === 0) this.watches.delete(pidId)
  }

  private fire(ref: number, reason: unknown): void {
    const entry = this.outgoing.get(ref)
    if (entry === undefined) return
    this.outgoing.delete(ref)
    const event: DownEvent = { pid: entry.pid, reason }
    entry.resolve(event)
    this.hooks.fired(event)
  }
}

function watchKey(node: string | null, ref: number): string {
  return node === null ? `local:${ref}` : `${node}\u0000${ref}`
}
