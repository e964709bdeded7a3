/**
 * Going offline and back (`context.setOffline`). What it does in Chromium 156 on loopback
 * was measured, not assumed (the first test pins it down):
 *
 * - an open WebSocket stays open (no close event, readyState OPEN) but its frames are held
 *   both ways, and delivered late once the context is back online;
 * - a new WebSocket fails at once (error, close 1006), so the signaling client keeps
 *   retrying with backoff; fetches fail (net::ERR_INTERNET_DISCONNECTED);
 * - WebRTC data channels are not touched: linked nodes keep talking;
 * - BroadcastChannel is not network: same-profile tabs keep meeting.
 *
 * So while a context is offline its nodes meet no newcomer over WebRTC — a tab started
 * offline meets only its own profile's tabs over BroadcastChannel — and the registry
 * diverges: newcomers' names are missing on one side, the offline tab's on the other. Back
 * online, signaling flows again and the registry heals to one agreed view.
 */
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws'
import type { AddressInfo } from 'node:net'
import { expect, test } from './support/fixtures.js'
import { MESH_TIMEOUT, states, waitForAgreement, waitForMesh, waitForRegistry } from './support/mesh.js'

/**
 * Back online, a2's signaling client is in its reconnect backoff (doubling from 250 ms up to
 * 10 s, ±25 %): the next attempt can be 12.5 s away, then the mesh forms.
 */
const HEAL_TIMEOUT = 12_500 + MESH_TIMEOUT

test('what context.setOffline does to WebSocket, fetch and WebRTC in Chromium', async ({ openTab, pageUrl }) => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const received: string[] = []
  const connected = new Promise<ServerSocket>((resolve) =>
    server.once('connection', (socket) => {
      socket.on('message', (data) => received.push(String(data)))
      resolve(socket)
    }),
  )
  try {
    const a = await openTab('a')
    const b = await openTab('b')
    await waitForMesh([a, b])
    await b.run('serveEcho', 'echo@b')
    await waitForRegistry([a, b], { 'echo@b': ['b'] })
    const wsUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
    await a.page.evaluate(
      (url) =>
        new Promise<void>((resolve) => {
          const socket = new WebSocket(url)
          const seen: string[] = []
          Object.assign(window, { socket, seen })
          socket.onmessage = (e) => seen.push(String(e.data))
          socket.onclose = (e) => seen.push(`close ${e.code}`)
          socket.onopen = () => resolve()
        }),
      wsUrl,
    )
    const serverSide = await connected
    const pageSeen = () =>
      a.page.evaluate(() => ({
        seen: (window as unknown as { seen: string[] }).seen,
        state: (window as unknown as { socket: WebSocket }).socket.readyState,
      }))

    await a.context.setOffline(true)
    await a.page.evaluate(() => (window as unknown as { socket: WebSocket }).socket.send('sent offline'))
    serverSide.send('sent to the offline page')
    // WebRTC still carries calls while offline; by then the frames above had all the time to travel.
    expect(await a.run('call', 'echo@b', 'offline?')).toEqual({ echo: 'offline?', by: 'b' })
    expect(await pageSeen()).toEqual({ seen: [], state: 1 })
    expect(received).toEqual([])
    expect(
      await a.page.evaluate(
        (url) =>
          new Promise((resolve) => {
            const fresh = new WebSocket(url)
            fresh.onopen = () => resolve('opened')
            fresh.onclose = (e) => resolve(`closed ${e.code}`)
          }),
        wsUrl,
      ),
    ).toBe('closed 1006')
    expect(
      await a.page.evaluate(
        (url) =>
          fetch(url).then(
            () => 'fetched',
            () => 'failed',
          ),
        pageUrl,
      ),
    ).toBe('failed')

    await a.context.setOffline(false)
    await expect.poll(pageSeen).toEqual({ seen: ['sent to the offline page'], state: 1 })
    await expect.poll(() => received).toEqual(['sent offline'])
  } finally {
    // close() waits for open sockets: the page's is one.
    for (const socket of server.clients) socket.terminate()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('the registry diverges while a context is offline and heals when it is back', async ({
  openTab,
  startEdge,
  nodeOptions,
}, testInfo) => {
  const a1 = await openTab('a1')
  const a2 = await openTab('a2', { context: a1.context, start: false })
  const b = await openTab('b')
  const edge = await startEdge('edge')
  await waitForMesh([a1, b, edge])
  for (const peer of [a1, b, edge]) await peer.run('serveEcho', `echo@${peer.nodeId}`)
  await waitForRegistry([a1, b, edge], { 'echo@a1': ['a1'], 'echo@b': ['b'], 'echo@edge': ['edge'] })

  await a1.context.setOffline(true)
  // Started offline: its signaling cannot connect; it meets a1 over BroadcastChannel only.
  await a2.run('start', nodeOptions('a2'))
  await a2.run('serveEcho', 'echo@a2')
  // A newcomer on the online side: a1's signaling frames are held, so they do not meet.
  const c = await openTab('c')
  await c.run('serveEcho', 'echo@c')

  const online = { 'echo@a1': ['a1'], 'echo@b': ['b'], 'echo@edge': ['edge'], 'echo@c': ['c'] }
  await waitForRegistry([b, edge], online)
  await waitForRegistry([c], { 'echo@b': ['b'], 'echo@edge': ['edge'], 'echo@c': ['c'] })
  await waitForRegistry([a1], { 'echo@a1': ['a1'], 'echo@a2': ['a2'], 'echo@b': ['b'], 'echo@edge': ['edge'] })
  await waitForRegistry([a2], { 'echo@a1': ['a1'], 'echo@a2': ['a2'] })
  const diverged = await states([a1, a2, b, edge, c])
  expect(diverged.a1?.nodes).toEqual(['a2', 'b', 'edge'])
  expect(diverged.a2?.nodes).toEqual(['a1'])
  expect(diverged.c?.nodes).toEqual(['b', 'edge'])
  expect(await a2.run('links')).toEqual([expect.objectContaining({ node: 'a1', up: true, via: 'broadcast-channel' })])
  // Across the divide there is nobody to call; within each side, calls work.
  expect(await a2.run('call', 'echo@a1', 'offline tab to its sibling')).toEqual({ echo: 'offline tab to its sibling', by: 'a1' })
  await expect(c.run('call', 'echo@a2', 'across')).rejects.toThrow(/NoPidError|no pid/)

  const backAt = Date.now()
  await a1.context.setOffline(false)
  const all = [a1, a2, b, edge, c]
  await waitForMesh(all, HEAL_TIMEOUT)
  await waitForRegistry(all, { ...online, 'echo@a2': ['a2'] })
  await waitForAgreement(all)
  const healed = `healed ${Date.now() - backAt} ms after the context came back online`
  console.log(healed)
  testInfo.annotations.push({ type: 'timing', description: healed })
  expect(await c.run('call', 'echo@a2', 'across, healed')).toEqual({ echo: 'across, healed', by: 'a2' })
  expect(await a2.run('call', 'echo@c', 'back')).toEqual({ echo: 'back', by: 'c' })
})
