/**
 * Monitor event sequences, modelled on OTP's monitor tests and pg_SUITE's
 * monitor_nodes/process-exit cases: a monitor fires exactly once, with the exit reason,
 * 'noproc' for a dead (or earlier-incarnation) pid, or 'noconnection' when the pid's node
 * is or goes out of reach. "Nothing else happened" is shown by a later sentinel that went
 * the same ordered way, never by a sleep.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { GenServer, Pid, type DistribunatorNode, type DownEvent, type Monitor, type Transport, type WatchEvent } from '../src/index.js'
import { decodeFrame, FrameType, type Frame } from '../src/wire.js'
import { cluster, fullyConnected, idle, nextEvent, until, type Cluster } from './helpers.js'

const running: Cluster[] = []

afterEach(async () => {
  for (const c of running.splice(0)) await c.stop()
})

/** Two linked nodes a and b; every 'down' event of each is recorded. */
async function pair(): Promise<{ a: DistribunatorNode; b: DistribunatorNode; c: Cluster; downs: Map<string, DownEvent[]> }> {
  const c = await cluster(['a', 'b'])
  running.push(c)
  const [a, b] = c.nodes as [DistribunatorNode, DistribunatorNode]
  return { a, b, c, downs: recordDowns(a, b) }
}

function recordDowns(...nodes: DistribunatorNode[]): Map<string, DownEvent[]> {
  const downs = new Map<string, DownEvent[]>()
  for (const node of nodes) {
    const list: DownEvent[] = []
    downs.set(node.id, list)
    node.on('down', (event) => void list.push(event))
  }
  return downs
}

/** A process that exits with the reason it is cast, and answers calls with 'pong'. */
class Stopper extends GenServer<unknown, string, unknown> {
  static override serviceName = 'stopper'
  override handleCall(): string {
    return 'pong'
  }
  override handleCast(reason: unknown): void {
    this.stop(reason)
  }
}

function spawnStopper(node: DistribunatorNode): Pid {
  return node.spawn(new Stopper())
}

/** Tracks whether a monitor has fired, without awaiting it. */
function fired(monitor: Monitor): { readonly events: DownEvent[] } {
  const state = { events: [] as DownEvent[] }
  void monitor.then((event) => void state.events.push(event))
  return state
}

/** A transport that reports every frame a node receives, decoded. */
function tapped(inner: Transport, seen: (from: string, frame: Frame) => void): Transport {
  return {
    open(self, handlers) {
      return inner.open(self, {
        linkOpened: (link) => handlers.linkOpened(link),
        frameReceived: (link, bytes) => {
          seen(link.remoteNodeId, decodeFrame(bytes, Number.POSITIVE_INFINITY))
          handlers.frameReceived(link, bytes)
        },
        linkClosed: (link, reason) => handlers.linkClosed(link, reason),
      })
    },
  }
}

describe('local monitors', { timeout: 3000 }, () => {
  it('an exit fires the monitor with the reason and the node down event', async () => {
    const { a, downs } = await pair()
    const pid = idle(a)
    const monitor = a.monitor(pid)
    expect(monitor.pid).toBe(pid)
    a.exit(pid, 'boom')
    const event = await monitor
    expect(event.pid.equals(pid)).toBe(true)
    expect(event.reason).toBe('boom')
    expect(downs.get('a')).toEqual([event])
    expect(downs.get('b')).toEqual([])
  })

  it('keeps object reasons and turns an Error reason into {name, message}', async () => {
    const { a } = await pair()
    const p1 = idle(a)
    const p2 = idle(a)
    const m1 = a.monitor(p1)
    const m2 = a.monitor(p2)
    a.exit(p1, { code: 3, tags: ['x'] })
    a.exit(p2, new TypeError('bad type'))
    expect((await m1).reason).toEqual({ code: 3, tags: ['x'] })
    expect((await m2).reason).toEqual({ name: 'TypeError', message: 'bad type' })
  })

  it("a monitor of an already-dead pid fires 'noproc' at once", async () => {
    const { a, downs } = await pair()
    const pid = idle(a)
    a.exit(pid)
    const monitor = a.monitor(pid)
    expect(downs.get('a')).toEqual([{ pid, reason: 'noproc' }])
    await expect(monitor.down).resolves.toEqual({ pid, reason: 'noproc' })
    const never = new Pid('a', a.incarnation, 424242)
    await expect(a.monitor(never).down).resolves.toEqual({ pid: never, reason: 'noproc' })
  })

  it('after demonitor no event comes (a later monitor is the sentinel)', async () => {
    const { a, downs } = await pair()
    const pid = idle(a)
    const cancelled = a.monitor(pid)
    const kept = a.monitor(pid)
    const cancelledState = fired(cancelled)
    cancelled.demonitor()
    a.exit(pid, 'bye')
    await expect(kept.down).resolves.toEqual({ pid, reason: 'bye' })

    const sentinel = idle(a)
    const last = a.monitor(sentinel)
    a.exit(sentinel, 'sentinel')
    await last
    expect(cancelledState.events).toEqual([])
    expect(downs.get('a')?.map((e) => e.reason)).toEqual(['bye', 'sentinel'])
  })
})

describe('remote monitors', { timeout: 3000 }, () => {
  const reasons: [string, unknown, unknown][] = [
    ['a string', 'crashed', 'crashed'],
    ['an object', { code: 7, nested: { list: [1, 'two'] } }, { code: 7, nested: { list: [1, 'two'] } }],
    ['an Error', new RangeError('too far'), { name: 'RangeError', message: 'too far' }],
  ]
  for (const [what, reason, expected] of reasons) {
    it(`the exit reason travels: ${what}`, async () => {
      const { a, b, downs } = await pair()
      const pid = spawnStopper(b)
      const monitor = a.monitor(pid)
      a.cast(pid, reason) // after the Monitor frame on the same ordered link
      const event = await monitor
      expect(event.pid.equals(pid)).toBe(true)
      expect(event.reason).toEqual(expected)
      expect(downs.get('a')).toEqual([event])
    })
  }

  it("a monitor of a dead remote pid fires 'noproc'", async () => {
    const { a, b } = await pair()
    const pid = idle(b)
    b.exit(pid, 'long gone')
    await expect(a.monitor(pid).down).resolves.toEqual({ pid, reason: 'noproc' })
    const never = new Pid('b', b.incarnation, 424242)
    await expect(a.monitor(never).down).resolves.toEqual({ pid: never, reason: 'noproc' })
  })

  it("killing the node fires 'noconnection'", async () => {
    const { a, b, c } = await pair()
    const pid = spawnStopper(b)
    const monitor = a.monitor(pid)
    await a.call(pid, 'ping')
    c.network.kill('b')
    await expect(monitor.down).resolves.toEqual({ pid, reason: 'noconnection' })
  })

  it("a pid of a node never connected fires 'noconnection'", async () => {
    const { a } = await pair()
    const ghost = new Pid('ghost', 12345, 1)
    await expect(a.monitor(ghost).down).resolves.toEqual({ pid: ghost, reason: 'noconnection' })
  })

  it("a pid of a previous incarnation of a restarted node fires 'noproc', remote and local", async () => {
    const { a, b, c } = await pair()
    const old = spawnStopper(b)
    const oldMonitor = a.monitor(old)
    const down = nextEvent(a, 'nodedown')
    c.network.kill('b')
    await down
    await expect(oldMonitor.down).resolves.toEqual({ pid: old, reason: 'noconnection' })
    const b2 = await c.add('b')
    await until(() => a.nodes().includes('b') && b2.nodes().includes('a'))
    spawnStopper(b2) // may reuse the old pid's number on the new incarnation
    await expect(a.monitor(old).down).resolves.toEqual({ pid: old, reason: 'noproc' })
    await expect(b2.monitor(old).down).resolves.toEqual({ pid: old, reason: 'noproc' })
  })
})

describe('monitors fire exactly once', { timeout: 3000 }, () => {
  it('several monitors of one pid each fire once, local and remote', async () => {
    const { a, b, downs } = await pair()
    const pid = spawnStopper(b)
    const remote = [a.monitor(pid), a.monitor(pid), a.monitor(pid)]
    const local = [b.monitor(pid), b.monitor(pid)]
    a.cast(pid, 'done')
    for (const m of [...remote, ...local]) await expect(m.down).resolves.toEqual({ pid, reason: 'done' })
    // Sentinel: a's next monitor of b's process fires after any duplicate Down would have come.
    const sentinel = spawnStopper(b)
    const last = a.monitor(sentinel)
    a.cast(sentinel, 'sentinel')
    await last
    expect(downs.get('a')?.map((e) => e.reason)).toEqual(['done', 'done', 'done', 'sentinel'])
    expect(downs.get('b')?.map((e) => e.reason)).toEqual(['done', 'done'])
  })

  it('a monitor that fired does not fire again when the node goes down later', async () => {
    const { a, b, c, downs } = await pair()
    const pid = spawnStopper(b)
    const other = spawnStopper(b)
    const monitor = a.monitor(pid)
    const state = fired(monitor)
    const otherMonitor = a.monitor(other)
    a.cast(pid, 'first')
    await expect(monitor.down).resolves.toEqual({ pid, reason: 'first' })
    c.network.kill('b')
    // The still-open monitor of the same node is the sentinel: it fires on the node going down.
    await expect(otherMonitor.down).resolves.toEqual({ pid: other, reason: 'noconnection' })
    expect(state.events).toEqual([{ pid, reason: 'first' }])
    expect(downs.get('a')).toEqual([
      { pid, reason: 'first' },
      { pid: other, reason: 'noconnection' },
    ])
  })

  it('a remote demonitor removes the watch on the target: no Down is sent for it', async () => {
    const c = await cluster(['b'])
    running.push(c)
    const [b] = c.nodes as [DistribunatorNode]
    const received: Frame[] = []
    const a = await c.add('a', { transport: tapped(c.network.transport(), (from, f) => void (from === 'b' && received.push(f))) })
    await fullyConnected([a, b])
    const downs = recordDowns(a)

    const pid = spawnStopper(b)
    const cancelled = a.monitor(pid)
    const kept = a.monitor(pid)
    const cancelledState = fired(cancelled)
    await a.call(pid, 'ping') // both watches are in place on b
    cancelled.demonitor()
    a.cast(pid, 'exit now') // after the Demonitor frame on the same link
    await expect(kept.down).resolves.toEqual({ pid, reason: 'exit now' })
    // Sentinel: a reply from b comes after any Down b sent for the exit.
    await a.call(spawnStopper(b), 'ping')

    expect(cancelledState.events).toEqual([])
    expect(downs.get('a')).toEqual([{ pid, reason: 'exit now' }])
    const downFrames = received.filter((f) => f.type === FrameType.Down)
    expect(downFrames).toHaveLength(1)
    expect(downFrames[0]).toMatchObject({ reason: 'exit now' })
  })
})

describe('monitor sequences', { timeout: 3000 }, () => {
  it('monitor + register + exit: both the watch leave and the down event happen (remote)', async () => {
    const { a, b, downs } = await pair()
    const pid = spawnStopper(b)
    b.register('seq', pid)
    await until(() => a.pidOf('seq') !== undefined)
    const events: WatchEvent[] = []
    const leave = new Promise<void>((resolve) => {
      a.watch('seq', (event) => {
        events.push(event)
        if (event.type === 'leave') resolve()
      })
    })
    const monitor = a.monitor(pid)
    a.cast(pid, 'finished')
    const [event] = await Promise.all([monitor.down, leave])
    expect(event).toEqual({ pid, reason: 'finished' })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ type: 'leave', name: 'seq', reason: 'exit' })
    expect(events[0]?.pid.equals(pid)).toBe(true)
    expect(a.pidOf('seq')).toBeUndefined()
    expect(downs.get('a')).toEqual([event])
  })

  it('monitor + register + exit: both the watch leave and the down event happen (local)', async () => {
    const { b, downs } = await pair()
    const pid = spawnStopper(b)
    b.register('seq', pid)
    b.register('seq', pid)
    const events: WatchEvent[] = []
    b.watch('seq', (event) => void events.push(event))
    const monitor = b.monitor(pid)
    b.exit(pid, 'finished')
    await expect(monitor.down).resolves.toEqual({ pid, reason: 'finished' })
    // Registered twice: one leave event carrying both registrations.
    await until(() => events.length === 1)
    expect(events.map((e) => [e.type, e.reason, e.count])).toEqual([['leave', 'exit', 2]])
    expect(b.allPidsOf('seq')).toEqual([])
    expect(downs.get('b')?.map((e) => e.reason)).toEqual(['finished'])
  })

  it("stopping the monitoring node resolves its monitors of remote pids with 'noconnection'", async () => {
    const { a, b, downs } = await pair()
    const errors: unknown[] = []
    b.on('error', (error) => void errors.push(error))
    const remote = [spawnStopper(b), spawnStopper(b)]
    const monitors = remote.map((pid) => a.monitor(pid))
    const local = idle(a)
    const localMonitor = a.monitor(local)
    await a.call(remote[0] as Pid, 'ping')
    await a.stop()
    for (const [i, m] of monitors.entries()) {
      await expect(m.down).resolves.toEqual({ pid: remote[i], reason: 'noconnection' })
    }
    // Local processes exit with 'shutdown' as the node stops.
    await expect(localMonitor.down).resolves.toEqual({ pid: local, reason: 'shutdown' })
    expect(downs.get('a')).toHaveLength(3)
    // b carries on: a process a watched exits without trouble, b's own monitors work.
    const own = b.monitor(remote[0] as Pid)
    b.exit(remote[0] as Pid, 'later')
    await expect(own.down).resolves.toEqual({ pid: remote[0], reason: 'later' })
    expect(errors).toEqual([])
  })
})
