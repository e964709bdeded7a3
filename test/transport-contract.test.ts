/**
 * The transport contract (src/transport/transport.ts), held against every built-in transport:
 * one suite of behaviour, run once per transport the way Trystero runs `runTests('mqtt')` and
 * Comlink runs its suites per endpoint. Each harness opens two raw endpoints, 'a' and 'b', in a
 * fresh room of its transport and links them; an `End` records every hook call and checks the
 * ordering rules on the way (no frame before `linkOpened` or after `linkClosed`, nothing after
 * `session.close()`). Like a node, an end sends its first frame (its "greeting", a stand-in for
 * the Hello) from inside `linkOpened`, so every link shows that a frame sent at once is not
 * reported before the other side's `linkOpened`.
 *
 * Transports: the memory network (plain, and with jitter and loss), BroadcastChannel (Node's
 * own), MessagePorts (Node's MessageChannel), tunnels (a RelayedTransport per end, and a real
 * Gateway in an in-test "gateway node" that passes encoded Tunnel frames between them on a
 * later turn, in order), and WebRTC (node-datachannel, through our signaling server).
 *
 * Tests wait on the recorded hook calls (Conditions), never on sleeps. To show that something
 * did not happen, a test waits for something that comes after it on the same carrier: the
 * pair linked again, or a third node linked to the survivor.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { Gateway } from '../src/gateway.js'
import { broadcastChannelTransport, linkChannel } from '../src/transport/broadcast-channel.js'
import { createMemoryNetwork } from '../src/transport/memory.js'
import { MessagePortTransport } from '../src/transport/message-port.js'
import { RelayedTransport } from '../src/transport/relayed.js'
import type { CloseReason, Link, Route, Transport, TransportHooks, TransportSession } from '../src/transport/transport.js'
import { webrtcTransport } from '../src/transport/webrtc.js'
import { decodeFrame, encodeFrame, FrameType, TunnelOp, type TunnelFrame } from '../src/wire.js'
import { Conditions, recordUncaught } from './helpers.js'

const uncaught = recordUncaught()

/** Every hook call of every end re-checks what the test waits for. */
const changed = new Conditions()

/** Resolves once `condition` holds (re-checked on every hook call); fails after `timeout` ms. */
async function wait(condition: () => boolean, what: string, timeout = 10_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout)
  })
  try {
    await Promise.race([changed.when(condition), expired])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** What an end sends first on every link, from inside `linkOpened`. */
const greeting = (nodeId: string): Uint8Array => utf8(`greeting from ${nodeId}`)

function same(x: Uint8Array, y: Uint8Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))
}

/** A frame as a test shows it: its text when it is short printable text, else its size and first bytes. */
function show(frame: Uint8Array): string {
  const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1')
  if (frame.byteLength > 0 && frame.byteLength <= 64 && /^[\x20-\x7e]*$/.test(text)) return JSON.stringify(text)
  const head = Array.from(frame.subarray(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join(' ')
  return `<${frame.byteLength} bytes${frame.byteLength > 0 ? `: ${head}${frame.byteLength > 4 ? ' …' : ''}` : ''}>`
}

/** Where `got` differs from `want` (a few entries at most): [] when they match frame for frame, byte for byte. */
function mismatches(got: readonly Uint8Array[], want: readonly Uint8Array[]): string[] {
  const out: string[] = []
  if (got.length !== want.length) out.push(`${got.length} frames instead of ${want.length}`)
  for (let i = 0; i < Math.min(got.length, want.length) && out.length < 6; i++) {
    const [g, w] = [got[i]!, want[i]!]
    if (!(g instanceof Uint8Array)) out.push(`#${i}: not a Uint8Array`)
    else if (!same(g, w)) out.push(`#${i}: ${show(g)} instead of ${show(w)}`)
  }
  return out
}

/** A small seeded PRNG (mulberry32): the same frames on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomBytes(random: () => number, size: number, first?: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256)
  if (first !== undefined && size > 0) bytes[0] = first
  return bytes
}

const KIB = 1024
const BIGGEST = 100 * KIB

/** `count` frames of random bytes, 1 B to 100 KiB (both ends of the range included, sizes spread log-uniformly). */
function batch(seed: number, count: number): Uint8Array[] {
  const random = seeded(seed)
  return Array.from({ length: count }, (_, i) => {
    const size = i === 0 ? 1 : i === 1 ? BIGGEST : Math.max(1, Math.round(Math.exp(random() * Math.log(BIGGEST))))
    return randomBytes(random, size)
  })
}

// ---------------------------------------------------------------------------------------------
// Ends: raw transport endpoints that record and check every hook call
// ---------------------------------------------------------------------------------------------

type Event =
  | { readonly kind: 'opened'; readonly link: Link }
  | { readonly kind: 'frame'; readonly link: Link; readonly frame: Uint8Array }
  | { readonly kind: 'closed'; readonly link: Link; readonly reason: CloseReason }

/** Every end of the running test; afterEach closes them and checks their records. */
const ends: End[] = []

class End {
  readonly events: Event[] = []
  /** Broken contract rules seen so far; every test expects none. */
  readonly violations: string[] = []
  /** `linkActive` calls (a transport that splits frames reports the pieces). */
  active = 0
  private readonly states = new Map<Link, 'opening' | 'open' | 'closed'>()
  private readonly frames = new Map<Link, Uint8Array[]>()
  private readonly reasons = new Map<Link, CloseReason[]>()
  private session: TransportSession | undefined
  /** session.close() returned: from then on no hook may run. */
  private closed = false

  constructor(
    readonly id: string,
    readonly incarnation: number,
  ) {
    ends.push(this)
  }

  /** `nodeId@incarnation`, as the BroadcastChannel transport addresses an endpoint. */
  get key(): string {
    return `${this.id}@${this.incarnation}`
  }

  open(transport: Transport, room: string): this {
    this.session = transport.open({ nodeId: this.id, incarnation: this.incarnation, room }, this.hooks)
    return this
  }

  get sessionClosed(): boolean {
    return this.closed
  }

  connect(nodeId: string): void {
    this.session?.connect(nodeId)
  }

  /** session.close(); a transport may still report while inside it (the memory network closes its links), never after. */
  close(): void {
    if (this.closed) return
    this.session?.close()
    this.closed = true
  }

  /** Every link reported open to `peer`, oldest first. */
  linksTo(peer: string): Link[] {
    return this.events.flatMap((e) => (e.kind === 'opened' && e.link.remoteNodeId === peer ? [e.link] : []))
  }

  /** The newest link to `peer` that is open and has carried the peer's greeting. */
  linkTo(peer: string): Link | undefined {
    return this.linksTo(peer)
      .reverse()
      .find((link) => this.states.get(link) === 'open' && (this.frames.get(link)?.length ?? 0) > 0)
  }

  /** The one greeted link to `peer` (the test fails without one). */
  the(peer: string): Link {
    const link = this.linkTo(peer)
    if (link === undefined) throw new Error(`${this.id} has no open link to ${peer}`)
    return link
  }

  /** Frames received on `link` after the greeting. */
  received(link: Link): Uint8Array[] {
    return (this.frames.get(link) ?? []).slice(1)
  }

  /** Every frame received, on any link. */
  allFrames(): Uint8Array[] {
    return this.events.flatMap((e) => (e.kind === 'frame' ? [e.frame] : []))
  }

  /** Reasons of the `linkClosed` calls for `link`. */
  closes(link: Link): CloseReason[] {
    return this.reasons.get(link) ?? []
  }

  /** The events from index `from` on, as text: 'opened b', 'frame b "hi"', 'closed b: stop'. */
  log(from = 0): string[] {
    return this.events.slice(from).map((e) => {
      const peer = e.link.remoteNodeId
      if (e.kind === 'opened') return `opened ${peer}`
      if (e.kind === 'frame') return `frame ${peer} ${show(e.frame)}`
      return `closed ${peer}: ${e.reason}`
    })
  }

  private check(rule: boolean, what: string): void {
    if (!rule) this.violations.push(`${this.id}: ${what}`)
  }

  readonly hooks: TransportHooks = {
    linkOpened: (link) => {
      this.check(!this.closed, `linkOpened (${link.remoteNodeId}) after session.close()`)
      this.check(!this.states.has(link), `linkOpened twice for one link to ${link.remoteNodeId}`)
      this.check(typeof link.remoteNodeId === 'string' && link.remoteNodeId !== '', 'a link without a remote node id')
      this.states.set(link, 'opening')
      this.frames.set(link, [])
      this.events.push({ kind: 'opened', link })
      // As a node sends its Hello: at once, from inside linkOpened.
      link.send(greeting(this.id))
      if (this.states.get(link) === 'opening') this.states.set(link, 'open')
      changed.check()
    },
    frameReceived: (link, frame) => {
      const state = this.states.get(link)
      this.check(!this.closed, `frameReceived (${link.remoteNodeId}) after session.close()`)
      this.check(state === 'open', `frameReceived from ${link.remoteNodeId} on a link that is ${state ?? 'not reported open'}`)
      this.check(frame instanceof Uint8Array, `a frame from ${link.remoteNodeId} that is not a Uint8Array`)
      const frames = this.frames.get(link) ?? []
      if (frames.length === 0 && frame instanceof Uint8Array) {
        this.check(same(frame, greeting(link.remoteNodeId)), `first frame from ${link.remoteNodeId} is ${show(frame)}, not its greeting`)
      }
      frames.push(frame)
      this.frames.set(link, frames)
      this.events.push({ kind: 'frame', link, frame })
      changed.check()
    },
    linkClosed: (link, reason) => {
      const state = this.states.get(link)
      this.check(!this.closed, `linkClosed (${link.remoteNodeId}) after session.close()`)
      this.check(state === 'open' || state === 'opening', `linkClosed for a link to ${link.remoteNodeId} that is ${state ?? 'unknown'}`)
      this.check(typeof reason === 'string', `linkClosed (${link.remoteNodeId}) without a reason`)
      this.states.set(link, 'closed')
      this.reasons.set(link, [...this.closes(link), reason])
      this.events.push({ kind: 'closed', link, reason })
      changed.check()
    },
    linkActive: (link) => {
      this.check(!this.closed, `linkActive (${link.remoteNodeId}) after session.close()`)
      this.check(this.states.get(link) === 'open', `linkActive on a link to ${link.remoteNodeId} that is not open`)
      this.active++
    },
  }
}

/** Both ends have an open link to each other, each with the other's greeting on it. */
const linked = (x: End, y: End) => (): boolean => x.linkTo(y.id) !== undefined && y.linkTo(x.id) !== undefined

// ---------------------------------------------------------------------------------------------
// Harnesses: one per transport
// ---------------------------------------------------------------------------------------------

/** One room of a transport. */
interface Net {
  /** A new endpoint of the room (a fresh session). */
  start(id: string): End
  /** Links two endpoints (again): connect() both ways, or a new port between them. */
  link(x: End, y: End): void
  /**
   * Puts junk for `target` on the carrier of its link to `peer`, then a well-formed frame
   * `marker` from `peer` on that link (after the junk in the carrier's order). Only for
   * transports with a carrier a test can write to.
   */
  junk?(target: End, peer: End, marker: Uint8Array): void
  /** Errors thrown into the harness while it delivered (the tunnel's in-test node). */
  readonly thrown: unknown[]
  close(): Promise<void>
}

interface Harness {
  readonly name: string
  /** The route both ends of every link must report. */
  readonly route: Route
  /** Its nets take `junk`: the test can write to the carrier. */
  readonly carrier?: true
  create(): Net
}

let rooms = 0
const room = (transport: string): string => `contract-${transport}-${process.pid}-${++rooms}`

/** Nodes meet by room and link on their own; connect() asks again. */
function meshNet(transport: Transport, roomName: string, closeCarrier: () => void = () => undefined): Net {
  let incarnation = 0
  return {
    start: (id) => new End(id, ++incarnation).open(transport, roomName),
    link(x, y) {
      x.connect(y.id)
      y.connect(x.id)
    },
    thrown: [],
    close: async () => closeCarrier(),
  }
}

const memory: Harness = {
  name: 'memory',
  route: { kind: 'direct', transport: 'memory' },
  create: () => meshNet(createMemoryNetwork().transport(), room('memory')),
}

const memoryJitter: Harness = {
  name: 'memory with jitter and loss',
  route: { kind: 'direct', transport: 'memory' },
  create: () =>
    meshNet(createMemoryNetwork({ latency: [0, 3], loss: 0.05, retransmitDelay: 4, random: seeded(7) }).transport(), room('memory')),
}

const broadcastChannel: Harness = {
  name: 'broadcast-channel',
  carrier: true,
  route: { kind: 'broadcast-channel' },
  create() {
    const roomName = room('bc')
    // A listener of the room's channel of our own: what it posts, every session hears.
    const carrier = new BroadcastChannel(`distribunator/${roomName}`)
    const net = meshNet(broadcastChannelTransport(), roomName, () => carrier.close())
    net.junk = (target, peer, marker) => {
      const to = target.key
      const from = { nodeId: peer.id, incarnation: peer.incarnation }
      const data = utf8('junk')
      // The room's channel carries announces only: anything else there is junk, frames too.
      for (const junk of [
        null,
        undefined,
        42,
        'frame',
        [],
        {},
        data,
        { type: 'frame', from, to, data },
        { type: 'bye', from, to },
        { type: 'teleport', from, to, data },
        // Bad senders.
        { type: 'announce' },
        { type: 'announce', from: peer.id },
        { type: 'announce', from: null },
        { type: 'announce', from: { nodeId: '', incarnation: 1 } },
        { type: 'announce', from: { nodeId: 7, incarnation: peer.incarnation } },
        { type: 'announce', from: { nodeId: peer.id } },
        { type: 'announce', from: { nodeId: peer.id, incarnation: 1.5 } },
        { type: 'announce', from: { nodeId: peer.id, incarnation: String(peer.incarnation) } },
        // For no one here, or not an address.
        { type: 'announce', from: { nodeId: 'mallory', incarnation: 1 }, to: 42 },
        { type: 'announce', from: { nodeId: 'mallory', incarnation: 1 }, to: 'nobody@1' },
        { type: 'announce', from: { nodeId: 'mallory', incarnation: 1 }, to: `${target.id}@${target.incarnation + 100}` },
        // Announces of endpoints that are linked already (the target's own, heard by the
        // peer): no second link. (Another incarnation's would be a real newcomer, not junk.)
        { type: 'announce', from: { nodeId: target.id, incarnation: target.incarnation } },
        { type: 'announce', from },
        { type: 'announce', from, to },
      ]) {
        carrier.postMessage(junk)
      }
      // The link's own channel: what is not a frame, both ends hear and drop. Then a 'hi',
      // which each end answers with 'ready' once it has read all that came before it.
      const link = new BroadcastChannel(linkChannel(`distribunator/${roomName}`, target.key, peer.key))
      let ready = 0
      link.onmessage = (event: MessageEvent) => {
        if (event.data !== 'ready' || ++ready < 2) return
        link.close()
        peer.the(target.id).send(marker)
      }
      for (const junk of [
        null,
        undefined,
        42,
        'frame',
        'teleport',
        [],
        {},
        { type: 'frame', data },
        [1, 2, 3],
        new ArrayBuffer(3),
        { 0: 1, length: 1 },
      ]) {
        link.postMessage(junk)
      }
      link.postMessage('hi')
    }
    return net
  },
}

const messagePort: Harness = {
  name: 'message-port',
  carrier: true,
  route: { kind: 'port' },
  create() {
    const transports = new Map<string, MessagePortTransport>()
    /** The port each end holds towards the other, by 'holder>other', newest link. */
    const ports = new Map<string, MessagePort>()
    const channels: MessageChannel[] = []
    let incarnation = 0
    return {
      start(id) {
        const transport = new MessagePortTransport()
        transports.set(id, transport)
        return new End(id, ++incarnation).open(transport, room('port'))
      },
      link(x, y) {
        const channel = new MessageChannel()
        channels.push(channel)
        ports.set(`${x.id}>${y.id}`, channel.port1)
        ports.set(`${y.id}>${x.id}`, channel.port2)
        transports.get(x.id)!.add(channel.port1, true)
        transports.get(y.id)!.add(channel.port2, false)
      },
      junk(target, peer, marker) {
        // Posted on the peer's port: its messages reach the target's.
        const port = ports.get(`${peer.id}>${target.id}`)!
        const data = utf8('junk')
        for (const junk of [
          null,
          undefined,
          42,
          'frame',
          [],
          {},
          data,
          { type: 'frame' },
          { type: 'frame', data: 'junk' },
          { type: 'frame', data: [1, 2, 3] },
          { type: 'frame', data: new ArrayBuffer(3) },
          { type: 'frame', data: { 0: 1, length: 1 } },
          { type: 'FRAME', data },
          { type: 'teleport', data },
          { type: 'announce' },
          // A second announce, naming someone else: the link stays the peer's.
          { type: 'announce', from: { nodeId: 'mallory', incarnation: 1 } },
          { type: 'announce', from: { nodeId: '', incarnation: 1 } },
          { data },
        ]) {
          port.postMessage(junk)
        }
        port.postMessage({ type: 'frame', data: marker })
      },
      thrown: [],
      close: async () => {
        for (const { port1, port2 } of channels) {
          port1.close()
          port2.close()
        }
      },
    }
  },
}

/**
 * Two tunnel ends and, between them, a gateway node of the test's own: a real Gateway for
 * which every end is a child (a worker), its links to the ends played by a queue that
 * carries encoded Tunnel frames one by one on a later turn, in the order sent.
 */
const tunnel: Harness = {
  name: 'tunnel',
  carrier: true,
  route: { kind: 'tunnel', gateway: 'g' },
  create() {
    const GATEWAY = 'g'
    const LIMIT = 8 * 1024 * KIB
    const relays = new Map<string, RelayedTransport>()
    const thrown: unknown[] = []
    /** The newest tunnel the gateway opened between two nodes, by 'x>y' (both ways). */
    const tunnels = new Map<string, number>()
    const queue: (() => void)[] = []
    let scheduled = false
    let stopped = false

    const drain = (): void => {
      scheduled = false
      while (!stopped && queue.length > 0) {
        try {
          queue.shift()!()
        } catch (error) {
          thrown.push(error)
        }
      }
    }
    const later = (run: () => void): void => {
      if (stopped) return
      queue.push(run)
      if (!scheduled) {
        scheduled = true
        setTimeout(drain, 0)
      }
    }
    /** The frame as the far side decodes it off the wire. */
    const wire = (frame: TunnelFrame): (() => TunnelFrame) => {
      const bytes = encodeFrame(frame)
      return () => decodeFrame(bytes, LIMIT) as TunnelFrame
    }

    const gateway = new Gateway({
      send(node, frame) {
        const relay = relays.get(node)
        if (relay === undefined) return false
        if (frame.op === TunnelOp.Open) {
          tunnels.set(`${node}>${frame.node}`, frame.tunnel)
          tunnels.set(`${frame.node}>${node}`, frame.tunnel)
        }
        const received = wire(frame)
        later(() => relay.delivered(GATEWAY, received()))
        return true
      },
      upIds: () => [...relays.keys()],
      reachedDirectly: () => true,
    })

    let incarnation = 0
    const net: Net = {
      start(id) {
        const relay = new RelayedTransport({
          send(to, frame) {
            if (to !== GATEWAY) return false
            const received = wire(frame)
            later(() => gateway.forward(id, received()))
            return true
          },
          frameLimit: (to) => (to === GATEWAY ? LIMIT : undefined),
        })
        relays.set(id, relay)
        // When the node stops, the gateway node's link to it ends: it is no longer up there.
        const stopping: Transport = {
          open(self, hooks) {
            const session = relay.open(self, hooks)
            return {
              connect: (nodeId) => session.connect(nodeId),
              close() {
                session.close()
                later(() => {
                  relays.delete(id)
                  gateway.peerDown(id)
                })
              },
            }
          },
        }
        const end = new End(id, ++incarnation).open(stopping, room('tunnel'))
        // The gateway node's link to it is up: a child, it gets a tunnel to every up node.
        later(() => gateway.peerUp(id, true))
        return end
      },
      link(x, y) {
        x.connect(y.id)
        y.connect(x.id)
      },
      junk(target, peer, marker) {
        const number = tunnels.get(`${target.id}>${peer.id}`)!
        const relay = relays.get(target.id)!
        const data = utf8('junk')
        const frame = (node: string, op: TunnelOp, tunnelNumber: number, deliver: boolean, payload: Uint8Array | null = null) => {
          const bytes = op === TunnelOp.Frame ? (payload ?? data) : null
          return wire({ type: FrameType.Tunnel, node, op, tunnel: tunnelNumber, data: bytes, deliver })
        }
        /** As if the gateway `via` handed it to the target. */
        const toTarget = (received: () => TunnelFrame, via = GATEWAY): void => later(() => relay.delivered(via, received()))
        /** As if the peer asked the gateway to pass it on. */
        const fromPeer = (received: () => TunnelFrame): void => later(() => gateway.forward(peer.id, received()))

        toTarget(frame(peer.id, TunnelOp.Frame, number + 1000, true)) // a tunnel never opened
        toTarget(frame(peer.id, TunnelOp.Frame, 0, true)) // 0 only ever names a request
        toTarget(frame(peer.id, TunnelOp.Close, number + 1000, true))
        toTarget(frame(peer.id, TunnelOp.Refuse, number + 1000, true))
        toTarget(frame('mallory', TunnelOp.Frame, number, true)) // the tunnel's number, the wrong far node
        toTarget(frame('mallory', TunnelOp.Close, number, true))
        toTarget(frame('mallory', TunnelOp.Refuse, number, true))
        toTarget(frame('mallory', TunnelOp.Open, number, true)) // a number in use, opened again
        toTarget(frame(target.id, TunnelOp.Open, number + 2000, true)) // a tunnel to itself
        toTarget(frame(peer.id, TunnelOp.Frame, number, true), 'h') // through a gateway it has no tunnel through
        toTarget(frame(peer.id, TunnelOp.Close, number, true), 'h')
        fromPeer(frame(target.id, TunnelOp.Frame, number + 1000, false)) // on no tunnel
        fromPeer(frame('mallory', TunnelOp.Frame, number, false)) // on the tunnel, to a node not at its other end
        fromPeer(frame('mallory', TunnelOp.Close, number, false))
        fromPeer(frame('mallory', TunnelOp.Refuse, number, false))
        toTarget(frame(peer.id, TunnelOp.Frame, number, true, marker))
      },
      thrown,
      async close() {
        stopped = true
        queue.length = 0
      },
    }
    return net
  },
}

let signalingServer: SignalingServer | undefined

const webrtc: Harness = {
  name: 'webrtc',
  route: { kind: 'direct', transport: 'webrtc' },
  create() {
    if (signalingServer === undefined) throw new Error('no signaling server')
    return meshNet(webrtcTransport({ signaling: [signalingServer.url] }), room('webrtc'))
  },
}

beforeAll(async () => {
  signalingServer = await startSignalingServer({ port: 0 })
})

afterAll(async () => {
  await signalingServer?.close()
})

const HARNESSES: readonly Harness[] = [memory, memoryJitter, broadcastChannel, messagePort, tunnel, webrtc]

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/** Opens 'a' and 'b' in a fresh room before each test, linked and greeted; checks every end after it. */
function pairOf(harness: Harness): { net: Net; a: End; b: End } {
  const pair = {} as { net: Net; a: End; b: End }
  beforeEach(async () => {
    pair.net = harness.create()
    pair.a = pair.net.start('a')
    pair.b = pair.net.start('b')
    pair.net.link(pair.a, pair.b)
    await wait(linked(pair.a, pair.b), 'a and b to link')
  })
  afterEach(async () => {
    const all = ends.splice(0)
    for (const end of all) end.close()
    await pair.net.close()
    changed.clear()
    for (const end of all) expect(end.violations, `contract rules broken at ${end.id}`).toEqual([])
    expect(pair.net.thrown).toEqual([])
    expect(uncaught).toEqual([])
  })
  return pair
}

describe.each(HARNESSES)('transport contract: $name', (harness) => {
  const pair = pairOf(harness)

  it('opens one link per side, naming the other, with the same route at both ends; no frame comes before it', async () => {
    const { a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    expect(ab.remoteNodeId).toBe('b')
    expect(ba.remoteNodeId).toBe('a')
    expect(ab.route).toEqual(harness.route)
    expect(ba.route).toEqual(ab.route)
    for (const link of [ab, ba]) {
      if (link.frameLimit === undefined) continue
      const limit = link.frameLimit(1024 * KIB)
      expect(limit).toBeGreaterThan(0)
      expect(limit).toBeLessThanOrEqual(1024 * KIB)
    }
    // A round trip after the greetings: anything else the link had to report is in by then.
    ab.send(utf8('ping'))
    await wait(() => b.received(ba).length === 1, 'the ping')
    ba.send(utf8('pong'))
    await wait(() => a.received(ab).length === 1, 'the pong')
    expect(a.log()).toEqual(['opened b', 'frame b "greeting from b"', 'frame b "pong"'])
    expect(b.log()).toEqual(['opened a', 'frame a "greeting from a"', 'frame a "ping"'])
  })

  it('carries 200 frames of 1 B to 100 KiB both ways at once: in order, each once, byte for byte', async () => {
    const { a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    const [toB, toA] = [batch(1, 200), batch(2, 200)]
    const [doneB, doneA] = [utf8('done a>b'), utf8('done b>a')]
    for (let i = 0; i < 200; i++) {
      ab.send(toB[i]!)
      ba.send(toA[i]!)
    }
    ab.send(doneB)
    ba.send(doneA)
    const arrived = (end: End, link: Link, done: Uint8Array) => () => end.received(link).some((frame) => same(frame, done))
    await wait(() => arrived(b, ba, doneB)() && arrived(a, ab, doneA)(), 'both batches', 15_000)
    expect(mismatches(b.received(ba), [...toB, doneB])).toEqual([])
    expect(mismatches(a.received(ab), [...toA, doneA])).toEqual([])
    expect([a.log().filter((e) => !e.startsWith('frame')), b.log().filter((e) => !e.startsWith('frame'))]).toEqual([
      ['opened b'],
      ['opened a'],
    ])
  })

  it('carries any bytes as they are: empty, first bytes that look like flags, random, longer than a data channel message', async () => {
    const { a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    const random = seeded(3)
    const cases = [
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(1),
      Uint8Array.of(2),
      Uint8Array.of(3),
      Uint8Array.of(2, 2),
      Uint8Array.of(0, 1, 2),
      Uint8Array.of(1, 0),
      Uint8Array.of(255),
      new Uint8Array(0),
      ...[0, 1, 2].flatMap((first) => [
        randomBytes(random, 100, first),
        randomBytes(random, 64 * KIB - 1, first),
        randomBytes(random, 64 * KIB, first),
        randomBytes(random, 64 * KIB + 1, first),
        randomBytes(random, 256 * KIB, first),
        randomBytes(random, 300 * KIB, first),
      ]),
      ...Array.from({ length: 20 }, (_, i) => randomBytes(random, 1 + Math.floor(random() * 2000), i % 4 === 0 ? i % 3 : undefined)),
      new Uint8Array(0),
    ]
    // A Node Buffer is a Uint8Array too; a view into a bigger buffer sends only its own bytes.
    const backing = randomBytes(random, 1000)
    cases.push(Buffer.from(utf8('a Buffer')), backing.subarray(10, 20), Buffer.from(backing.buffer, 500, 7))
    const expected = cases.map((frame) => new Uint8Array(frame))
    const done = utf8('done')
    for (const frame of cases) {
      ab.send(frame)
      ba.send(frame)
    }
    ab.send(done)
    ba.send(done)
    await wait(() => [b.received(ba), a.received(ab)].every((got) => got.some((frame) => same(frame, done))), 'every frame')
    expect(mismatches(b.received(ba), [...expected, done])).toEqual([])
    expect(mismatches(a.received(ab), [...expected, done])).toEqual([])
    // The sender's frames are untouched.
    expect(mismatches(cases, expected)).toEqual([])
  })

  it('link.close() ends the link once on each side; nothing arrives after it, and sends after it carry nothing', async () => {
    const { net, a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    // Frames on their way to a as it closes: each arrives before a's linkClosed or not at all.
    for (let i = 0; i < 20; i++) ba.send(utf8(`in flight ${i}`))
    ab.close('stop')
    await wait(() => a.closes(ab).length > 0 && b.closes(ba).length > 0, 'both sides to close')
    const late = utf8('sent after close')
    expect(() => ab.send(late)).not.toThrow()
    expect(() => ba.send(late)).not.toThrow()
    expect(() => ab.close('stop')).not.toThrow() // closed already: no second linkClosed
    expect(() => ba.close('stop')).not.toThrow()

    // Linked again: anything of the old link still on its way would have come before the new one.
    net.link(a, b)
    await wait(() => linked(a, b)() && a.the('b') !== ab && b.the('a') !== ba, 'a new link')
    const [ab2, ba2] = [a.the('b'), b.the('a')]
    ab2.send(utf8('on the new link'))
    ba2.send(utf8('on the new link'))
    await wait(() => a.received(ab2).length > 0 && b.received(ba2).length > 0, 'frames on the new link')
    expect(a.closes(ab)).toEqual(['stop'])
    expect(b.closes(ba)).toHaveLength(1)
    expect(a.linksTo('b')).toEqual([ab, ab2])
    expect(b.linksTo('a')).toEqual([ba, ba2])
    for (const end of [a, b]) expect(end.allFrames().filter((frame) => same(frame, late))).toEqual([])
    expect(a.received(ab2).map(show)).toEqual(['"on the new link"'])
    expect(b.received(ba2).map(show)).toEqual(['"on the new link"'])
    // What a got of the in-flight frames, it got in order.
    const inFlight = a.received(ab).map(show)
    expect(inFlight).toEqual(Array.from({ length: inFlight.length }, (_, i) => `"in flight ${i}"`))
  })

  it('closes that cross each other end the link once on each side', async () => {
    const { net, a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    ab.close('closed')
    ba.close('closed')
    await wait(() => a.closes(ab).length > 0 && b.closes(ba).length > 0, 'both sides to close')
    // Linked again (some transports do so by themselves after a close that is not final).
    net.link(a, b)
    await wait(() => linked(a, b)() && a.the('b') !== ab && b.the('a') !== ba, 'a new link')
    const [ab2, ba2] = [a.the('b'), b.the('a')]
    ab2.send(utf8('again'))
    ba2.send(utf8('again'))
    await wait(() => a.received(ab2).length > 0 && b.received(ba2).length > 0, 'frames on the new link')
    expect(a.closes(ab)).toHaveLength(1)
    expect(b.closes(ba)).toHaveLength(1)
    expect([a.linksTo('b'), b.linksTo('a')]).toEqual([
      [ab, ab2],
      [ba, ba2],
    ])
  })

  it('session.close() ends its links at the other side once, and the closed session reports nothing more', async () => {
    const { net, a, b } = pair
    const [ab, ba] = [a.the('b'), b.the('a')]
    for (let i = 0; i < 20; i++) ba.send(utf8(`in flight ${i}`))
    a.close()
    const seenByA = a.events.length
    expect(() => ab.send(utf8('from a closed session'))).not.toThrow()
    expect(() => ab.close('stop')).not.toThrow()
    expect(() => a.close()).not.toThrow()
    await wait(() => b.closes(ba).length > 0, 'b to see the link close')
    expect(() => ba.send(utf8('after close'))).not.toThrow()
    b.connect('a')

    // A newcomer links with b: b's carrier has moved on, and the closed a still says nothing.
    const c = net.start('c')
    net.link(b, c)
    await wait(linked(b, c), 'c to link with b')
    b.the('c').send(utf8('hi c'))
    await wait(() => c.received(c.the('b')).length > 0, 'a frame from b to c')
    expect(a.events.length).toBe(seenByA)
    expect(b.closes(ba)).toHaveLength(1)
    expect(b.linksTo('a')).toEqual([ba])
    // What a got of the in-flight frames it got in order, before any linkClosed; a transport
    // may report the closing session's own links inside close() (the memory network does).
    const inFlight = a.received(ab).map(show)
    expect(inFlight).toEqual(Array.from({ length: inFlight.length }, (_, i) => `"in flight ${i}"`))
    expect([['opened b'], ['opened b', 'closed b: closed']]).toContainEqual(a.log().filter((e) => !e.startsWith('frame')))
  })
})

describe.each(HARNESSES.filter((harness) => harness.carrier === true))(
  'transport contract: $name: hostile input on the carrier',
  (harness) => {
    const pair = pairOf(harness)

    it('drops junk without a throw or a report, and the link carries frames after it', async () => {
      const { net, a, b } = pair
      const [ab, ba] = [a.the('b'), b.the('a')]
      const junk = net.junk
      if (junk === undefined) throw new Error(`${harness.name} has no carrier to write to`)
      const [fromA, fromB] = [a.events.length, b.events.length]
      junk(a, b, utf8('marker for a'))
      await wait(() => a.received(ab).length > 0, 'the marker after the junk for a')
      junk(b, a, utf8('marker for b'))
      await wait(() => b.received(ba).length > 0, 'the marker after the junk for b')
      ab.send(utf8('after the junk'))
      ba.send(utf8('after the junk'))
      await wait(() => a.received(ab).length > 1 && b.received(ba).length > 1, 'frames after the junk')
      expect(a.log(fromA)).toEqual(['frame b "marker for a"', 'frame b "after the junk"'])
      expect(b.log(fromB)).toEqual(['frame a "marker for b"', 'frame a "after the junk"'])
      expect([ab.remoteNodeId, ba.remoteNodeId]).toEqual(['b', 'a'])
      expect(net.thrown).toEqual([])
      expect(uncaught).toEqual([])
    })
  },
)
