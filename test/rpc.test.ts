/**
 * rpc between nodes of a memory network: `doNodeRpc` / `nodeRpc`, the callback contract
 * (runs on the target after fn and before the reply), failures as `BadRpcError` reasons,
 * and the allow-list (exposed modules, own function keys only).
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  ArgumentError,
  BadRpcError,
  EncodeError,
  GenServer,
  NoNodeError,
  Pid,
  RemoteError,
  type DistribunatorNode,
  type RpcModule,
} from '../src/index.js'
import { cluster, idle, until, type Cluster } from './helpers.js'

let current: Cluster | undefined

afterEach(async () => {
  await current?.stop()
  current = undefined
})

/** A fully connected cluster, stopped after the test. */
async function start(ids: readonly string[], options: Parameters<typeof cluster>[1] = {}): Promise<Cluster> {
  current = await cluster(ids, options)
  return current
}

/** Two connected nodes a and b. */
async function pair(options: Parameters<typeof cluster>[1] = {}): Promise<[DistribunatorNode, DistribunatorNode, Cluster]> {
  const c = await start(['a', 'b'], options)
  return [c.nodes[0] as DistribunatorNode, c.nodes[1] as DistribunatorNode, c]
}

/** The rejection of `promise`, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, got a result')
}

/** Asserts a BadRpcError with `reason` and returns it. */
async function badRpc(promise: Promise<unknown>, reason: 'nodedown' | 'timeout' | 'exit'): Promise<BadRpcError> {
  const error = await rejection(promise)
  expect(error).toBeInstanceOf(BadRpcError)
  expect((error as BadRpcError).name).toBe('BadRpcError')
  expect((error as BadRpcError).reason).toBe(reason)
  return error as BadRpcError
}

/** Asserts an 'exit' BadRpcError whose cause is a RemoteError named `remoteName`. */
async function exitWith(promise: Promise<unknown>, remoteName: string, message?: string): Promise<RemoteError> {
  const error = await badRpc(promise, 'exit')
  expect(error.cause).toBeInstanceOf(RemoteError)
  const cause = error.cause as RemoteError
  expect(cause.remoteName).toBe(remoteName)
  if (message !== undefined) expect(cause.message).toBe(message)
  return cause
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('doNodeRpc to a remote node', () => {
  it('returns the result of an exposed function', async () => {
    const [a, b] = await pair()
    b.expose('math', { add: (x: number, y: number) => x + y })
    expect(await a.doNodeRpc('b', 'math', 'add', [1, 2])).toBe(3)
  })

  it('awaits an async function', async () => {
    const [a, b] = await pair()
    b.expose('slow', {
      later: async (x: number) => {
        await new Promise((r) => setTimeout(r, 5))
        return { doubled: x * 2, on: b.id }
      },
    })
    expect(await a.doNodeRpc('b', 'slow', 'later', [21])).toEqual({ doubled: 42, on: 'b' })
  })

  it('runs the function on the target node, with `this` the exposed module', async () => {
    const [a, b] = await pair()
    b.expose('where', {
      factor: 3,
      id: () => b.id,
      times(this: { factor: number }, x: number) {
        return x * this.factor
      },
    })
    a.expose('where', { id: () => a.id })
    expect(await a.doNodeRpc('b', 'where', 'id', [])).toBe('b')
    expect(await a.doNodeRpc('b', 'where', 'times', [5])).toBe(15)
  })

  it('carries rich argument and result types intact', async () => {
    const [a, b] = await pair()
    let received: unknown[] = []
    b.expose('echo', { back: (...args: unknown[]) => ((received = args), args) })
    const pid = idle(a)
    const args = [
      new Map<unknown, unknown>([
        ['k', 1n],
        [2, new Set(['x'])],
      ]),
      2n ** 70n,
      -5n,
      new Uint8Array([0, 1, 255]),
      pid,
      new Date(1234),
      null,
    ]
    const result = (await a.doNodeRpc('b', 'echo', 'back', args)) as unknown[]
    for (const seen of [received, result]) {
      expect(seen[0]).toBeInstanceOf(Map)
      expect(seen[0]).toEqual(args[0])
      expect(seen[1]).toBe(2n ** 70n)
      expect(seen[2]).toBe(-5n)
      expect(seen[3]).toBeInstanceOf(Uint8Array)
      expect([...(seen[3] as Uint8Array)]).toEqual([0, 1, 255])
      expect(seen[4]).toBeInstanceOf(Pid)
      expect((seen[4] as Pid).equals(pid)).toBe(true)
      expect(seen[5]).toEqual(new Date(1234))
      expect(seen[6]).toBeNull()
    }
  })

  it('rejects bad args (not an array) with ArgumentError', async () => {
    const [a, b] = await pair()
    b.expose('math', { add: (x: number, y: number) => x + y })
    const error = await rejection(a.doNodeRpc('b', 'math', 'add', 'nope' as unknown as unknown[]))
    expect(error).toBeInstanceOf(ArgumentError)
    expect(await rejection(a.doNodeRpc('a', 'math', 'add', { 0: 1 } as unknown as unknown[]))).toBeInstanceOf(ArgumentError)
  })

  it('rejects args that cannot be encoded at once, with EncodeError', async () => {
    const [a, b] = await pair()
    b.expose('math', { add: (x: number, y: number) => x + y })
    const error = await rejection(a.doNodeRpc('b', 'math', 'add', [() => 1, 2], { timeout: 60_000 }))
    expect(error).toBeInstanceOf(EncodeError)
  })
})

describe('rpc callback', () => {
  /** b exposes work.compute and audit.seen, both logging into `log`. */
  function exposeAudit(b: DistribunatorNode, log: unknown[], seen: Array<{ result: unknown; caller: unknown }>): void {
    b.expose('work', {
      compute: (x: number) => {
        log.push('fn')
        return x * 2
      },
    })
    b.expose('audit', {
      // A macrotask first: had the reply gone out before the callback, it would arrive first.
      seen: async (result: unknown, caller: unknown) => {
        await new Promise((r) => setTimeout(r, 10))
        log.push('callback')
        seen.push({ result, caller })
      },
    })
  }

  it("runs 'audit.seen' on the target with (result, callerPid) after fn and before the reply", async () => {
    const [a, b] = await pair()
    const log: unknown[] = []
    const seen: Array<{ result: unknown; caller: unknown }> = []
    exposeAudit(b, log, seen)
    const from = idle(a)
    let atResolve: unknown[] | undefined
    const result = await a.doNodeRpc('b', 'work', 'compute', [21], { callback: 'audit.seen', from }).then((value) => {
      atResolve = [...log]
      return value
    })
    expect(result).toBe(42)
    // The callback's side effect on the target was already there when the caller's promise resolved.
    expect(atResolve).toEqual(['fn', 'callback'])
    expect(seen).toHaveLength(1)
    expect(seen[0]?.result).toBe(42)
    expect(seen[0]?.caller).toBeInstanceOf(Pid)
    expect((seen[0]?.caller as Pid).equals(from)).toBe(true)
  })

  it('passes a null caller when the rpc is not made by a process', async () => {
    const [a, b] = await pair()
    const log: unknown[] = []
    const seen: Array<{ result: unknown; caller: unknown }> = []
    exposeAudit(b, log, seen)
    await a.doNodeRpc('b', 'work', 'compute', [1], { callback: 'audit.seen' })
    expect(seen).toEqual([{ result: 2, caller: null }])
  })

  it("awaits the callback's own async work before replying", async () => {
    const [a, b] = await pair()
    const gate = deferred()
    let callbackStarted = false
    let callbackDone = false
    b.expose('work', { compute: (x: number) => x + 1, ping: () => 'pong' })
    b.expose('audit', {
      seen: async () => {
        callbackStarted = true
        await gate.promise
        callbackDone = true
      },
    })
    let settled = false
    const rpc = a.doNodeRpc('b', 'work', 'compute', [1], { callback: 'audit.seen' }).finally(() => (settled = true))
    await until(() => callbackStarted)
    // A later rpc on the same ordered link completes: had the first reply been sent, it would have arrived first.
    expect(await a.doNodeRpc('b', 'work', 'ping', [])).toBe('pong')
    expect(settled).toBe(false)
    expect(callbackDone).toBe(false)
    gate.resolve()
    let doneAtResolve: boolean | undefined
    expect(await rpc.then((value) => ((doneAtResolve = callbackDone), value))).toBe(2)
    expect(doneAtResolve).toBe(true)
  })

  it('gives the callback the executing pid when a GenServer handler makes the rpc', async () => {
    const [a, b] = await pair()
    const log: unknown[] = []
    const seen: Array<{ result: unknown; caller: unknown }> = []
    exposeAudit(b, log, seen)
    class Relay extends GenServer<number, unknown> {
      static override serviceName = 'relay'
      override handleCall(x: number): Promise<unknown> {
        return this.node.doNodeRpc('b', 'work', 'compute', [x], { callback: 'audit.seen' })
      }
    }
    const relay = await a.start(Relay)
    expect(await a.call(relay, 5)).toBe(10)
    expect(seen).toHaveLength(1)
    expect((seen[0]?.caller as Pid).equals(relay)).toBe(true)
  })

  it('gives the callback the executing pid for a plain behaviour too, and `from` wins over it', async () => {
    const [a, b] = await pair()
    const log: unknown[] = []
    const seen: Array<{ result: unknown; caller: unknown }> = []
    exposeAudit(b, log, seen)
    const other = idle(a)
    const pid = a.spawn({
      handleCall: (msg: unknown) =>
        msg === 'as-self'
          ? a.doNodeRpc('b', 'work', 'compute', [1], { callback: 'audit.seen' })
          : a.doNodeRpc('b', 'work', 'compute', [2], { callback: 'audit.seen', from: other }),
    })
    await a.call(pid, 'as-self')
    await a.call(pid, 'as-other')
    expect(seen.map((s) => String(s.caller))).toEqual([String(pid), String(other)])
  })

  it("fails with 'exit' when the callback throws, after fn ran", async () => {
    const [a, b] = await pair()
    let ran = false
    b.expose('work', { compute: () => ((ran = true), 1) })
    b.expose('audit', {
      seen: () => {
        throw new TypeError('audit failed')
      },
      later: async () => {
        await Promise.resolve()
        throw new SyntaxError('async audit failed')
      },
    })
    await exitWith(a.doNodeRpc('b', 'work', 'compute', [], { callback: 'audit.seen' }), 'TypeError', 'audit failed')
    expect(ran).toBe(true)
    await exitWith(a.doNodeRpc('b', 'work', 'compute', [], { callback: 'audit.later' }), 'SyntaxError', 'async audit failed')
  })

  it("refuses a callback that is not an exposed 'module.fn'", async () => {
    const [a, b] = await pair()
    b.expose('work', { compute: () => 1 })
    for (const callback of ['nodot', '.fn', 'work.missing', 'nomodule.fn', 'work.__proto__', 'work.constructor']) {
      await exitWith(a.doNodeRpc('b', 'work', 'compute', [], { callback }), 'UndefinedFunctionError')
    }
  })
})

describe('rpc on the local node', () => {
  it('runs a function callback before the promise resolves', async () => {
    const [a] = await pair()
    const log: unknown[] = []
    a.expose('work', { compute: (x: number) => (log.push('fn'), x * 3) })
    const from = idle(a)
    let atResolve: unknown[] | undefined
    const result = await a
      .doNodeRpc('a', 'work', 'compute', [2], {
        from,
        callback: async (res, caller) => {
          await new Promise((r) => setTimeout(r, 10))
          log.push(['callback', res, caller?.equals(from)])
        },
      })
      .then((value) => ((atResolve = [...log]), value))
    expect(result).toBe(6)
    expect(atResolve).toEqual(['fn', ['callback', 6, true]])
  })

  it("runs a named callback too, and 'exit' / timeout / abort apply", async () => {
    const [a] = await pair()
    const seen: unknown[] = []
    a.expose('work', {
      compute: (x: number) => x + 1,
      boom: () => {
        throw new RangeError('local boom')
      },
      hang: () => new Promise(() => undefined),
    })
    a.expose('audit', { seen: (r: unknown) => seen.push(r) })
    expect(await a.doNodeRpc('a', 'work', 'compute', [1], { callback: 'audit.seen' })).toBe(2)
    expect(seen).toEqual([2])
    await exitWith(a.doNodeRpc('a', 'work', 'boom', []), 'RangeError', 'local boom')
    await exitWith(a.doNodeRpc('a', 'work', 'nope', []), 'UndefinedFunctionError')
    await badRpc(a.doNodeRpc('a', 'work', 'hang', [], { timeout: 20 }), 'timeout')
    const controller = new AbortController()
    const reason = new Error('user gave up')
    const pending = a.doNodeRpc('a', 'work', 'hang', [], { signal: controller.signal, timeout: 60_000 })
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
  })

  it('refuses a function callback for a remote target with ArgumentError', async () => {
    const [a, b] = await pair()
    let ran = false
    b.expose('work', { compute: () => ((ran = true), 1) })
    const error = await rejection(a.doNodeRpc('b', 'work', 'compute', [], { callback: () => undefined }))
    expect(error).toBeInstanceOf(ArgumentError)
    expect(ran).toBe(false)
  })
})

describe('nodeRpc', () => {
  it('runs on the first node, in the agreed order, that has the name', async () => {
    const c = await start(['a', 'b', 'c', 'd'])
    const [a, b, cc, d] = c.nodes as [DistribunatorNode, DistribunatorNode, DistribunatorNode, DistribunatorNode]
    for (const node of c.nodes) node.expose('who', { am: () => node.id })
    d.register('svc', idle(d))
    cc.register('svc', idle(cc))
    b.register('other', idle(b))
    await until(() => c.nodes.every((n) => n.allNodesOf('svc').length === 2))
    for (const node of c.nodes) {
      expect(node.allNodesOf('svc')).toEqual(['c', 'd'])
      expect(await node.nodeRpc('svc', 'who', 'am', [])).toBe('c')
    }
    expect(await a.nodeRpc('other', 'who', 'am', [])).toBe('b')
  })

  it('accepts a GenServer class as the name', async () => {
    const [a, b] = await pair()
    class Svc extends GenServer {
      static override serviceName = 'svc-class'
    }
    await b.start(Svc)
    b.expose('who', { am: () => b.id })
    await until(() => a.allNodesOf(Svc).length === 1)
    expect(await a.nodeRpc(Svc, 'who', 'am', [])).toBe('b')
  })

  it("rejects with NoNodeError ('no node') when no node has the name", async () => {
    const [a, b] = await pair()
    b.expose('who', { am: () => b.id })
    const error = await rejection(a.nodeRpc('nobody', 'who', 'am', []))
    expect(error).toBeInstanceOf(NoNodeError)
    expect((error as NoNodeError).name).toBe('NoNodeError')
    expect((error as NoNodeError).reason).toBe('no node')
  })
})

describe('rpc failures', () => {
  it("rejects with 'nodedown' at once for a node that is not connected", async () => {
    const [a] = await pair()
    await badRpc(a.doNodeRpc('zed', 'who', 'am', [], { timeout: 60_000 }), 'nodedown')
  })

  it("rejects with 'nodedown' at once when the node is killed mid-rpc", async () => {
    const [a, b, c] = await pair()
    let started = false
    b.expose('slow', { hang: () => ((started = true), new Promise(() => undefined)) })
    const rpc = a.doNodeRpc('b', 'slow', 'hang', [], { timeout: 60_000 })
    await until(() => started)
    const t0 = performance.now()
    c.network.kill('b')
    const error = await badRpc(rpc, 'nodedown')
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(error.message).toMatch(/b/)
  })

  it("rejects with 'nodedown' when the node stops mid-rpc", async () => {
    const [a, b] = await pair()
    let started = false
    b.expose('slow', { hang: () => ((started = true), new Promise(() => undefined)) })
    const rpc = a.doNodeRpc('b', 'slow', 'hang', [], { timeout: 60_000 })
    await until(() => started)
    await b.stop()
    await badRpc(rpc, 'nodedown')
  })

  it("rejects with 'exit' and a RemoteError cause when fn throws", async () => {
    const [a, b] = await pair()
    b.expose('bad', {
      boom: () => {
        throw new RangeError('too big')
      },
      later: async () => {
        await Promise.resolve()
        throw new TypeError('async boom')
      },
      plain: () => {
        throw 'a string' // a non-Error throw must travel too
      },
    })
    const error = await badRpc(a.doNodeRpc('b', 'bad', 'boom', []), 'exit')
    expect(error.cause).toBeInstanceOf(RemoteError)
    expect((error.cause as RemoteError).remoteName).toBe('RangeError')
    expect((error.cause as RemoteError).message).toBe('too big')
    await exitWith(a.doNodeRpc('b', 'bad', 'later', []), 'TypeError', 'async boom')
    await exitWith(a.doNodeRpc('b', 'bad', 'plain', []), 'Error', 'a string')
  })

  it("rejects with 'exit' (EncodeError) when the result cannot be encoded, not a hang", async () => {
    const [a, b] = await pair()
    b.expose('bad', { fn: () => () => 1, sym: () => Symbol('x') })
    await exitWith(a.doNodeRpc('b', 'bad', 'fn', [], { timeout: 60_000 }), 'EncodeError')
    await exitWith(a.doNodeRpc('b', 'bad', 'sym', [], { timeout: 60_000 }), 'EncodeError')
    // The link is fine afterwards.
    b.expose('ok', { one: () => 1 })
    expect(await a.doNodeRpc('b', 'ok', 'one', [])).toBe(1)
  })

  it("rejects with 'timeout' after an explicit timeout", async () => {
    const [a, b] = await pair()
    b.expose('slow', { hang: () => new Promise(() => undefined) })
    const error = await badRpc(a.doNodeRpc('b', 'slow', 'hang', [], { timeout: 30 }), 'timeout')
    expect(error.message).toMatch(/30/)
  })

  it("applies the node's callTimeout by default", async () => {
    const [a, b] = await pair({ node: { callTimeout: 200 } })
    b.expose('slow', { hang: () => new Promise(() => undefined) })
    const t0 = performance.now()
    await badRpc(a.doNodeRpc('b', 'slow', 'hang', []), 'timeout')
    const elapsed = performance.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(190)
    expect(elapsed).toBeLessThan(2000)
  })

  it('rejects with the signal reason when aborted, before or during the rpc', async () => {
    const [a, b] = await pair()
    let started = false
    b.expose('slow', { hang: () => ((started = true), new Promise(() => undefined)) })
    const reason = new Error('user gave up')
    const controller = new AbortController()
    const rpc = a.doNodeRpc('b', 'slow', 'hang', [], { signal: controller.signal, timeout: 60_000 })
    await until(() => started)
    controller.abort(reason)
    expect(await rejection(rpc)).toBe(reason)
    const already = AbortSignal.abort('gone')
    expect(await rejection(a.doNodeRpc('b', 'slow', 'hang', [], { signal: already }))).toBe('gone')
  })
})

describe('rpc allow-list', () => {
  it('refuses everything but own function keys of exposed modules', async () => {
    const [a, b] = await pair()
    const module: Record<string, unknown> = { add: (x: number, y: number) => x + y, notFn: 42, nested: { f: () => 1 } }
    // Own keys under forbidden names stay refused even when they hold functions.
    Object.defineProperty(module, 'constructor', { value: () => 'pwned', enumerable: true })
    Object.defineProperty(module, 'prototype', { value: () => 'pwned', enumerable: true })
    b.expose('math', module)
    const refused: Array<[string, string]> = [
      ['nomodule', 'add'],
      ['math', 'sub'],
      ['math', '__proto__'],
      ['math', 'constructor'],
      ['math', 'prototype'],
      ['math', 'toString'],
      ['math', 'hasOwnProperty'],
      ['math', 'valueOf'],
      ['math', 'notFn'],
      ['math', 'nested'],
      ['math', 'nested.f'],
      ['math', ''],
      ['__proto__', 'toString'],
      ['constructor', 'name'],
    ]
    for (const [mod, fn] of refused) {
      await exitWith(a.doNodeRpc('b', mod, fn, []), 'UndefinedFunctionError')
    }
    expect(await a.doNodeRpc('b', 'math', 'add', [2, 3])).toBe(5)
  })

  it('calls only own function keys of a class instance, never its prototype methods', async () => {
    const [a, b] = await pair()
    class Calc {
      base = 10
      inc = (x: number): number => x + this.base
      double(x: number): number {
        return x * 2
      }
    }
    b.expose('calc', new Calc() as unknown as RpcModule)
    expect(await a.doNodeRpc('b', 'calc', 'inc', [1])).toBe(11)
    await exitWith(a.doNodeRpc('b', 'calc', 'double', [1]), 'UndefinedFunctionError')
    await exitWith(a.doNodeRpc('b', 'calc', 'base', []), 'UndefinedFunctionError')
    await exitWith(a.doNodeRpc('b', 'calc', 'constructor', []), 'UndefinedFunctionError')
  })

  it('returns an unexpose function that withdraws the module', async () => {
    const [a, b] = await pair()
    const unexpose = b.expose('math', { one: () => 1 })
    expect(await a.doNodeRpc('b', 'math', 'one', [])).toBe(1)
    unexpose()
    await exitWith(a.doNodeRpc('b', 'math', 'one', []), 'UndefinedFunctionError')
    // The name is free again, and the old unexpose does not withdraw the new module.
    b.expose('math', { two: () => 2 })
    unexpose()
    expect(await a.doNodeRpc('b', 'math', 'two', [])).toBe(2)
  })

  it('refuses exposing a module name twice, or a module that is not an object', async () => {
    const [, b] = await pair()
    b.expose('math', { one: () => 1 })
    expect(() => b.expose('math', { two: () => 2 })).toThrow(ArgumentError)
    expect(() => b.expose('', { two: () => 2 })).toThrow(ArgumentError)
    expect(() => b.expose('x', null as unknown as RpcModule)).toThrow(ArgumentError)
  })
})
