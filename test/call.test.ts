/**
 * call, cast and send between processes, local and over the memory network — modelled on
 * OTP's gen_server_SUITE (call/cast/info, timeouts, calling self, exits while handling) and
 * on the call rules of the design: dead pid → NoProcError fast, node lost → NodeDownError at
 * once, late replies dropped. Tests wait on replies, events and conditions, never on sleeps;
 * a call given `timeout: 60_000` must settle by itself far sooner, or the test times out.
 */
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CallingSelfError,
  DistribunatorError,
  EncodeError,
  GenServer,
  NodeDownError,
  NodeStoppedError,
  NoPidError,
  NoProcError,
  Pid,
  RemoteError,
  TimeoutError,
  type Behaviour,
  type DistribunatorNode,
  type From,
  type ProcessContext,
} from '../src/index.js'
import { cluster, idle, nextEvent, until, type Cluster } from './helpers.js'

const LONG = 60_000

const running: Cluster[] = []

afterEach(async () => {
  for (const c of running.splice(0)) await c.stop()
})

async function start(ids: readonly string[], options: Parameters<typeof cluster>[1] = {}): Promise<Cluster> {
  const c = await cluster(ids, options)
  running.push(c)
  return c
}

/** Two linked nodes, a and b. */
async function pair(options: Parameters<typeof cluster>[1] = {}): Promise<[DistribunatorNode, DistribunatorNode, Cluster]> {
  const c = await start(['a', 'b'], options)
  const [a, b] = c.nodes as [DistribunatorNode, DistribunatorNode]
  return [a, b, c]
}

interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** Answers with where it runs and what it got. */
class Echo extends GenServer<unknown, { node: string; msg: unknown }> {
  static override serviceName = 'echo'
  override handleCall(msg: unknown): { node: string; msg: unknown } {
    return { node: this.node.id, msg }
  }
}

/** A plain behaviour whose calls never get an answer; it records what it started on. */
function blackHole(started: unknown[] = []): Behaviour {
  return {
    handleCall(msg) {
      started.push(msg)
      return new Promise(() => undefined)
    },
  }
}

/** Records every message it handles; a call whose tag is in `holds` holds the mailbox until that promise resolves. */
function recorder(log: string[], holds: Record<string, Promise<unknown>> = {}): Behaviour {
  return {
    async handleCall(msg) {
      const tag = String(msg)
      log.push(`call:${tag}`)
      if (tag in holds) await holds[tag]
      log.push(`done:${tag}`)
      return `reply:${tag}`
    },
    handleCast(msg) {
      log.push(`cast:${String(msg)}`)
    },
    handleInfo(msg) {
      log.push(`info:${String(msg)}`)
    },
  }
}

/** Rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
    },
    (error: unknown) => error,
  )
}

describe('call: targets and values', () => {
  it('calls a local and a remote process by pid, by name and by GenServer class', async () => {
    const [a, b] = await pair()
    const pid = await b.start(Echo)
    await until(() => a.pidOf('echo') !== undefined)
    expect(a.pidOf(Echo)?.equals(pid)).toBe(true)

    for (const target of [pid, 'echo', Echo] as const) {
      await expect(b.call(target, 'local')).resolves.toEqual({ node: 'b', msg: 'local' })
      await expect(a.call(target, 'remote')).resolves.toEqual({ node: 'b', msg: 'remote' })
    }
  })

  it('keeps Map, Date, bigint, Uint8Array and Pid in a remote reply and message', async () => {
    const [a, b] = await pair()
    const date = new Date('2024-02-29T12:34:56.789Z')
    const rich = {
      map: new Map<unknown, unknown>([
        ['k', 1],
        [2, [new Set(['s'])]],
      ]),
      date,
      big: 2n ** 70n + 1n,
      negative: -(2n ** 65n),
      bytes: new Uint8Array([0, 1, 254, 255]),
    }
    const pid = b.spawn({
      handleCall: (msg: unknown) => ({
        rich: { ...rich, map: new Map(rich.map) },
        echoed: msg,
        from: (msg as { pid: Pid }).pid,
      }),
    })
    const caller = idle(a)
    const reply = await a.call<{ rich: typeof rich; echoed: { pid: Pid; at: Date; n: bigint }; from: Pid }>(pid, {
      pid: caller,
      at: date,
      n: 7n,
    })
    expect(reply.rich.map).toBeInstanceOf(Map)
    expect(reply.rich.map).toEqual(rich.map)
    expect(reply.rich.date).toBeInstanceOf(Date)
    expect(reply.rich.date.getTime()).toBe(date.getTime())
    expect(reply.rich.big).toBe(2n ** 70n + 1n)
    expect(reply.rich.negative).toBe(-(2n ** 65n))
    expect(reply.rich.bytes).toBeInstanceOf(Uint8Array)
    expect([...reply.rich.bytes]).toEqual([0, 1, 254, 255])
    expect(reply.echoed.n).toBe(7n)
    expect(reply.echoed.at.getTime()).toBe(date.getTime())
    expect(reply.from).toBeInstanceOf(Pid)
    expect(reply.from.equals(caller)).toBe(true)
  })

  it("rejects a call to a name nobody has with NoPidError ('no pid')", async () => {
    const [a] = await pair()
    const error = await rejection(a.call('nobody', 1, { timeout: LONG }))
    expect(error).toBeInstanceOf(NoPidError)
    expect(error).toMatchObject({ name: 'NoPidError', reason: 'no pid', target: 'nobody' })
    class Unstarted extends GenServer {
      static override serviceName = 'unstarted'
    }
    await expect(a.call(Unstarted, 1)).rejects.toMatchObject({ name: 'NoPidError', reason: 'no pid', target: 'unstarted' })
  })
})

describe('call: dead pid fails fast', { timeout: 3000 }, () => {
  it('rejects a call to a dead local pid with NoProcError', async () => {
    const [a] = await pair()
    const pid = idle(a)
    a.exit(pid, 'gone')
    const error = await rejection(a.call(pid, 'x', { timeout: LONG }))
    expect(error).toBeInstanceOf(NoProcError)
    expect(error).toMatchObject({ name: 'NoProcError', pid: pid.toString(), exitReason: 'noproc' })
  })

  it("rejects a call to a dead remote pid with NoProcError ('noproc')", async () => {
    const [a, b] = await pair()
    const pid = b.spawn({ handleCall: () => 'alive' })
    await expect(a.call(pid, 'x')).resolves.toBe('alive')
    b.exit(pid, 'gone')
    const error = await rejection(a.call(pid, 'x', { timeout: LONG }))
    expect(error).toBeInstanceOf(NoProcError)
    expect(error).toMatchObject({ name: 'NoProcError', pid: pid.toString(), exitReason: 'noproc' })
  })

  it('rejects a call to a remote pid that never existed with NoProcError', async () => {
    const [a, b] = await pair()
    const ghost = new Pid('b', b.incarnation, 9999)
    await expect(a.call(ghost, 'x', { timeout: LONG })).rejects.toBeInstanceOf(NoProcError)
  })

  it('rejects a call to a pid of a previous incarnation of a restarted node, remote and local', async () => {
    const [a, b, c] = await pair()
    const old = b.spawn({ handleCall: () => 'old' })
    await expect(a.call(old, 'x')).resolves.toBe('old')

    const down = nextEvent(a, 'nodedown')
    c.network.kill('b')
    await down
    const b2 = await c.add('b')
    await until(() => a.nodes().includes('b') && b2.nodes().includes('a'))
    expect(b2.incarnation).not.toBe(b.incarnation)
    // The restarted node numbers its processes afresh: the old pid's id may be reused there.
    b2.spawn({ handleCall: () => 'new' })

    const remote = await rejection(a.call(old, 'x', { timeout: LONG }))
    expect(remote).toBeInstanceOf(NoProcError)
    const local = await rejection(b2.call(old, 'x', { timeout: LONG }))
    expect(local).toBeInstanceOf(NoProcError)
  })
})

describe('call: node drop mid-call', { timeout: 3000 }, () => {
  for (const how of ['network.kill', 'callee.stop()'] as const) {
    it(`rejects every pending call with NodeDownError at once (${how})`, async () => {
      const [a, b, c] = await pair()
      const started: unknown[] = []
      const first = b.spawn(blackHole(started))
      const second = b.spawn(blackHole(started))
      const calls = [
        a.call(first, 1, { timeout: LONG }),
        a.call(first, 2, { timeout: LONG }), // queued behind 1 in the mailbox
        a.call(second, 3, { timeout: LONG }),
      ]
      const outcomes = Promise.allSettled(calls)
      await until(() => started.length === 2)

      if (how === 'network.kill') c.network.kill('b')
      else await b.stop()

      for (const outcome of await outcomes) {
        expect(outcome.status).toBe('rejected')
        const error = (outcome as PromiseRejectedResult).reason as unknown
        expect(error).toBeInstanceOf(NodeDownError)
        expect(error).toMatchObject({ name: 'NodeDownError', node: 'b' })
      }
      // A call made after the drop fails the same way, without waiting.
      await expect(a.call(first, 4, { timeout: LONG })).rejects.toBeInstanceOf(NodeDownError)
    })
  }
})

describe('call: the callee exits while handling', { timeout: 3000 }, () => {
  it('rejects with NoProcError carrying the exit reason (remote, exit from outside)', async () => {
    const [a, b] = await pair()
    const started: unknown[] = []
    const pid = b.spawn(blackHole(started))
    const pending = rejection(a.call(pid, 'x', { timeout: LONG }))
    const queued = rejection(a.call(pid, 'y', { timeout: LONG }))
    await until(() => started.length === 1)
    b.exit(pid, { code: 7, why: 'crashed' })
    for (const error of [await pending, await queued]) {
      expect(error).toBeInstanceOf(NoProcError)
      expect((error as NoProcError).exitReason).toEqual({ code: 7, why: 'crashed' })
    }
  })

  it('rejects with NoProcError carrying the exit reason (local, the process stops itself)', async () => {
    const [a] = await pair()
    class Quitter extends GenServer<string> {
      static override serviceName = 'quitter'
      override handleCall(msg: string): never {
        this.stop(msg)
        throw new Error('unreachable: the process has exited')
      }
    }
    const pid = await a.start(Quitter)
    const error = await rejection(a.call(pid, 'bored', { timeout: LONG }))
    expect(error).toBeInstanceOf(NoProcError)
    expect((error as NoProcError).exitReason).toBe('bored')
    expect(a.allPidsOf(Quitter)).toEqual([])
  })

  it('rejects a remote caller with the reason of an Error exit as {name, message}', async () => {
    const [a, b] = await pair()
    const pid = b.spawn({
      handleCall() {
        b.exit(pid, new RangeError('out of range'))
        return 'never sent'
      },
    })
    const error = await rejection(a.call(pid, 'x', { timeout: LONG }))
    expect(error).toBeInstanceOf(NoProcError)
    expect((error as NoProcError).exitReason).toEqual({ name: 'RangeError', message: 'out of range' })
  })
})

describe('call: timeout', () => {
  for (const where of ['local', 'remote'] as const) {
    it(`rejects with TimeoutError and drops the late reply (${where})`, async () => {
      const [a, b] = await pair()
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      try {
        const caller = where === 'local' ? b : a
        const release = deferred<string>()
        let answered = 0
        const pid = b.spawn({
          async handleCall(msg: unknown) {
            if (msg === 'slow') return await release.promise
            answered++
            return `own reply to ${String(msg)}`
          },
        })
        const error = await rejection(caller.call(pid, 'slow', { timeout: 30 }))
        expect(error).toBeInstanceOf(TimeoutError)
        expect(error).toMatchObject({ name: 'TimeoutError', timeout: 30 })

        // The handler answers now; that answer must not reach anyone.
        release.resolve('stale reply')
        await expect(caller.call(pid, 'next', { timeout: LONG })).resolves.toBe('own reply to next')
        await expect(caller.call(pid, 'again', { timeout: LONG })).resolves.toBe('own reply to again')
        expect(answered).toBe(2)
        // Let any stray rejection surface: one more round trip through the same path.
        await caller.call(pid, 'flush')
        expect(unhandled).toEqual([])
      } finally {
        process.off('unhandledRejection', onUnhandled)
      }
    })
  }

  it("uses the node's callTimeout by default", async () => {
    const [a, b] = await pair({ node: { callTimeout: 25 } })
    const pid = b.spawn(blackHole())
    await expect(a.call(pid, 'x')).rejects.toMatchObject({ name: 'TimeoutError', timeout: 25 })
  })
})

describe('call: AbortSignal', { timeout: 3000 }, () => {
  it('rejects at once with signal.reason when aborted before the call; the message is never delivered', async () => {
    const [a, b] = await pair()
    const log: string[] = []
    const pid = b.spawn(recorder(log))
    const controller = new AbortController()
    const reason = new Error('user cancelled')
    controller.abort(reason)
    await expect(a.call(pid, 'aborted', { signal: controller.signal, timeout: LONG })).rejects.toBe(reason)
    await expect(b.call(pid, 'aborted', { signal: controller.signal, timeout: LONG })).rejects.toBe(reason)
    await expect(a.call(pid, 'probe')).resolves.toBe('reply:probe')
    expect(log).toEqual(['call:probe', 'done:probe'])
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  for (const where of ['local', 'remote'] as const) {
    it(`rejects with signal.reason when aborted during the call; the later reply is ignored (${where})`, async () => {
      const [a, b] = await pair()
      const caller = where === 'local' ? b : a
      const release = deferred()
      const log: string[] = []
      const pid = b.spawn(recorder(log, { slow: release.promise }))
      const controller = new AbortController()
      const pending = rejection(caller.call(pid, 'slow', { signal: controller.signal, timeout: LONG }))
      await until(() => log.includes('call:slow'))
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
      controller.abort('stop it')
      expect(await pending).toBe('stop it')
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)

      release.resolve()
      await expect(caller.call(pid, 'next', { timeout: LONG })).resolves.toBe('reply:next')
      expect(log).toEqual(['call:slow', 'done:slow', 'call:next', 'done:next'])
    })
  }

  it('removes its abort listener when a call ends normally or by timeout', async () => {
    const [a, b] = await pair()
    const pid = b.spawn({ handleCall: (msg: unknown) => (msg === 'hang' ? new Promise(() => undefined) : msg) })
    const controller = new AbortController()
    await expect(a.call(pid, 'ok', { signal: controller.signal })).resolves.toBe('ok')
    await expect(a.call(pid, 'hang', { signal: controller.signal, timeout: 20 })).rejects.toBeInstanceOf(TimeoutError)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('call: sequential mailbox', { timeout: 3000 }, () => {
  it('a handler awaiting a promise blocks the next message (local)', async () => {
    const [a] = await pair()
    const log: string[] = []
    const release = deferred()
    const pid = a.spawn(recorder(log, { first: release.promise }))
    const first = a.call(pid, 'first')
    const second = a.call(pid, 'second')
    a.cast(pid, 'c1')
    a.send(pid, 'i1')
    // Delivery to a local mailbox is synchronous, so the later messages are queued by now.
    await until(() => log.includes('call:first'))
    expect(log).toEqual(['call:first'])
    release.resolve()
    await expect(first).resolves.toBe('reply:first')
    await expect(second).resolves.toBe('reply:second')
    expect(log).toEqual(['call:first', 'done:first', 'call:second', 'done:second', 'cast:c1', 'info:i1'])
  })

  it('a handler awaiting a promise blocks the next message (remote); handling order is arrival order', async () => {
    const [a, b] = await pair()
    const log: string[] = []
    const release = deferred()
    const pid = b.spawn(recorder(log, { '0': release.promise }))
    const probe = b.spawn({ handleCall: () => 'probe' })
    const replies: Promise<unknown>[] = [a.call(pid, '0')]
    const expected = ['call:0']
    for (let i = 1; i < 20; i++) {
      if (i % 3 === 0) {
        a.cast(pid, i)
        expected.push(`cast:${i}`)
      } else if (i % 3 === 1) {
        a.send(pid, i)
        expected.push(`info:${i}`)
      } else {
        replies.push(a.call(pid, String(i)))
        expected.push(`call:${i}`)
      }
    }
    // The probe's reply proves every earlier frame from a has reached b's mailboxes.
    await expect(a.call(probe, 'p')).resolves.toBe('probe')
    expect(log).toEqual(['call:0'])
    release.resolve()
    await Promise.all(replies)
    expect(log.filter((e) => !e.startsWith('done:'))).toEqual(expected)
    expect(log[1]).toBe('done:0')
  })
})

describe('call: calling self', { timeout: 3000 }, () => {
  it('a GenServer calling its own pid or its own name gets CallingSelfError', async () => {
    const [a, b] = await pair()
    class SelfCaller extends GenServer<'pid' | 'name'> {
      static override serviceName = 'self-caller'
      override async handleCall(how: 'pid' | 'name'): Promise<unknown> {
        try {
          await this.call(how === 'pid' ? this.self : SelfCaller, 'hello', { timeout: LONG })
          return 'no error'
        } catch (error) {
          return error
        }
      }
    }
    const pid = await b.start(SelfCaller)
    const byPid = await b.call(pid, 'pid', { timeout: LONG })
    expect(byPid).toBeInstanceOf(CallingSelfError)
    expect(byPid).toMatchObject({ name: 'CallingSelfError', pid: pid.toString() })
    await expect(b.call(pid, 'name', { timeout: LONG })).resolves.toBeInstanceOf(CallingSelfError)
    // Over the wire the returned error travels as {name, message}.
    await expect(a.call(pid, 'pid', { timeout: LONG })).resolves.toMatchObject({ name: 'CallingSelfError' })
  })

  it('node.call(own pid) from the synchronous part of a plain handler gets CallingSelfError', async () => {
    const [a] = await pair()
    let self: Pid | undefined
    const pid = a.spawn({
      init(context: ProcessContext) {
        self = context.self
      },
      handleCall() {
        return a.call(self as Pid, 'hello', { timeout: LONG }).then(
          () => 'no error',
          (error: unknown) => error,
        )
      },
    })
    const error = await a.call(pid, 'go', { timeout: LONG })
    expect(error).toBeInstanceOf(CallingSelfError)
  })

  it('a call from outside any process to any pid is not calling self', async () => {
    const [a] = await pair()
    const pid = a.spawn({ handleCall: (_msg: unknown, from: From) => from.pid })
    await expect(a.call(pid, 'x')).resolves.toBeNull()
  })
})

describe('call: errors in handlers', { timeout: 3000 }, () => {
  for (const where of ['local', 'remote'] as const) {
    it(`a throwing handleCall gives the caller a RemoteError; the process lives on (${where})`, async () => {
      const [a, b] = await pair()
      const caller = where === 'local' ? b : a
      const pid = b.spawn({
        handleCall(msg: unknown) {
          if (msg === 'throw') throw new TypeError('x')
          if (msg === 'reject') return Promise.reject(new RangeError('async x'))
          return 'fine'
        },
      })
      const error = await rejection(caller.call(pid, 'throw', { timeout: LONG }))
      expect(error).toBeInstanceOf(RemoteError)
      expect(error).toMatchObject({ name: 'RemoteError', remoteName: 'TypeError', message: 'x' })
      await expect(caller.call(pid, 'reject', { timeout: LONG })).rejects.toMatchObject({ remoteName: 'RangeError', message: 'async x' })
      await expect(caller.call(pid, 'again', { timeout: LONG })).resolves.toBe('fine')
    })
  }

  it('a reply that cannot be encoded reaches the remote caller as RemoteError EncodeError, not a hang', async () => {
    const [a, b] = await pair()
    const pid = b.spawn({ handleCall: (msg: unknown) => (msg === 'bad' ? { fn: () => 1 } : 'good') })
    const error = await rejection(a.call(pid, 'bad', { timeout: LONG }))
    expect(error).toBeInstanceOf(RemoteError)
    expect(error).toMatchObject({ remoteName: 'EncodeError' })
    await expect(a.call(pid, 'ok', { timeout: LONG })).resolves.toBe('good')
  })

  it('a message that cannot be encoded rejects the caller with EncodeError; nothing stays pending', async () => {
    const [a, b] = await pair()
    const received: unknown[] = []
    const pid = b.spawn({ handleCall: (msg: unknown) => received.push(msg) })
    const error = await rejection(a.call(pid, { fn: () => 1 }, { timeout: LONG }))
    expect(error).toBeInstanceOf(EncodeError)
    expect(error).toMatchObject({ name: 'EncodeError' })
    // The next call gets its own reply: the failed request took no ref's answer.
    await expect(a.call(pid, 'after', { timeout: LONG })).resolves.toBe(1)
    expect(received).toEqual(['after'])
  })

  it('a throwing handleCast is reported on the node error event; the process lives on', async () => {
    const [a, b] = await pair()
    const pid = b.spawn({
      handleCast(msg: unknown) {
        if (msg === 'boom') throw new Error('cast failed')
      },
      handleCall: () => 'alive',
    })
    const reported = nextEvent(b, 'error')
    expect(a.cast(pid, 'boom')).toBe(true)
    const error = await reported
    expect(error).toBeInstanceOf(DistribunatorError)
    expect((error.cause as Error).message).toBe('cast failed')
    await expect(a.call(pid, 'x')).resolves.toBe('alive')
  })
})

describe('cast and send', { timeout: 4000 }, () => {
  it('cast returns true for a live target, false for a missing name, a dead pid or a down node; never throws', async () => {
    const [a, b, c] = await pair()
    const got: unknown[] = []
    const live = b.spawn({ handleCast: (msg: unknown) => void got.push(msg), handleCall: () => got.length })
    b.register('svc', live)
    await until(() => a.pidOf('svc') !== undefined)
    expect(a.cast(live, 1)).toBe(true)
    expect(a.cast('svc', 2)).toBe(true)
    expect(b.cast(live, 3)).toBe(true)
    expect(b.cast('svc', 4)).toBe(true)
    await expect(a.call(live, 'count')).resolves.toBe(4)

    expect(a.cast('missing', 1)).toBe(false)
    const deadLocal = idle(a)
    a.exit(deadLocal)
    expect(a.cast(deadLocal, 1)).toBe(false)
    const deadRemote = idle(b)
    b.exit(deadRemote)
    // a cannot know at once that a remote pid died; the cast goes out and is dropped there.
    expect(() => a.cast(deadRemote, 1)).not.toThrow()
    expect(a.send(deadLocal, 1)).toBe(false)
    expect(() => a.send(deadRemote, 1)).not.toThrow()

    const down = nextEvent(a, 'nodedown')
    c.network.kill('b')
    await down
    expect(a.cast(live, 1)).toBe(false)
    expect(a.cast(new Pid('never-seen', 1, 1), 1)).toBe(false)
    expect(a.send(live, 1)).toBe(false)
  })

  it('cast to a pid of a previous incarnation returns false', async () => {
    const [a, b, c] = await pair()
    const old = idle(b)
    const down = nextEvent(a, 'nodedown')
    c.network.kill('b')
    await down
    const b2 = await c.add('b')
    await until(() => a.nodes().includes('b'))
    expect(a.cast(old, 1)).toBe(false)
    expect(b2.cast(old, 1)).toBe(false)
  })

  for (const latency of [0, [0, 3] as const]) {
    it(`casts from one sender arrive in order (500 casts, latency ${JSON.stringify(latency)})`, async () => {
      const [a, b] = await pair({ network: { latency } })
      const seen: number[] = []
      const pid = b.spawn({
        handleCast: (n: unknown) => void seen.push(n as number),
        handleCall: () => seen.length,
      })
      for (let i = 0; i < 500; i++) expect(a.cast(pid, i)).toBe(true)
      // A call from the same sender queues behind every cast.
      await expect(a.call(pid, 'count')).resolves.toBe(500)
      expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i))
    })
  }

  it('send goes to handleInfo, cast to handleCast', async () => {
    const [a, b] = await pair()
    const log: string[] = []
    const pid = b.spawn(recorder(log))
    expect(a.send(pid, 'i')).toBe(true)
    expect(a.cast(pid, 'c')).toBe(true)
    expect(b.send(pid, 'li')).toBe(true)
    await a.call(pid, 'sync')
    expect(log).toEqual(['info:li', 'info:i', 'cast:c', 'call:sync', 'done:sync'])
  })
})

describe('init', { timeout: 3000 }, () => {
  it('messages sent during an async init wait until init finishes', async () => {
    const [a, b] = await pair()
    const log: string[] = []
    const initDone = deferred()
    const pid = b.spawn({
      ...recorder(log),
      async init() {
        log.push('init:start')
        await initDone.promise
        log.push('init:end')
      },
    })
    const probe = b.spawn({ handleCall: () => 'probe' })
    b.send(pid, 'local-info')
    b.cast(pid, 'local-cast')
    const localCall = b.call(pid, 'local-call')
    a.send(pid, 'remote-info')
    const remoteCall = a.call(pid, 'remote-call')
    await a.call(probe, 'p') // every frame from a has reached b by now
    expect(log).toEqual(['init:start'])
    initDone.resolve()
    await expect(localCall).resolves.toBe('reply:local-call')
    await expect(remoteCall).resolves.toBe('reply:remote-call')
    expect(log).toEqual([
      'init:start',
      'init:end',
      'info:local-info',
      'cast:local-cast',
      'call:local-call',
      'done:local-call',
      'info:remote-info',
      'call:remote-call',
      'done:remote-call',
    ])
  })

  it('node.start rejects with the init error and does not register the name', async () => {
    const [a, b] = await pair()
    const failure = new Error('init failed')
    class BadInit extends GenServer {
      static override serviceName = 'bad-init'
      override init(): void {
        throw failure
      }
    }
    class BadAsyncInit extends GenServer {
      static override serviceName = 'bad-async-init'
      override async init(): Promise<void> {
        await Promise.resolve()
        throw failure
      }
    }
    await expect(b.start(BadInit)).rejects.toBe(failure)
    await expect(b.start(BadAsyncInit)).rejects.toBe(failure)
    expect(b.allPidsOf(BadInit)).toEqual([])
    expect(b.allPidsOf(BadAsyncInit)).toEqual([])
    expect(b.registry().size).toBe(0)
    // a's view agrees once a later registration of b has reached it.
    b.register('sentinel', idle(b))
    await until(() => a.pidOf('sentinel') !== undefined)
    expect([...a.registry().keys()]).toEqual(['sentinel'])
  })
})

describe('a stopped node', { timeout: 3000 }, () => {
  it('rejects calls made after stop with NodeStoppedError', async () => {
    const [a, b] = await pair()
    const remote = b.spawn({ handleCall: () => 'x' })
    const local = idle(a)
    await a.stop()
    for (const target of [remote, local, 'anything']) {
      const error = await rejection(a.call(target, 'x', { timeout: LONG }))
      expect(error).toBeInstanceOf(NodeStoppedError)
      expect(error).toMatchObject({ name: 'NodeStoppedError', node: 'a' })
    }
    expect(() => a.cast(remote, 1)).toThrow(NodeStoppedError)
  })

  it('rejects the pending calls of a stopping node with NodeStoppedError, local and remote', async () => {
    const [a, b] = await pair()
    const started: unknown[] = []
    const remote = b.spawn(blackHole(started))
    const local = a.spawn(blackHole(started))
    const calls = [
      a.call(remote, 'r1', { timeout: LONG }),
      a.call(remote, 'r2', { timeout: LONG }),
      a.call(local, 'l1', { timeout: LONG }),
      a.call(local, 'l2', { timeout: LONG }),
    ]
    const outcomes = Promise.allSettled(calls)
    await until(() => started.length === 2)
    await a.stop()
    const reasons = (await outcomes).map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'resolved'))
    expect(reasons).toEqual(['NodeStoppedError', 'NodeStoppedError', 'NodeStoppedError', 'NodeStoppedError'])
  })
})
