/**
 * Two nodes in one Node process, over real WebRTC (node-datachannel) through a signaling
 * server in the same process — as in an app's tests, or an edge server holding two rooms —
 * against a bare RTCDataChannel pair in the same process, measured in the same run. One
 * event loop runs both ends, so every microsecond of either side's work, and every pause of
 * its garbage collector, shows in the tail: the p99 is what this measures.
 *
 * Run: `npm run bench:in-process` (builds the library first: it measures what ships).
 */
import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { startSignalingServer } from '../signaling-server/index.js'
import type * as Library from '../src/index.js'
import { fixed, percentile, ratio, table } from './webrtc-node/stats.js'

/** Sequential round trips per stack and round, after a warm-up; rounds alternate the stacks. */
const ROUND_TRIPS = { warmup: 3000, rounds: 8, perRound: 500 }
/** Issue 13's target: the p99 of a call by name within 1.5× the raw one. */
const TARGET_P99 = 1.5

/** The build measured; `BENCH_BUILD=<path to distribunator.js>` measures another (e.g. an older commit's, for a before/after). */
const BUILD =
  process.env.BENCH_BUILD === undefined
    ? new URL('../dist/distribunator.js', import.meta.url)
    : new URL(`file://${process.env.BENCH_BUILD}`)
if (!existsSync(fileURLToPath(BUILD))) throw new Error(`${fileURLToPath(BUILD)} is missing: run \`npx vite build\` first`)
const { startNode } = (await import(BUILD.href)) as typeof Library

/** A bare data channel pair in this process; resolves with a ping function (one round trip). */
async function rawPair(): Promise<{ ping: () => Promise<void>; close: () => void }> {
  const [a, b] = [new RTCPeerConnection({ iceServers: [] }), new RTCPeerConnection({ iceServers: [] })]
  a.onicecandidate = ({ candidate }) => void (candidate !== null && b.addIceCandidate(candidate))
  b.onicecandidate = ({ candidate }) => void (candidate !== null && a.addIceCandidate(candidate))
  const channel = a.createDataChannel('bench', { ordered: true })
  channel.binaryType = 'arraybuffer'
  b.ondatachannel = ({ channel: echo }) => {
    echo.binaryType = 'arraybuffer'
    echo.onmessage = ({ data }) => echo.send(new Uint8Array(data as ArrayBuffer))
  }
  await a.setLocalDescription(await a.createOffer())
  await b.setRemoteDescription(a.localDescription!)
  await b.setLocalDescription(await b.createAnswer())
  await a.setRemoteDescription(b.localDescription!)
  await new Promise<void>((resolve) => (channel.onopen = () => resolve()))
  let answered: (() => void) | undefined
  channel.onmessage = () => answered?.()
  const message = new Uint8Array(5)
  return {
    ping: () =>
      new Promise<void>((resolve) => {
        answered = resolve
        channel.send(message)
      }),
    close: () => {
      a.close()
      b.close()
    },
  }
}

async function timed(count: number, roundTrip: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await roundTrip()
    times.push(performance.now() - t0)
  }
  return times
}

const signaling = await startSignalingServer({ port: 0, host: '127.0.0.1' })
const [a, b] = await Promise.all(['a', 'b'].map((nodeId) => startNode({ room: 'in-process', nodeId, signaling: [signaling.url] })))
const raw = await rawPair()
try {
  b!.register('echo', b!.spawn({ handleCall: (msg: unknown) => msg }))
  await new Promise<void>((resolve) => {
    const check = (): void => (a!.pidOf('echo') === undefined ? void setTimeout(check, 10) : resolve())
    check()
  })
  const stacks = [
    { label: 'raw RTCDataChannel ping-pong (5 bytes)', roundTrip: raw.ping },
    { label: "ours: `node.call('echo', i)` (name lookup each call)", roundTrip: () => a!.call('echo', 1) },
  ]
  for (const stack of stacks) await timed(ROUND_TRIPS.warmup, stack.roundTrip)
  const samples = stacks.map(() => [] as number[])
  for (let round = 0; round < ROUND_TRIPS.rounds; round++) {
    for (const [i, stack] of stacks.entries()) samples[i]!.push(...(await timed(ROUND_TRIPS.perRound, stack.roundTrip)))
  }
  const p = (i: number, q: number): number => percentile(samples[i]!, q)
  console.log('Two nodes in one Node process over real WebRTC, against a bare data channel pair in the same process.')
  console.log(
    `Machine: ${availableParallelism()} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, commit ${execSync('git rev-parse --short HEAD').toString().trim()}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.`,
  )
  console.log(
    `Command: npm run bench:in-process. ${ROUND_TRIPS.rounds} × ${ROUND_TRIPS.perRound} round trips per stack, alternating, after ${ROUND_TRIPS.warmup}.\n`,
  )
  table(
    ['', 'p50 ms', 'p99 ms', 'p50 vs raw', 'p99 vs raw'],
    stacks.map((stack, i) => [stack.label, fixed(p(i, 50), 3), fixed(p(i, 99), 3), ratio(p(i, 50), p(0, 50)), ratio(p(i, 99), p(0, 99))]),
  )
  const p99 = p(1, 99) / p(0, 99)
  console.log(`\nTarget: p99 ≤ ${TARGET_P99}× raw: ${p99 <= TARGET_P99 ? 'yes' : '**NO**'} (${ratio(p(1, 99), p(0, 99))}).`)
} finally {
  raw.close()
  await Promise.all([a!.stop(), b!.stop()])
  await signaling.close()
}
