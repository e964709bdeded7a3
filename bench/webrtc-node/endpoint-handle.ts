/**
 * The main script's side of an endpoint process: forks it, sends commands as promises,
 * relays raw negotiation data between processes, and kills it.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Command, EndpointSettings, Memory, Report } from './endpoint.js'

const script = fileURLToPath(new URL('./endpoint-process.ts', import.meta.url))

/** Every handle not yet killed, so the main script can kill them all on the way out. */
const live = new Set<EndpointHandle>()

/** A benchmark endpoint running in its own process. */
export class EndpointHandle {
  /** Memory reported once the stack was loaded, before it started. */
  loaded: Memory | undefined
  /** How the process ended (a signal name or an exit code), once it has. */
  exitedWith: string | undefined
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private nextId = 1
  private exited = false
  private readonly exit: Promise<void>
  private onLoaded: (() => void) | undefined

  private constructor(
    readonly settings: EndpointSettings,
    route: (to: string, from: string, data: unknown) => void,
    netns: string | undefined,
  ) {
    // BENCH_ENDPOINT_ARGS: more Node flags for the endpoints, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to profile them.
    const execArgv = ['--expose-gc', '--import', 'tsx', ...(process.env.BENCH_ENDPOINT_ARGS?.split(' ').filter(Boolean) ?? [])]
    const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as const
    this.child =
      netns === undefined
        ? fork(script, [JSON.stringify(settings)], { execArgv, stdio: [...stdio] })
        : // In a network namespace: `ip netns exec` execs node itself, so the IPC channel carries over.
          spawn('ip', ['netns', 'exec', netns, process.execPath, ...execArgv, script, JSON.stringify(settings)], { stdio: [...stdio] })
    live.add(this)
    this.exit = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exited = true
        this.exitedWith = signal ?? `exit code ${code}`
        live.delete(this)
        for (const { reject } of this.pending.values()) reject(new Error(`${settings.id} exited`))
        this.pending.clear()
        resolve()
      }),
    )
    this.child.on('message', (report: Report) => {
      if ('id' in report) {
        const waiter = this.pending.get(report.id)
        this.pending.delete(report.id)
        if (report.ok) waiter?.resolve(report.value)
        else waiter?.reject(new Error(`${settings.id}: ${report.error}`))
      } else if (report.event === 'loaded') {
        this.loaded = report.memory
        this.onLoaded?.()
      } else {
        route(report.to, settings.id, report.data)
      }
    })
  }

  /** Forks an endpoint process (in network namespace `netns`, if given) and waits until its stack is loaded. */
  static async fork(
    settings: EndpointSettings,
    route: (to: string, from: string, data: unknown) => void = () => undefined,
    netns?: string,
  ): Promise<EndpointHandle> {
    const handle = new EndpointHandle(settings, route, netns)
    await new Promise<void>((resolve, reject) => {
      handle.onLoaded = resolve
      void handle.exit.then(() => reject(new Error(`${settings.id} exited before it loaded`)))
    })
    return handle
  }

  get id(): string {
    return this.settings.id
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return !this.exited
  }

  /** Sends a command; resolves with the endpoint's answer. */
  command<T = unknown>(command: Command): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.id} has exited`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      // With a callback, a process that died before its 'exit' event (EPIPE) fails this command instead of the run.
      this.child.send({ ...command, id }, (error) => {
        if (error === null || !this.pending.delete(id)) return
        reject(new Error(`${this.id}: ${error.message}`))
      })
    })
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL')
    await this.exit
  }

  /** Stops the endpoint gracefully if it answers within a second, and lets it exit (writing a --cpu-prof); kills it in any case. */
  async close(): Promise<void> {
    if (!this.exited) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        this.command({ cmd: 'stop' }).then(
          () => this.exit,
          () => undefined,
        ),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 2000)
        }),
      ])
      clearTimeout(timer)
    }
    await this.kill()
  }

  /** Closes every endpoint process still running (writing their --cpu-prof), killing any that hangs. */
  static async closeAll(): Promise<void> {
    await Promise.all([...live].map((handle) => handle.close()))
  }

  /** Kills every endpoint process still running. */
  static async killAll(): Promise<void> {
    await Promise.all([...live].map((handle) => handle.kill()))
  }

  /** Kills every endpoint process still running, synchronously (for `process.on('exit')`). */
  static killAllNow(): void {
    for (const handle of live) handle.child.kill('SIGKILL')
  }
}
