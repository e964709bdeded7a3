/**
 * Workers as nodes: a "worker" node linked to its "page" over real MessagePorts (Node's own
 * MessageChannel; e2e/ runs real Web Workers), and reached by the rest of the mesh through
 * tunnels that the page opens as its gateway.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ArgumentError, createMemoryNetwork, startNode, type DistribunatorNode, type MemoryNetwork, type NodeOptions } from '../src/index.js'
import { FrameType, TunnelOp } from '../src/wire.js'
import { nextEvent, until } from './helpers.js'
import { RawPeer } from './raw-peer.js'

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
    // A SharedWorker's `self` gets a 'connect' event with a port for each page.
    const scope = new EventTarget()
    const w = await start('w', undefined, { parent: scope as never })
    for (const page of [p1, p2]) {
      const channel = new MessageChannel()
      scopes.push(channel.port1, channel.port2)
      scope.dispatchEvent(new MessageEvent('connect', { ports: [channel.port2] }))
      page.attachWorker({ port: channel.port1 } as never) // a SharedWorker stand-in: its `port`
    }
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

  it('checks what it is given', async () => {
    await expect(startNode({ room: 'x', parent: {} as never })).rejects.toThrow(ArgumentError)
    const node = await start('lonely', undefined)
    expect(() => node.attachWorker({} as never)).toThrow(ArgumentError)
    await node.stop()
    expect(() => node.attachWorker(new MessageChannel().port1)).toThrow()
  })
})
