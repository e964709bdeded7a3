/**
 * Typed rpc proxies (`node.proxy`) on a memory network: they run exposed functions by node
 * or by registered name, carry the options of `doNodeRpc`, and refuse at run time whatever
 * the target has not exposed. (Their types: types.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RemoteError } from '../src/index.js'
import { ArgumentError, BadRpcError, GenServer, NoNodeError, NodeStoppedError, type DistribunatorNode, type Pid } from '../src/index.js'
import { cluster, idle, until, type Cluster } from './helpers.js'

const mathApi = {
  add: (a: number, b: number): number => a + b,
  slow: (): Promise<never> => new Promise(() => undefined),
  where: (): string => 'unknown',
}

let current: Cluster | undefined
afterEach(async () => {
  await current?.stop()
  current = undefined
})

async function nodes(ids: readonly string[]): Promise<DistribunatorNode[]> {
  current = await cluster(ids)
  return current.nodes
}

/** The error `promise` rejects with, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`)
    },
    (error: unknown) => error,
  )
}

describe('node.proxy', () => {
  it('runs the functions a node exposes, by node id', async () => {
    const [a, b] = (await nodes(['a', 'b'])) as [DistribunatorNode, DistribunatorNode]
    b.expose('math', { ...mathApi, where: () => b.id })
    const math = a.proxy<typeof mathApi>('math', { node: 'b' })
    expect(await math.add(2, 3)).toBe(5)
    expect(await math.where()).toBe('b')
    // The same method each time: a proxy can hand out its functions.
    expect(math.add).toBe(math.add)
  })

  it('by name, runs on the first node having the name when each call is made', async () => {
    const [a, b, c] = (await nodes(['a', 'b', 'c'])) as [DistribunatorNode, DistribunatorNode, DistribunatorNode]
    for (const n of [b, c]) n.expose('math', { ...mathApi, where: () => n.id })
    const math = a.proxy<typeof mathApi>('math', { name: 'calculator' })
    await expect(math.where()).rejects.toBeInstanceOf(NoNodeError)
    const onC = idle(c)
    c.register('calculator', onC)
    await until(() => a.allNodesOf('calculator').length === 1)
    expect(await math.where()).toBe('c')
    b.register('calculator', idle(b))
    await until(() => a.allNodesOf('calculator').length === 2)
    expect(await math.where()).toBe('b')
  })

  it('takes a service class as the name', async () => {
    const [a, b] = (await nodes(['a', 'b'])) as [DistribunatorNode, DistribunatorNode]
    class Calculator extends GenServer {
      static override serviceName = 'calculator'
    }
    b.expose('math', mathApi)
    await b.start(Calculator)
    await until(() => a.pidOf(Calculator) !== undefined)
    expect(await a.proxy<typeof mathApi>('math', { name: Calculator }).add(1, 1)).toBe(2)
  })

  it('refuses at run time what the target has not exposed: other functions, prototype keys', async () => {
    const [a, b] = (await nodes(['a', 'b'])) as [DistribunatorNode, DistribunatorNode]
    b.expose('math', mathApi)
    const loose = a.proxy<Record<string, (...args: unknown[]) => unknown>>('math', { node: 'b' })
    for (const fn of ['sub', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype']) {
      const error = await rejection(loose[fn]!())
      expect(error).toBeInstanceOf(BadRpcError)
      expect((error as BadRpcError).reason).toBe('exit')
      expect(((error as BadRpcError).cause as RemoteError).remoteName).toBe('UndefinedFunctionError')
    }
    const unknownModule = a.proxy<typeof mathApi>('nope', { node: 'b' })
    expect(((await rejection(unknownModule.add(1, 2))) as BadRpcError).reason).toBe('exit')
  })

  it('is not thenable, and symbol keys are undefined', async () => {
    const [a] = (await nodes(['a', 'b'])) as [DistribunatorNode]
    const math = a.proxy<typeof mathApi>('math', { node: 'b' })
    expect((math as { then?: unknown }).then).toBeUndefined()
    expect(await Promise.resolve(math)).toBe(math)
    expect((math as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined()
    expect(() => Object.assign(math, { add: 1 })).toThrow(TypeError)
  })

  it('carries the options of doNodeRpc: timeout, signal, callback', async () => {
    const [a, b] = (await nodes(['a', 'b'])) as [DistribunatorNode, DistribunatorNode]
    const seen: { result: unknown; caller: Pid | null }[] = []
    b.expose('math', mathApi)
    b.expose('audit', { seen: (result: unknown, caller: Pid | null) => void seen.push({ result, caller }) })

    const quick = a.proxy<typeof mathApi>('math', { node: 'b', timeout: 50 })
    expect(((await rejection(quick.slow())) as BadRpcError).reason).toBe('timeout')

    const controller = new AbortController()
    const abortable = a.proxy<typeof mathApi>('math', { node: 'b', signal: controller.signal })
    const pending = abortable.slow()
    controller.abort(new Error('enough'))
    await expect(pending).rejects.toThrow('enough')

    const audited = a.proxy<typeof mathApi>('math', { node: 'b', callback: 'audit.seen' })
    expect(await audited.add(20, 22)).toBe(42)
    expect(seen).toEqual([{ result: 42, caller: null }])
  })

  it('fails as doNodeRpc does when the node is not connected', async () => {
    const [a] = (await nodes(['a', 'b'])) as [DistribunatorNode]
    const error = await rejection(a.proxy<typeof mathApi>('math', { node: 'ghost' }).add(1, 2))
    expect(error).toBeInstanceOf(BadRpcError)
    expect((error as BadRpcError).reason).toBe('nodedown')
  })

  it('checks its options at once', async () => {
    const [a] = (await nodes(['a'])) as [DistribunatorNode]
    const bad: unknown[] = [undefined, {}, { node: '' }, { node: 7 }, { node: 'b', name: 'x' }, { name: '' }, { name: 42 }]
    for (const options of bad) expect(() => a.proxy('math', options as never)).toThrow(ArgumentError)
    expect(() => a.proxy('', { node: 'b' })).toThrow(ArgumentError)
    await a.stop()
    expect(() => a.proxy('math', { node: 'b' })).toThrow(NodeStoppedError)
  })
})
