/**
 * A cluster of signaling servers for real: three server processes (the CLI, `--redis`) on one
 * Redis, Node nodes in processes of their own spread over them, real WebRTC. Nodes on
 * different servers meet and call each other; a server killed with kill -9 loses none of the
 * mesh and its nodes move to another member; Redis killed and restarted: the servers serve
 * their own nodes meanwhile, and nodes that joined during the outage meet the rest once Redis
 * is back, with nothing restarted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { EdgeProcess } from './fixtures/edge-process.js'
import { startRedis, type RedisServer } from './fixtures/redis-server.js'
import { startSignalProcess, type SignalProcess } from './fixtures/signal-process.js'
import { untilAsync } from './helpers.js'

let redis: RedisServer
const servers: SignalProcess[] = []
const edges: EdgeProcess[] = []
let room = 0

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})
afterEach(async () => {
  await Promise.all(edges.splice(0).map((e) => e.close()))
  await Promise.all(servers.splice(0).map((s) => s.stop()))
  if (!redis.running) await redis.restart()
})

/** Three members of the cluster, each ready with Redis up. */
async function cluster(): Promise<SignalProcess[]> {
  const started = await Promise.all([1, 2, 3].map(() => startSignalProcess(['--redis', redis.url])))
  servers.push(...started)
  await Promise.all(started.map((s) => untilAsync(async () => (await health(s)).redis === 'up', 10_000)))
  return started
}

async function health(server: SignalProcess): Promise<{ redis?: string; connections: number }> {
  return (await (await fetch(`${server.http}/health`)).json()) as { redis?: string; connections: number }
}

async function edge(nodeId: string, signaling: EdgeProcess['settings']['signaling'], roomName = `cluster-${room}`): Promise<EdgeProcess> {
  const started = await EdgeProcess.start({ nodeId, room: roomName, signaling })
  edges.push(started)
  return started
}

async function meet(nodes: readonly EdgeProcess[]): Promise<void> {
  await Promise.all(nodes.flatMap((n) => nodes.filter((m) => m !== n).map((m) => n.sees(m.settings.nodeId))))
}

describe('a cluster of three signaling server processes on one Redis', () => {
  it('nodes on different servers meet and call each other', async () => {
    room++
    const [s1, s2, s3] = await cluster()
    const [a, b, c] = [await edge('a', [s1!.url]), await edge('b', [s2!.url]), await edge('c', [s3!.url])]
    await meet([a, b, c])
    await a.command({ cmd: 'serve', name: 'echo', behaviour: 'echo' })
    for (const caller of [b, c]) {
      await untilAsync(async () => (await caller.state()).registry.echo?.[0] === 'a', 10_000)
      expect(await caller.command({ cmd: 'call', name: 'echo', msg: `from ${caller.settings.nodeId}` })).toEqual({
        echo: `from ${caller.settings.nodeId}`,
        by: 'a',
      })
    }
  })

  it('kill -9 of a server: the mesh is untouched, its nodes move to another member, newcomers still meet everyone', async () => {
    room++
    const members = await cluster()
    const cluster3 = { cluster: members.map((m) => m.url) }
    const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((id) => edge(id, [cluster3])))) as [EdgeProcess, EdgeProcess, EdgeProcess]
    await meet([a, b, c])
    const using = async (e: EdgeProcess): Promise<string | undefined> => {
      const status = (await e.state()).signaling[0]
      return status?.state === 'connected' ? status.url : undefined
    }
    const used = (await using(a))!
    const victim = members.find((m) => m.url === used)!
    const killedAt = Date.now()
    await victim.kill()
    // Within the reconnect backoff (250 ms, ±25 %), a is on another member.
    await untilAsync(async () => {
      const now = await using(a)
      return now !== undefined && now !== used
    }, 5000)
    expect(Date.now() - killedAt).toBeLessThan(3000)
    const d = await edge('d', [{ cluster: members.filter((m) => m !== victim).map((m) => m.url) }])
    await meet([a, b, c, d])
    for (const e of [a, b, c]) expect(e.events.filter((ev) => ev.event === 'nodedown')).toEqual([])
  })

  it('Redis killed and restarted: each server serves its own nodes meanwhile; those that missed each other meet once it is back', async () => {
    room++
    const [s1, s2] = await cluster()
    const [a, b] = [await edge('a', [s1!.url]), await edge('b', [s2!.url])]
    await meet([a, b])
    await redis.kill()
    await untilAsync(async () => (await health(s1!)).redis === 'down' && (await health(s2!)).redis === 'down', 10_000)
    // Joins during the outage: s1 still introduces it to a, but cannot tell s2's nodes.
    const d = await edge('d', [s1!.url])
    await meet([a, d])
    expect(d.last('b')).toBeUndefined()
    await redis.restart()
    // Nothing restarted: the servers reconnect to Redis and have their clients announce again.
    await meet([a, b, d])
    await untilAsync(async () => (await health(s1!)).redis === 'up' && (await health(s2!)).redis === 'up', 10_000)
    for (const e of [a, b]) expect(e.events.filter((ev) => ev.event === 'nodedown')).toEqual([])
  })
})
