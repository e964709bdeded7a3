/**
 * Workers as nodes: a "worker" node linked to its "page" over real MessagePorts (Node's own
 * MessageChannel; e2e/ runs real Web Workers), and reached by the rest of the mesh through
 * tunnels that the page opens as its gateway.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  ArgumentError,
  createMemoryNetwork,
  startNode,
  type DistribunatorNode,
  type MemoryNetwork,
  type NodeOptions,
} from '../src/index.js'
import { Gateway } from '../src/gateway.js'
import { encodeFrame, FrameType, PROTOCOL_VERSION, TunnelOp, type Frame, type TunnelFrame } from '../src/wire.js'
import { nextEvent, recordUncaught, until } from './helpers.js'
import { RawPeer } from './raw-peer.js'

const uncaught = recordUncaught()
const started: DistribunatorNode[] = []
const scopes: MessagePort[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
  for (const port of scopes.splice(0)) port.close()
})

async function start(
  nodeId: string,
  network: MemoryNetwork | undefined,
  extra: Pick<NodeOptions, 'parent' | 'relay'> = {},
): Promise<DistribunatorNode> {
  const node = await startNode({ room: 'workers', nodeId, transport: network?.transport(), ...extra })
  started.push(node)
  return node
}

/** A SharedWorker stand-in: its scope gets a 'connect' with a port per page; `attach(page)` connects one. */
function sharedWorkerScope(): { scope: EventTarget; attach(page: DistribunatorNode): void } {
  const scope = new EventTarget()
  return {
    scope,
    attach(page) {
      const channel = new MessageChannel()
      scopes.push(channel.port1, channel.port2)
      scope.dispatchEvent(new MessageEvent('connect', { ports: [channel.port2] }))
      page.attachWorker({ port: channel.port1 } as never) // what a SharedWorker object offers: its `port`
    },
  }
}

/** Every nodedown a node reports, as 'node: reason'. */
function downs(node: DistribunatorNode): string[] {
  const seen: string[] = []
  node.on('nodedown', ({ node: peer, reason }) => seen.push(`${peer}: ${reason}`))
  return seen
}

/** A page `p` and a remote node `r` on a network, and a worker `w` that only `p` reaches. */
async function pageWorkerRemote(
  page: Pick<NodeOptions, 'relay'> = {},
): Promise<{ network: MemoryNetwork; p: DistribunatorNode; w: DistribunatorNode; r: DistribunatorNode }> {
  const network = createMemoryNetwork()
  const p = await start('p', network, page)
  const r = await start('r', network)
  // The worker's `self`: the far end of a channel that stands for the worker's global scope.
  const scope = new MessageChannel()
  scopes.push(scope.port1, scope.port2)
  const w = await start('w', undefined, { parent: scope.port2 })
  p.attachWorker(scope.port1)
  await until(() => [p, w, r].every((n) => n.nodes().length === 2))
  return { network, p, w, r }
}

const viaOf = (n: DistribunatorNode): Record<string, string> => Object.fromEntries(n.links().map((l) => [l.node, l.via]))

describe('a worker behind its page', () => {
  it('is a node like any other: the mesh reaches it through the page, and it reaches the mesh', async () => {
    const { p, w, r } = await pageWorkerRemote()
    expect(viaOf(w)).toEqual({ p: 'message-port', r: 'relay:p' })
    expect(viaOf(r)).toEqual({ p: 'memory', w: 'relay:p' })
    expect(viaOf(p)).toEqual({ w: 'message-port', r: 'memory' })

    w.register('in-worker', w.spawn({ handleCall: (msg: unknown) => `worker got ${String(msg)}` }))
    r.register('remote', r.spawn({ handleCall: (msg: unknown) => `remote got ${String(msg)}` }))
    await until(() => r.pidOf('in-worker') !== undefined && w.pidOf('remote') !== undefined)
    await expect(r.call('in-worker', 1)).resolves.toBe('worker got 1')
    await expect(w.call('remote', 2)).resolves.toBe('remote got 2')
    await expect(r.doNodeRpc('w', 'Math', 'max', [1, 5])).rejects.toThrow() // no module exposed: an error, not a hang
    w.expose('m', { twice: (x: unknown) => Number(x) * 2 })
    await expect(r.doNodeRpc('w', 'm', 'twice', [21])).resolves.toBe(42)
    // Heartbeats run through the tunnel too.
    await until(() => r.links().find((l) => l.node === 'w')?.rtt !== undefined, 3000)
  })

  it('a worker that stops is gone at once everywhere; a page that stops takes its worker off the mesh', async () => {
    const { p, w, r } = await pageWorkerRemote()
    w.register('svc', w.spawn({}))
    await until(() => r.pidOf('svc') !== undefined)
    const down = nextEvent(r, 'nodedown')
    await w.stop()
    expect(await down).toEqual({ node: 'w', reason: 'stop' })
    expect(r.pidOf('svc')).toBeUndefined()
    expect(p.nodes()).toEqual(['r'])
  })

  it('when the page goes, the worker and the mesh lose each other (the gateway is gone)', async () => {
    const { p, w, r } = await pageWorkerRemote()
    const rLosesW = new Promise((resolve) => r.on('nodedown', (e) => e.node === 'w' && resolve(e)))
    const wLosesR = new Promise((resolve) => w.on('nodedown', (e) => e.node === 'r' && resolve(e)))
    await p.stop()
    expect(await rLosesW).toEqual({ node: 'w', reason: 'gateway p down' })
    expect(await wLosesR).toEqual({ node: 'r', reason: 'gateway p down' })
    expect(w.nodes()).toEqual([])
    expect(r.nodes()).toEqual([])
  })

  it('a late node and a restarted node get tunnels too', async () => {
    const { network, w, r } = await pageWorkerRemote()
    const late = await start('late', network)
    await until(() => w.nodes().includes('late') && late.nodes().includes('w'))
    await r.stop()
    await until(() => !w.nodes().includes('r'))
    const r2 = await start('r', network)
    await until(() => w.nodes().includes('r') && r2.nodes().includes('w'))
    expect(viaOf(w)).toEqual({ p: 'message-port', r: 'relay:p', late: 'relay:p' })
  })

  it('workers of two pages reach each other (a tunnel inside a tunnel)', async () => {
    const { p, w, r } = await pageWorkerRemote()
    const errors: unknown[] = []
    for (const n of [p, w, r]) n.on('error', (e) => errors.push(e))
    const scope = new MessageChannel()
    scopes.push(scope.port1, scope.port2)
    const w2 = await start('w2', undefined, { parent: scope.port2 })
    r.attachWorker(scope.port1)
    const all = [p, w, r, w2]
    await until(() => all.every((n) => n.nodes().length === 3), 5000)
    w2.register('deep', w2.spawn({ handleCall: () => 'from w2' }))
    await until(() => w.pidOf('deep') !== undefined)
    await expect(w.call('deep', null)).resolves.toBe('from w2')
    expect(w.links().find((l) => l.node === 'w2')?.via).toMatch(/^relay:(p|r)$/)
    expect(errors).toEqual([])
  })

  it('a SharedWorker with two pages stays reachable when the page whose tunnels were used goes', async () => {
    const network = createMemoryNetwork()
    const [p1, p2, r] = [await start('p1', network), await start('p2', network), await start('r', network)]
    const shared = sharedWorkerScope()
    const w = await start('w', undefined, { parent: shared.scope as never })
    shared.attach(p1)
    shared.attach(p2)
    await until(() => w.nodes().length === 3 && r.nodes().includes('w'))
    w.register('svc', w.spawn({ handleCall: () => 'from w' }))
    await until(() => r.pidOf('svc') !== undefined)
    const used = r.links().find((l) => l.node === 'w')?.via
    expect(used).toMatch(/^relay:p[12]$/)

    await (used === 'relay:p1' ? p1 : p2).stop()
    const other = used === 'relay:p1' ? 'relay:p2' : 'relay:p1'
    await until(() => r.links().find((l) => l.node === 'w')?.via === other && r.nodes().includes('w'), 5000)
    await until(() => r.pidOf('svc') !== undefined)
    await expect(r.call('svc', null)).resolves.toBe('from w')
  })

  it('a SharedWorker handed from page to page, with jitter: every handover clean, nothing meant for an old tunnel reaches a new one', async () => {
    // Both ends lose their tunnel at once and both ask the remaining page for a new one,
    // while Hellos, Pings and Closes of the old tunnels are still on their way.
    const network = createMemoryNetwork({ latency: [0, 6] })
    const r = await start('r', network)
    const shared = sharedWorkerScope()
    const w = await start('w', undefined, { parent: shared.scope as never })
    const errors: string[] = []
    for (const node of [r, w]) node.on('error', (e) => errors.push(`${node.id}: ${e.message}`))
    w.register('svc', w.spawn({ handleCall: (msg: unknown) => msg }))
    r.register('back', r.spawn({ handleCall: (msg: unknown) => msg }))
    const pages = [await start('page-0', network)]
    shared.attach(pages[0] as DistribunatorNode)
    for (let handover = 1; handover <= 12; handover++) {
      const next = await start(`page-${handover}`, network)
      shared.attach(next)
      pages.push(next)
      await until(() => next.nodes().includes('w') && w.nodes().includes(next.id) && r.nodes().includes('w'))
      // The page whose tunnel r uses goes; r must reach w through the other one.
      const used = r.links().find((l) => l.node === 'w')?.via
      const gone = pages.find((page) => `relay:${page.id}` === used) as DistribunatorNode
      pages.splice(pages.indexOf(gone), 1)
      await gone.stop()
      const staying = pages[0] as DistribunatorNode
      await until(
        () => r.links().find((l) => l.node === 'w')?.via === `relay:${staying.id}` && r.nodes().includes('w') && w.nodes().includes('r'),
        5000,
      )
      await expect(r.call('svc', handover)).resolves.toBe(handover)
      await expect(w.call('back', handover)).resolves.toBe(handover)
      expect(errors, `handover ${handover}`).toEqual([])
    }
  })

  it('workers of two pages settle on one tunnel when both pages offer one, with a slow network', async () => {
    // Both pages are gateways for the pair: each worker is offered two tunnels at once.
    const network = createMemoryNetwork({ latency: 3 })
    const [p, r] = [await start('p', network), await start('r', network)]
    const [scopeW, scopeW2] = [new MessageChannel(), new MessageChannel()]
    scopes.push(scopeW.port1, scopeW.port2, scopeW2.port1, scopeW2.port2)
    const w = await start('w', undefined, { parent: scopeW.port2 })
    const w2 = await start('w2', undefined, { parent: scopeW2.port2 })
    const [wDowns, w2Downs] = [downs(w), downs(w2)]
    p.attachWorker(scopeW.port1)
    r.attachWorker(scopeW2.port1)
    await until(() => w.nodes().includes('w2') && w2.nodes().includes('w'), 5000)
    w2.register('deep', w2.spawn({ handleCall: () => 'from w2' }))
    await until(() => w.pidOf('deep') !== undefined)
    await expect(w.call('deep', null)).resolves.toBe('from w2')
    // Both ends send on the same tunnel (the rule orders them alike), and neither saw the other go.
    await until(() => w.links().find((l) => l.node === 'w2')?.via === w2.links().find((l) => l.node === 'w')?.via)
    expect(wDowns.filter((d) => d.startsWith('w2'))).toEqual([])
    expect(w2Downs.filter((d) => d.startsWith('w:'))).toEqual([])
  })

  it('a page that attaches its SharedWorker late switches to its own port, and becomes its gateway', async () => {
    const network = createMemoryNetwork()
    const [p1, p2, r] = [await start('p1', network), await start('p2', network), await start('r', network)]
    const shared = sharedWorkerScope()
    const w = await start('w', undefined, { parent: shared.scope as never })
    shared.attach(p1)
    await until(() => p2.links().find((l) => l.node === 'w')?.via === 'relay:p1')
    shared.attach(p2)
    await until(() => p2.links().find((l) => l.node === 'w')?.via === 'message-port')
    const p2Downs = downs(p2)
    await p1.stop()
    // p2 kept its worker throughout; r reaches it through p2 now.
    await until(() => r.links().find((l) => l.node === 'w')?.via === 'relay:p2' && r.nodes().includes('w') && w.nodes().includes('r'), 5000)
    expect(p2Downs).toEqual(['p1: stop'])
    expect(w.nodes().sort()).toEqual(['p2', 'r'])
  })

  it('a SharedWorker is a gateway for no one: its pages keep their own link when it stops', async () => {
    const network = createMemoryNetwork({ latency: 4 })
    const [p1, p2] = [await start('p1', network), await start('p2', network)]
    const shared = sharedWorkerScope()
    const w = await start('w', undefined, { parent: shared.scope as never })
    shared.attach(p1)
    shared.attach(p2)
    await until(() => [p1, p2, w].every((n) => n.nodes().length === 2))
    expect(p1.links().find((l) => l.node === 'p2')?.via).toBe('memory')
    const p1Downs = downs(p1)
    await w.stop()
    await until(() => !p1.nodes().includes('w'))
    expect(p1Downs).toEqual(['w: stop'])
    expect(p1.nodes()).toEqual(['p2'])
  })

  it("a stopped SharedWorker node ignores handovers that still arrive on its pages' ports", async () => {
    const network = createMemoryNetwork()
    const p = await start('p', network)
    const scope = new EventTarget()
    const w = await start('w', undefined, { parent: scope as never })
    const channel = new MessageChannel()
    scopes.push(channel.port1, channel.port2)
    scope.dispatchEvent(new MessageEvent('connect', { ports: [channel.port2] }))
    p.attachWorker({ port: channel.port1 } as never)
    await until(() => p.nodes().includes('w'))
    await w.stop()
    p.attachWorker({ port: channel.port1 } as never)
    // The handover went nowhere: the page's port link waits for an announce that never comes.
    const probe = new MessageChannel()
    scopes.push(probe.port1, probe.port2)
    await new Promise<void>((resolve) => {
      probe.port2.onmessage = () => resolve()
      probe.port1.postMessage('after the handover')
    })
    expect(uncaught).toEqual([])
  })

  it('a gateway that relays for no member of the mesh carries nothing that does not start or end at its worker', async () => {
    const { network, p, r } = await pageWorkerRemote({ relay: { maxPairs: 0 } })
    const errors: unknown[] = []
    for (const n of [p, r]) n.on('error', (e) => errors.push(e))
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    // As for any node that comes up, p opens a tunnel between x and its worker.
    const open = (await x.expectFrame(
      'p',
      (f) => f.type === FrameType.Tunnel && f.node === 'w' && f.op === TunnelOp.Open && f.deliver,
    )) as TunnelFrame
    // x asks p to pass a frame to r (neither is p's worker), on its tunnel to w and on no
    // tunnel: p refuses with a Close to x only. So it does with a tunnel number it never gave.
    for (const tunnel of [open.tunnel, 0]) {
      x.sendFrame('p', { type: FrameType.Tunnel, node: 'r', op: TunnelOp.Frame, tunnel, data: new Uint8Array([1]), deliver: false })
      await x.expectFrame(
        'p',
        (f) => f.type === FrameType.Tunnel && f.node === 'r' && f.tunnel === tunnel && f.op === TunnelOp.Close && f.deliver,
      )
    }
    x.sendFrame('p', {
      type: FrameType.Tunnel,
      node: 'w',
      op: TunnelOp.Frame,
      tunnel: open.tunnel + 1,
      data: new Uint8Array([1]),
      deliver: false,
    })
    await x.expectFrame(
      'p',
      (f) => f.type === FrameType.Tunnel && f.node === 'w' && f.tunnel === open.tunnel + 1 && f.op === TunnelOp.Close,
    )
    // x asks for a tunnel between r and itself (neither is p's worker): ignored.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'r', op: TunnelOp.Open, tunnel: 0, data: null, deliver: false })
    // A ping after them: once its pong is back, p has handled them all.
    x.sendFrame('p', { type: FrameType.Ping, time: 7 })
    await x.expectFrame('p', (f) => f.type === FrameType.Pong && f.time === 7)
    expect(
      r
        .links()
        .map((l) => l.node)
        .sort(),
    ).toEqual(['p', 'w'])
    expect(x.from('p').filter((f) => f.type === FrameType.Tunnel && f.node === 'r')).toHaveLength(2)
    expect(errors).toEqual([])
    x.close()
  })

  it('an end takes each tunnel by its number: what comes for one that ended does not reach the next', async () => {
    const network = createMemoryNetwork()
    const p = await start('p', network)
    const errors: string[] = []
    p.on('error', (e) => errors.push(e.message))
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    await until(() => p.nodes().includes('x'))
    const tunnel = (op: TunnelOp, number: number, data: Uint8Array | null = null): void =>
      x.sendFrame('p', { type: FrameType.Tunnel, node: 'm', op, tunnel: number, data, deliver: true })
    const fromP =
      (op: TunnelOp, number: number, deliver = false) =>
      (f: Frame): boolean =>
        f.type === FrameType.Tunnel && f.node === 'm' && f.op === op && f.tunnel === number && f.deliver === deliver
    const pingPong = async (time: number): Promise<void> => {
      x.sendFrame('p', { type: FrameType.Ping, time })
      await x.expectFrame('p', (f) => f.type === FrameType.Pong && f.time === time)
    }
    // x plays the gateway of a node 'm': tunnel 1 opens, p says Hello through it; then it closes.
    tunnel(TunnelOp.Open, 1)
    await x.expectFrame('p', fromP(TunnelOp.Frame, 1))
    tunnel(TunnelOp.Close, 1)
    // p asks its gateway for another tunnel to m, and gets number 2.
    await x.expectFrame('p', fromP(TunnelOp.Open, 0))
    tunnel(TunnelOp.Open, 2)
    await x.expectFrame('p', fromP(TunnelOp.Frame, 2))
    // A late Close and a late Hello of tunnel 1: the first goes nowhere, the second is answered with a Close of 1.
    const mHello = encodeFrame({
      type: FrameType.Hello,
      version: PROTOCOL_VERSION,
      room: 'workers',
      nodeId: 'm',
      incarnation: 1,
      maxFrameBytes: 1 << 20,
    })
    tunnel(TunnelOp.Close, 1)
    tunnel(TunnelOp.Frame, 1, mHello)
    await x.expectFrame('p', fromP(TunnelOp.Close, 1))
    // Tunnel 2 is untouched: m's Hello through it makes m a peer, reached through x.
    tunnel(TunnelOp.Frame, 2, mHello)
    await until(() => p.links().some((l) => l.node === 'm' && l.via === 'relay:x'))

    // A Refuse ends the tunnel like a Close, but p does not ask x for another one.
    const asked = x.from('p').filter(fromP(TunnelOp.Open, 0)).length
    tunnel(TunnelOp.Refuse, 2)
    await until(() => !p.links().some((l) => l.node === 'm'))
    await pingPong(1)
    expect(x.from('p').filter(fromP(TunnelOp.Open, 0))).toHaveLength(asked)
    expect(errors).toEqual([])
    x.close()
  })

  it('a peer that asked for a tunnel and left before it was up leaves no tunnel behind', async () => {
    const { network } = await pageWorkerRemote()
    const openToW = (f: Frame): boolean => f.type === FrameType.Tunnel && f.node === 'w' && f.op === TunnelOp.Open && f.deliver
    // x says Hello but never syncs, so it is never up at p; it asks p for a tunnel to w.
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.link('p')
    x.sendFrame('p', x.hello())
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'w', op: TunnelOp.Open, tunnel: 0, data: null, deliver: false })
    await x.expectFrame('p', openToW)
    x.close()
    // x comes back and comes up: p opens it a tunnel to w again (a stale one would block it).
    const back = new RawPeer(network, 'x', 2, 'workers')
    await back.join('p')
    await back.expectFrame('p', openToW)
    back.close()
  })

  it('an end refuses a tunnel to a node it reaches another way, and one to itself', async () => {
    const { network, p } = await pageWorkerRemote()
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    // x offers p a tunnel to r, which p reaches directly, and one to p itself.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'r', op: TunnelOp.Open, tunnel: 5, data: null, deliver: true })
    await x.expectFrame(
      'p',
      (f) => f.type === FrameType.Tunnel && f.node === 'r' && f.tunnel === 5 && f.op === TunnelOp.Refuse && !f.deliver,
    )
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'p', op: TunnelOp.Open, tunnel: 6, data: null, deliver: true })
    await x.expectFrame(
      'p',
      (f) => f.type === FrameType.Tunnel && f.node === 'p' && f.tunnel === 6 && f.op === TunnelOp.Refuse && !f.deliver,
    )
    expect(viaOf(p)).toEqual(expect.objectContaining({ r: 'memory' }))
    x.close()
  })

  it("a member cannot take a real node's place by tunnelling a Hello with its id", async () => {
    const { network, p, r } = await pageWorkerRemote()
    const errors: string[] = []
    p.on('error', (e) => errors.push(e.message))
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    // x plays gateway: it opens a tunnel to a made-up node, then speaks as r through it.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'made-up', op: TunnelOp.Open, tunnel: 1, data: null, deliver: true })
    await x.expectFrame('p', (f) => f.type === FrameType.Tunnel && f.node === 'made-up' && f.op === TunnelOp.Frame)
    const hello = encodeFrame(x.hello({ nodeId: 'r', incarnation: r.incarnation + 1 }))
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'made-up', op: TunnelOp.Frame, tunnel: 1, data: hello, deliver: true })
    await until(() => errors.some((e) => e.includes('through a tunnel to made-up')))
    expect(p.links().find((l) => l.node === 'r')).toEqual(expect.objectContaining({ incarnation: r.incarnation, via: 'memory' }))
    x.close()
  })

  it('checks what it is given', async () => {
    await expect(startNode({ room: 'x', parent: {} as never })).rejects.toThrow(ArgumentError)
    const node = await start('lonely', undefined)
    expect(() => node.attachWorker({} as never)).toThrow(ArgumentError)
    await node.stop()
    expect(() => node.attachWorker(new MessageChannel().port1)).toThrow()
  })
})

describe('Gateway', () => {
  it('opens no tunnel between a node and itself', () => {
    const sent: TunnelFrame[] = []
    const gateway = new Gateway({ send: (_, frame) => sent.push(frame) > 0, upIds: () => ['w', 'r'], reachedDirectly: () => true })
    gateway.peerUp('w', true)
    expect(sent.map((f) => f.node).sort()).toEqual(['r', 'w'])
    sent.length = 0
    gateway.forward('w', { type: FrameType.Tunnel, node: 'w', op: TunnelOp.Open, tunnel: 0, data: null, deliver: false })
    expect(sent).toEqual([])
  })

  it('relays for the mesh only between nodes it reaches directly, not through a tunnel or the servers', () => {
    const sent: [string, TunnelFrame][] = []
    const direct = new Set(['a', 'b'])
    const gateway = new Gateway({
      send: (to, frame) => sent.push([to, frame]) > 0,
      upIds: () => ['a', 'b', 'c'],
      reachedDirectly: (node) => direct.has(node),
    })
    const open = (from: string, to: string): void =>
      gateway.forward(from, { type: FrameType.Tunnel, node: to, op: TunnelOp.Open, tunnel: 0, data: null, deliver: false })
    open('a', 'c')
    open('c', 'b')
    expect(sent).toEqual([])
    open('a', 'b')
    expect(sent.map(([to, f]) => `${to}>${f.node}`).sort()).toEqual(['a>b', 'b>a'])
  })
})
