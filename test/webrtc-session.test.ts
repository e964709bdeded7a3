/**
 * The WebRTC session's routing of a peer's negotiation data, through a real signaling
 * server, with the peer played by a bare signaling client: what it publishes can be late,
 * repeated or out of order, as with several servers and failed tries. A link our node
 * starts for a try and never completes gives up after `connectTimeout` and publishes an
 * `abort` for that try: the aborts it publishes show which links it made.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { startNode, webrtcTransport, type DistribunatorNode } from '../src/index.js'
import { SignalingClient } from '../src/signaling/client.js'
import { directTopic } from '../src/signaling/direct-topic.js'
import { QUICK_REDIALS } from '../src/transport/dial-retries.js'
import type { PeerConnectionClass } from '../src/transport/peer-connection.js'
import { until } from './helpers.js'

const ROOM = 'session-test'
let server: SignalingServer | undefined
let node: DistribunatorNode | undefined
let fake: SignalingClient | undefined

afterEach(async () => {
  fake?.close()
  await node?.stop()
  await server?.close()
})

/** Our node 'z' (so 'a' initiates) and a bare client publishing as node 'a'; resolves with the aborts 'z' sends 'a'. */
async function setUp(): Promise<{
  publish: (attempt: number, signal: unknown) => void
  aborts: number[]
  nextAbort: () => Promise<number>
}> {
  server = await startSignalingServer({ port: 0 })
  // Subscribed as 'a' is: to the room, and to its own topic, where 'z' sends what is for 'a'.
  fake = new SignalingClient({ urls: [server.url], topic: ROOM, directTopic: directTopic(ROOM, { nodeId: 'a', incarnation: 1 }) })
  const aborts: number[] = []
  const waiting: ((attempt: number) => void)[] = []
  let announced: () => void = () => undefined
  const zAnnounced = new Promise<void>((resolve) => {
    announced = resolve
  })
  fake.on('message', (payload) => {
    const p = payload as { type?: string; from?: { nodeId?: string }; attempt?: number; signal?: { type?: string } }
    if (p.from?.nodeId !== 'z') return
    if (p.type === 'announce') announced()
    if (p.type === 'signal' && p.signal?.type === 'abort') {
      aborts.push(p.attempt!)
      waiting.shift()?.(p.attempt!)
    }
  })
  await new Promise<void>((resolve) => fake!.on('connect', () => resolve()))
  // 'z' announces itself once subscribed: from then on it hears what the fake publishes.
  node = await startNode({ room: ROOM, nodeId: 'z', transport: webrtcTransport({ signaling: [server.url], connectTimeout: 300 }) })
  await zAnnounced
  let id = 0
  const to = { nodeId: 'z', incarnation: node.incarnation }
  return {
    publish: (attempt, signal) => fake!.publish({ type: 'signal', from: { nodeId: 'a', incarnation: 1 }, id: ++id, to, attempt, signal }),
    aborts,
    nextAbort: () => new Promise((resolve) => waiting.push(resolve)),
  }
}

const candidate = (port: number): unknown => ({
  type: 'candidate',
  candidate: { candidate: `candidate:1 1 UDP 2122252543 127.0.0.1 ${port} typ host`, sdpMid: '0', sdpMLineIndex: 0 },
})

describe('WebRTC session routing', () => {
  it('a try the peer aborted ends without an abort back; after a late candidate of it, a newer try gets the link', async () => {
    const { publish, aborts, nextAbort } = await setUp()
    publish(1, candidate(40001)) // try 1 begins (its offer is lost)
    publish(1, { type: 'abort', reason: 'gave up' }) // the peer drops it: ours ends quietly
    publish(1, candidate(40002)) // late: no link for try 1 (none outlives try 2)
    publish(2, candidate(40003)) // try 2: a link, which times out
    expect(await nextAbort()).toBe(2)
    expect(aborts).toEqual([2])
  })
})

/** node-datachannel's class, typed as the DOM's (their event types differ in name only). */
const Polyfill = RTCPeerConnection as unknown as PeerConnectionClass

/** Tries made so far (each try is a connection of one of the classes below). */
let tries = 0

/**
 * A session of `webrtcTransport` as node `nodeId`, recording what it tells its node: the
 * nodes it linked to, and those it said were unreachable, with how many tries had been made.
 */
function session(
  nodeId: string,
  peerConnection: PeerConnectionClass,
  connectTimeout: number,
): { opened: string[]; unreachable: { far: string; tries: number }[]; close: () => void } {
  const opened: string[] = []
  const unreachable: { far: string; tries: number }[] = []
  const transport = webrtcTransport({ signaling: [server!.url], connectTimeout, peerConnection })
  const open = transport.open(
    { nodeId, incarnation: 1, room: ROOM },
    {
      linkOpened: (link) => opened.push(link.remoteNodeId),
      frameReceived: () => undefined,
      linkClosed: () => undefined,
      unreachable: (far) => unreachable.push({ far, tries }),
    },
  )
  return { opened, unreachable, close: () => open.close() }
}

/** The first try's remote description fails, as libdatachannel's races do on a busy machine. */
class FailsFirstTry extends Polyfill {
  private readonly first = ++tries === 1
  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    if (this.first) return Promise.reject(new Error('Got a remote candidate without ICE transport (staged)'))
    return super.setRemoteDescription(description)
  }
}

/** Hears none of the peer's ICE candidates, in its description or after it: no path between the two. */
class NoPath extends Polyfill {
  constructor(config?: RTCConfiguration) {
    super(config)
    tries++
  }
  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return super.setRemoteDescription({ type: description.type, sdp: description.sdp?.replace(/^a=candidate:.*\r?\n/gm, '') })
  }
  override addIceCandidate(): Promise<void> {
    return Promise.resolve()
  }
}

describe('when a try fails, other nodes are asked to relay (unreachable)', () => {
  const sessions: { close: () => void }[] = []
  afterEach(() => {
    for (const s of sessions.splice(0)) s.close()
    tries = 0
  })

  it('not after a negotiation error that the next try gets past', async () => {
    server = await startSignalingServer({ port: 0 })
    // Time enough for a try to connect on a busy machine: a timeout is a try that found no path.
    const a = session('a', FailsFirstTry, 10_000)
    const b = session('b', Polyfill, 10_000)
    sessions.push(a, b)
    await until(() => a.opened.includes('b') && b.opened.includes('a'))
    // Relays are asked only once the quick redials are spent as well: on a busy machine the
    // real tries after the staged one can lose libdatachannel's races too (three in a row did,
    // with the unit and integration suites running at once), and then asking is right.
    for (const report of a.unreachable) expect(report.tries).toBeGreaterThan(QUICK_REDIALS)
    expect(b.unreachable).toEqual([])
    // 'a' dialled, failed and dialled again ('b' uses the plain class: its tries are not counted).
    expect(tries).toBeGreaterThanOrEqual(2)
  })

  it('at once after a try that found no path, on both sides', async () => {
    server = await startSignalingServer({ port: 0 })
    const a = session('a', NoPath, 300)
    const b = session('b', NoPath, 300)
    sessions.push(a, b)
    await until(() => a.unreachable.length > 0 && b.unreachable.length > 0)
    // 'a' dials and 'b' answers: the first try's two connections, before any quick redial.
    expect(a.unreachable[0]).toEqual({ far: 'b', tries: 2 })
    expect(b.unreachable[0]?.far).toBe('a')
    expect(b.unreachable[0]!.tries).toBeLessThanOrEqual(3)
    expect([a.opened, b.opened]).toEqual([[], []])
  })
})
