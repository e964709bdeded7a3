/**
 * The WebRTC mesh for real: our signaling server on a real socket, and separate Node
 * processes joining it over real WebRTC data channels (node-datachannel).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSignalingServer, type SignalingServer } from '../signaling-server/index.js'
import { EdgeProcess } from './fixtures/edge-process.js'
import { startYWebrtcServer } from './fixtures/y-webrtc-server.js'

let server: SignalingServer
let port = 0
const edges: EdgeProcess[] = []
let room = 0

beforeAll(async () => {
  server = await startSignalingServer({ port: 0 })
  port = server.port
})
afterAll(async () => {
  await server.close()
})
afterEach(async () => {
  await Promise.all(edges.splice(0).map((e) => e.close()))
})

/** Starts edge processes in a fresh room and waits until they form a full mesh. */
async function mesh(ids: string[], options: { password?: string } = {}): Promise<EdgeProcess[]> {
  const name = `room-${++room}`
  const started = await Promise.all(ids.map((nodeId) => start(nodeId, name, options.password)))
  await Promise.all(started.map((e) => Promise.all(ids.filter((id) => id !== e.settings.nodeId).map((id) => e.sees(id)))))
  return started
}

async function start(
  nodeId: string,
  roomName: string,
  password?: string,
  mode?: 'garbage',
  signaling = [`ws://127.0.0.1:${port}`],
): Promise<EdgeProcess> {
  const edge = await EdgeProcess.start({ nodeId, room: roomName, signaling, password, mode })
  edges.push(edge)
  return edge
}

describe('WebRTC mesh of Node processes', () => {
  it('names registered in one process are callable from the others', async () => {
    const [a, b, c] = await mesh(['a', 'b', 'c'], { password: 'secret' })
    await a!.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    for (const caller of [b!, c!]) {
      await caller.seesName('echo', ['a'])
      expect(await caller.command({ cmd: 'call', name: 'echo', msg: { n: 1, big: 'x'.repeat(200_000) } })).toEqual({
        echo: { n: 1, big: 'x'.repeat(200_000) },
        by: 'a',
      })
    }
  })

  it('a graceful stop is seen at once, with reason stop, and its names go with it', async () => {
    const [a, b, c] = await mesh(['a', 'b', 'c'])
    await c!.command({ cmd: 'serve', name: 'leaving', behaviour: 'echo' })
    await a!.seesName('leaving', ['c'])
    await c!.close()
    for (const survivor of [a!, b!]) {
      await survivor.until(() => survivor.last('c')?.event === 'nodedown')
      expect(survivor.last('c')?.reason).toBe('stop')
      expect((await survivor.state()).registry).toEqual({})
    }
  })

  it('kill -9: names vanish everywhere and pending calls fail with NodeDownError, by heartbeat', async () => {
    const [a, b, c] = await mesh(['a', 'b', 'c'])
    await c!.command({ cmd: 'serve', name: 'slow', behaviour: 'silent' })
    await a!.seesName('slow', ['c'])
    await b!.seesName('slow', ['c'])
    // Heartbeats on a direct link are what this tests: through the third node, its Close
    // would tell of the crash first (reason 'closed').
    for (const survivor of [a!, b!]) await survivor.linkedDirectly('c')
    const pending = a!.command({ cmd: 'call', name: 'slow', msg: 'hello?', timeout: 60_000 })
    const killedAt = Date.now()
    c!.crash()
    await expect(pending).rejects.toMatchObject({ name: 'NodeDownError' })
    for (const survivor of [a!, b!]) {
      await survivor.until(() => survivor.last('c')?.event === 'nodedown')
      const down = survivor.last('c')!
      expect(down.reason).toBe('heartbeat timeout')
      // The default bound is 2 s (timeout 1.5 s + one 0.5 s interval); allow for a busy CI.
      expect(down.at - killedAt).toBeLessThan(4000)
      expect((await survivor.state()).registry).toEqual({})
    }
  })

  it('a call over the callee’s maxFrameBytes fails at once at the caller; the link and other calls carry on', async () => {
    const roomName = `room-${++room}`
    const edge = async (nodeId: string, maxFrameBytes?: number): Promise<EdgeProcess> => {
      const started = await EdgeProcess.start({ nodeId, room: roomName, signaling: [`ws://127.0.0.1:${port}`], maxFrameBytes })
      edges.push(started)
      return started
    }
    const [a, b] = await Promise.all([edge('a'), edge('b', 1024 * 1024)])
    await Promise.all([a.sees('b'), b.sees('a')])
    await b.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await b.command({ cmd: 'serve', name: 'delayed', behaviour: 'delayed' })
    await a.seesName('echo', ['b'])
    await a.seesName('delayed', ['b'])
    const pending = a.command({ cmd: 'call', name: 'delayed', msg: 'meanwhile', timeout: 20_000 })
    const sentAt = Date.now()
    const big = a.command({ cmd: 'call', name: 'echo', msg: null, bytes: 4 * 1024 * 1024, timeout: 20_000 })
    await expect(big).rejects.toMatchObject({ name: 'MessageTooLargeError', message: expect.stringContaining(String(1024 * 1024)) })
    // At once: not a timeout (20 s), not a link dropped and found dead by heartbeats.
    expect(Date.now() - sentAt).toBeLessThan(1500)
    await expect(pending).resolves.toEqual({ echo: 'meanwhile', by: 'b' })
    expect(await a.command({ cmd: 'call', name: 'echo', msg: 'after' })).toEqual({ echo: 'after', by: 'b' })
    expect((await a.state()).registry).toEqual({ echo: ['b'], delayed: ['b'] })
    for (const e of [a, b]) expect(e.events.filter((ev) => ev.event === 'nodedown')).toEqual([])
  })

  it('keeps working while the signaling server is down, and meets newcomers once it is back', async () => {
    const [a, b] = await mesh(['a', 'b'])
    await a!.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await b!.seesName('echo', ['a'])
    await server.close()
    expect(await b!.command({ cmd: 'call', name: 'echo', msg: 'still here' })).toEqual({ echo: 'still here', by: 'a' })
    server = await startSignalingServer({ port })
    const d = await start('d', a!.settings.room)
    await Promise.all([d.sees('a'), d.sees('b'), a!.sees('d'), b!.sees('d')])
    await d.seesName('echo', ['a'])
    expect(await d.command({ cmd: 'call', name: 'echo', msg: 'new' })).toEqual({ echo: 'new', by: 'a' })
  })

  it('several signaling servers: copies of each message are dropped, and either server is enough', async () => {
    const second = await startSignalingServer({ port: 0 })
    try {
      const both = [`ws://127.0.0.1:${port}`, second.url]
      const roomName = `room-${++room}`
      const [a, b] = await Promise.all(['a', 'b'].map((id) => start(id, roomName, 'pw', undefined, both)))
      await Promise.all([a!.sees('b'), b!.sees('a')])
      await a!.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
      await b!.seesName('echo', ['a'])
      expect(await b!.command({ cmd: 'call', name: 'echo', msg: 'via the mesh' })).toEqual({ echo: 'via the mesh', by: 'a' })
      // Only the second server left: a newcomer using just that one meets both.
      await server.close()
      const c = await start('c', roomName, 'pw', undefined, [second.url])
      await Promise.all([c.sees('a'), c.sees('b'), a!.sees('c')])
      expect(await c.command({ cmd: 'call', name: 'echo', msg: 'late' })).toEqual({ echo: 'late', by: 'a' })
      // The mesh formed once per pair: nobody saw a peer go down and come back.
      for (const edge of [a!, b!, c]) expect(edge.events.filter((e) => e.event === 'nodedown')).toEqual([])
    } finally {
      server = await startSignalingServer({ port })
      await second.close()
    }
  })

  it("forms the mesh through y-webrtc's own signaling server too", async () => {
    const yServer = await startYWebrtcServer()
    try {
      const roomName = `room-${++room}`
      const [a, b] = await Promise.all(['a', 'b'].map((id) => start(id, roomName, 'pw', undefined, [yServer.url])))
      await Promise.all([a!.sees('b'), b!.sees('a')])
      await b!.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
      await a!.seesName('echo', ['b'])
      expect(await a!.command({ cmd: 'call', name: 'echo', msg: 'through y-webrtc' })).toEqual({ echo: 'through y-webrtc', by: 'b' })
    } finally {
      await yServer.stop()
    }
  })

  it('refuses a node with the wrong password: it meets no one and reads nothing', async () => {
    const [a, b] = await mesh(['a', 'b'], { password: 'right' })
    const intruder = await start('intruder', a!.settings.room, 'wrong')
    // A rightful newcomer started at the same time is met: signaling was up for both.
    const late = await start('late', a!.settings.room, 'right')
    await Promise.all([late.sees('a'), late.sees('b'), a!.sees('late')])
    expect((await intruder.state()).nodes).toEqual([])
    for (const node of [a!, b!, late]) expect((await node.state()).nodes).not.toContain('intruder')
  })

  it('a peer sending garbage frames does not disturb the others', async () => {
    const [a, b] = await mesh(['a', 'b'])
    await a!.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    await b!.seesName('echo', ['a'])
    await start('garbage', a!.settings.room, undefined, 'garbage')
    // Garbage is reaching both nodes...
    for (const node of [a!, b!]) {
      for (;;) if ((await node.state()).protocolErrors > 50) break
    }
    // ...and calls keep working through the storm.
    for (let i = 0; i < 40; i++) {
      expect(await b!.command({ cmd: 'call', name: 'echo', msg: i })).toEqual({ echo: i, by: 'a' })
    }
    for (const node of [a!, b!]) {
      const state = await node.state()
      expect(state.nodes.sort()).toEqual([node === a ? 'b' : 'a'])
      expect(state.registry).toEqual({ echo: ['a'] })
    }
  })
})
