/**
 * Our library as a benchmark endpoint: a node over real WebRTC (node-datachannel) through
 * our signaling server, with an echo process (`echo-<id>`, for calls), a sink process
 * (`sink-<id>`, counts casts) and a member process (`member-<id>`, its presence).
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type * as Library from '../../src/index.js'
import type { DistribunatorNode, Pid } from '../../src/index.js'
import { ArrivalCounter, SeriesCollector, paced } from './arrivals.js'
import { timedRoundTrips, yieldToIo, type Endpoint, type EndpointSettings } from './endpoint.js'
import { clock } from './stats.js'

/**
 * The library as it ships: its ESM build (the bench scripts run `vite build` first), not the
 * sources through tsx, whose esbuild `keepNames` wraps every function in `__name` calls that
 * cost a few µs per message no user pays (seen in a profile: see bench/RESULTS.md).
 */
const BUILD = new URL('../../dist/distribunator.js', import.meta.url)
if (!existsSync(fileURLToPath(BUILD))) throw new Error(`${fileURLToPath(BUILD)} is missing: run \`npx vite build\` first`)
const { startNode } = (await import(BUILD.href)) as typeof Library
// What startNode loads on first use — WebRTC, and ws (Node 20 has no WebSocket) — loads now,
// before the endpoint reports its memory as loaded, as the raw endpoint's WebRTC does: the
// modules are a cost per process, not per peer (their ~1 MiB showed as ~65 KiB "per peer" at 16).
await import('node-datachannel/polyfill')
await import('ws')

/** Casts between yields to the event loop: the stack gets to send while a blast goes on. */
const BLAST_BATCH = 16

/** An endpoint running our node. */
export class OursEndpoint implements Endpoint {
  private node: DistribunatorNode | undefined
  private member: Pid | undefined
  private readonly counter = new ArrivalCounter()
  private readonly series = new SeriesCollector()
  private seriesPrefix = ''

  constructor(private readonly settings: EndpointSettings) {}

  async start(): Promise<void> {
    const node = await startNode({
      room: this.settings.room,
      nodeId: this.settings.id,
      signaling: [this.settings.signaling!],
      ...this.settings.node,
    })
    this.node = node
    node.register(`echo-${node.id}`, node.spawn({ handleCall: (msg: unknown) => msg }))
    node.register(`sink-${node.id}`, node.spawn({ handleCast: () => this.counter.hit() }))
    this.member = node.spawn({})
    node.watch('*', (e) => {
      if (e.type === 'join' && e.name.startsWith(this.seriesPrefix)) this.series.hit(Number(e.name.slice(this.seriesPrefix.length)))
    })
  }

  signalingPayloads(): number {
    return (this.node?.signaling() ?? []).reduce((sum, server) => sum + server.received, 0)
  }

  via(peer: string): string | undefined {
    return this.node?.links().find((l) => l.node === peer && l.up)?.via
  }

  mesh(peers: readonly string[]): Promise<number> {
    const node = this.ready()
    if (node.allPidsOf(`member-${node.id}`).length === 0) node.register(`member-${node.id}`, this.member!)
    const meshed = (): boolean => {
      const up = new Set(node.nodes())
      return peers.every((p) => up.has(p) && node.allPidsOf(`member-${p}`).length > 0)
    }
    return new Promise((resolve) => {
      const check = (): void => {
        if (!meshed()) return
        const at = clock()
        stop()
        node.off('nodeup', check)
        resolve(at)
      }
      const stop = node.watch('*', check)
      node.on('nodeup', check)
      check()
    })
  }

  async pingPong(peer: string, count: number, variant = 'pid', gapMs = 0): Promise<number[]> {
    const node = this.ready()
    const name = `echo-${peer}`
    const target = variant === 'name' ? name : node.pidOf(name)
    if (target === undefined) throw new Error(`no ${name}`)
    return timedRoundTrips(count, gapMs, (i) => node.call(target, i))
  }

  arm(count: number): void {
    this.counter.arm(count)
  }

  received(): Promise<number> {
    return this.counter.received()
  }

  async blast(peer: string, count: number, bytes: number): Promise<number> {
    const node = this.ready()
    const sink = node.pidOf(`sink-${peer}`)
    if (sink === undefined) throw new Error(`no sink-${peer}`)
    const payload = new Uint8Array(bytes)
    const start = clock()
    for (let i = 0; i < count; i++) {
      node.cast(sink, payload)
      if (i % BLAST_BATCH === BLAST_BATCH - 1) await yieldToIo()
    }
    return start
  }

  armSeries(tag: string, count: number): void {
    this.seriesPrefix = `${tag}-`
    this.series.arm(count)
  }

  collected(): Promise<number[]> {
    return this.series.collected()
  }

  emit(tag: string, count: number, perSecond: number): Promise<number[]> {
    const node = this.ready()
    const pid = this.member!
    return paced(count, perSecond, (i) => node.register(`${tag}-${i}`, pid))
  }

  gone(peer: string): Promise<number> {
    const node = this.ready()
    const name = `member-${peer}`
    return new Promise((resolve) => {
      const stop = node.watch(name, () => {
        if (node.allPidsOf(name).length > 0) return
        stop()
        resolve(clock())
      })
    })
  }

  async stop(): Promise<void> {
    await this.node?.stop()
  }

  private ready(): DistribunatorNode {
    if (this.node === undefined) throw new Error('not started')
    return this.node
  }
}
