/**
 * Workers for the e2e tests: the page starts a Web Worker or SharedWorker running a node
 * (worker.ts), attaches it to the page's node, and relays test API commands to it, so a
 * test drives a worker like any other peer (`window.dnWorkers.run(nodeId, method, args)`).
 */
import type { DistribunatorNode } from '../../src/index.js'
import type { StartOptions } from './test-api.js'
import workerUrl from './worker.ts?worker&url'

/** What a test can ask of the page about workers. */
export interface WorkerControl {
  /** Starts a worker node with these options and attaches it to the page's node. */
  spawn(kind: 'dedicated' | 'shared', options: StartOptions): void
  /** Runs a test API method in the worker node `nodeId`. */
  run(nodeId: string, method: string, args: unknown[]): Promise<unknown>
}

interface Channel {
  postMessage(message: unknown): void
}

export function createWorkerControl(pageNode: () => DistribunatorNode): WorkerControl {
  const channels = new Map<string, Channel>()
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let next = 1
  const onReply = (event: MessageEvent): void => {
    const reply = event.data as { dnReply?: number; ok: boolean; value?: unknown; error?: string }
    const waiter = typeof reply?.dnReply === 'number' ? pending.get(reply.dnReply) : undefined
    if (waiter === undefined) return
    pending.delete(reply.dnReply as number)
    if (reply.ok) waiter.resolve(reply.value)
    else waiter.reject(new Error(reply.error))
  }
  return {
    spawn(kind, options) {
      // The same URL (options included) gives every page of the profile the same SharedWorker.
      const url = `${workerUrl}?options=${encodeURIComponent(JSON.stringify(options))}`
      if (kind === 'dedicated') {
        const worker = new Worker(url)
        worker.addEventListener('message', onReply)
        channels.set(options.nodeId as string, worker)
        pageNode().attachWorker(worker)
      } else {
        const worker = new SharedWorker(url, { name: options.nodeId })
        worker.port.addEventListener('message', onReply)
        worker.port.start()
        channels.set(options.nodeId as string, worker.port)
        pageNode().attachWorker(worker)
      }
    },
    run(nodeId, method, args) {
      const channel = channels.get(nodeId)
      if (channel === undefined) return Promise.reject(new Error(`no worker ${nodeId} in this page`))
      const id = next++
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        channel.postMessage({ dnCommand: id, method, args })
      })
    },
  }
}
