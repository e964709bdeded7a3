/**
 * Workers as nodes: a "worker" node linked to its "page" over real MessagePorts (Node's own
 * MessageChannel; e2e/ runs real Web Workers), and reached by the rest of the mesh through
 * tunnels that the page opens as its gateway.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ArgumentError, createMemoryNetwork, startNode, type DistribunatorNode, type MemoryNetwork, type NodeOptions } from '../src/index.js'
import { encodeFrame, FrameType, TunnelOp } from '../src/wire.js'
import { nextEvent, recordUncaught, until } from './helpers.js'
import { RawPeer } from './raw-peer.js'

const uncaught = recordUncaught()
const started: DistribunatorNode[] = []
const scopes: MessagePort[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
  for (const port of scopes.splice(0)) port.close()
})

async function start(nodeId: string, network: MemoryNetwork | undefined, extra: Pick<NodeOptions, 'parent'> = {}): Promise<DistribunatorNode> {
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
async function pageWorkerRemote(): Promise<{ network: MemoryNetwork; p: DistribunatorNode; w: DistribunatorNode; r: DistribunatorNode }> {
  const network = createMemoryNetwork()
  const p = await start('p', network)
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

  it('a stopped SharedWorker node ignores handovers that still arrive on its pages\' ports', async () => {
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

  it('the gateway carries nothing that does not start or end at its worker', async () => {
    const { network, p, r } = await pageWorkerRemote()
    const errors: unknown[] = []
    for (const n of [p, r]) n.on('error', (e) => errors.push(e))
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    // As for any node that comes up, p opens a tunnel between x and its worker.
    await x.expectFrame('p', (f) => f.type === FrameType.Tunnel && f.node === 'w' && f.op === TunnelOp.Open && f.deliver)
    // x asks p to pass a frame to r (neither is p's worker): p refuses with a Close to x only.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'r', op: TunnelOp.Frame, data: new Uint8Array([1]), deliver: false })
    await x.expectFrame('p', (f) => f.type === FrameType.Tunnel && f.node === 'r' && f.op === TunnelOp.Close && f.deliver)
    // x asks for a tunnel between r and itself (neither is p's worker): ignored.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'r', op: TunnelOp.Open, data: null, deliver: false })
    // A ping after them: once its pong is back, p has handled both.
    x.sendFrame('p', { type: FrameType.Ping, time: 7 })
    await x.expectFrame('p', (f) => f.type === FrameType.Pong && f.time === 7)
    expect(r.links().map((l) => l.node).sort()).toEqual(['p', 'w'])
    expect(x.from('p').filter((f) => f.type === FrameType.Tunnel && f.node === 'r')).toHaveLength(1)
    expect(errors).toEqual([])
    x.close()
  })

  it('a member cannot take a real node\'s place by tunnelling a Hello with its id', async () => {
    const { network, p, r } = await pageWorkerRemote()
    const errors: string[] = []
    p.on('error', (e) => errors.push(e.message))
    const x = new RawPeer(network, 'x', 1, 'workers')
    await x.join('p')
    // x plays gateway: it opens a tunnel to a made-up node, then speaks as r through it.
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'made-up', op: TunnelOp.Open, data: null, deliver: true })
    await x.expectFrame('p', (f) => f.type === FrameType.Tunnel && f.node === 'made-up' && f.op === TunnelOp.Frame)
    const hello = encodeFrame(x.hello({ nodeId: 'r', incarnation: r.incarnation + 1 }))
    x.sendFrame('p', { type: FrameType.Tunnel, node: 'made-up', op: TunnelOp.Frame, data: hello, deliver: true })
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
