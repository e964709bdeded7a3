/**
 * The local processes of one node incarnation, by pid: spawning (a behaviour object or a
 * GenServer instance), finding the live process a pid names, and exiting them all when the
 * node stops. A pid of another node, or of an earlier incarnation of this one, names none.
 */
import { ArgumentError, NoProcError, NotLocalError } from './errors.js'
import { GenServer, attachGenServer, type AnyGenServer } from './gen-server.js'
import type { DistribunatorNode } from './node.js'
import { Pid } from './pid.js'
import { LocalProcess, type Behaviour, type ProcessHooks } from './process.js'
import type { LocalEndpoint } from './transport/transport.js'

/** The processes of one node. */
export class ProcessTable {
  private readonly processes = new Map<number, LocalProcess>()
  private lastId = 0

  constructor(
    private readonly self: LocalEndpoint,
    private readonly hooks: ProcessHooks,
  ) {}

  /** Starts a process on `node`; `ready` settles once its init has run (rejects if init threw: the process exited). */
  spawn(behaviour: Behaviour<DistribunatorNode> | AnyGenServer, node: DistribunatorNode): { pid: Pid; ready: Promise<void> } {
    if (typeof behaviour !== 'object' || behaviour === null) throw new ArgumentError('spawn needs a behaviour object or GenServer')
    const pid = new Pid(this.self.nodeId, this.self.incarnation, ++this.lastId)
    const context = { self: pid, node }
    if (behaviour instanceof GenServer) attachGenServer(behaviour, context)
    const process = new LocalProcess(pid, behaviour as Behaviour, {
      exited: (exitedPid, reason) => {
        this.processes.delete(exitedPid.id)
        this.hooks.exited(exitedPid, reason)
      },
      handlerFailed: (failedPid, error) => this.hooks.handlerFailed(failedPid, error),
    })
    this.processes.set(pid.id, process)
    const ready = process.start(context)
    // A failed init is the process's exit reason; `start` callers see it through `ready`.
    ready.catch(() => undefined)
    return { pid, ready }
  }

  /** The live process `pid` names, if it is one of this node's. */
  get(pid: Pid): LocalProcess | undefined {
    if (pid.node !== this.self.nodeId || pid.incarnation !== this.self.incarnation) return undefined
    return this.processes.get(pid.id)
  }

  /** Ends the process `pid` names, if alive; throws for what is not a pid of this node. */
  exit(pid: Pid, reason: unknown): void {
    if (!(pid instanceof Pid)) throw new ArgumentError('exit needs a pid')
    if (pid.node !== this.self.nodeId) throw new NotLocalError(pid.toString())
    this.get(pid)?.exit(reason)
  }

  /**
   * Throws unless `pid` is a pid of this node's current incarnation (`ArgumentError`,
   * `NotLocalError`) and, with `alive`, names a live process (`NoProcError`). `what` names the
   * operation, for the message.
   */
  checkLocal(pid: Pid, what: string, alive = false): void {
    if (!(pid instanceof Pid)) throw new ArgumentError(`${what} needs a pid`)
    if (pid.node !== this.self.nodeId || pid.incarnation !== this.self.incarnation) throw new NotLocalError(pid.toString())
    if (alive && this.get(pid) === undefined) throw new NoProcError(pid.toString())
  }

  /** Ends every process with `reason`. */
  exitAll(reason: unknown): void {
    for (const process of [...this.processes.values()]) process.exit(reason)
  }
}
