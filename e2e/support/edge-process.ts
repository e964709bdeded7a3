/** Runs the Node edge peer (edge-peer.ts) in a child process and drives it as a `Peer`. */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { EdgeReply, EdgeRequest } from './edge-peer.js'
import type { Peer, Result, Method } from './peer.js'
import type { TestApi } from '../page/test-api.js'

const script = fileURLToPath(new URL('./edge-peer.ts', import.meta.url))

/** A Node edge peer in its own process. */
export class EdgeProcess implements Peer {
  readonly runtime = 'node'
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  private nextId = 1
  private readonly exited: Promise<void>

  private constructor(
    readonly nodeId: string,
    private readonly child: ChildProcess,
    ready: () => void,
  ) {
    child.on('message', (message: EdgeReply) => {
      if ('ready' in message) return ready()
      const waiter = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.ok) waiter?.resolve(message.value)
      else waiter?.reject(Object.assign(new Error(message.error.message), { name: message.error.name }))
    })
    this.exited = new Promise((resolve) =>
      child.on('exit', () => {
        for (const { reject } of this.pending.values()) reject(new Error(`edge peer ${nodeId} exited`))
        this.pending.clear()
        resolve()
      }),
    )
  }

  /** Forks the process and waits until it listens (the node itself starts with `run('start', ...)`). */
  static async spawn(nodeId: string): Promise<EdgeProcess> {
    let edge: EdgeProcess | undefined
    await new Promise<void>((resolve, reject) => {
      const child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      child.once('exit', (code) => reject(new Error(`edge peer ${nodeId} exited with ${code} before it was ready`)))
      edge = new EdgeProcess(nodeId, child, resolve)
    })
    return edge as EdgeProcess
  }

  run<M extends Method>(method: M, ...args: Parameters<TestApi[M]>): Promise<Result<M>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.send({ id, method, args } satisfies EdgeRequest)
    })
  }

  /** Stops the node gracefully if it answers within 5 s, then ends the process. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        this.run('stop').catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 5000)
        }),
      ])
      clearTimeout(timer)
      this.child.kill('SIGKILL')
    }
    await this.exited
  }
}
