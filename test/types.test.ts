/**
 * Type-level tests: a GenServer's message and reply types reach its callers, and a proxy's
 * methods are typed by the module it stands for. They run in `npm run typecheck` (part of
 * `npm test`): `expectTypeOf` fails the compile when a type is not the one expected, and each
 * `@ts-expect-error` fails it when the line below it compiles. The bodies run too, on a memory
 * network, so what the types promise is also what happens.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import {
  GenServer,
  type CallOf,
  type CastOf,
  type DistribunatorNode,
  type InfoOf,
  type Pid,
  type RemoteModule,
  type ReplyOf,
} from '../src/index.js'
import { cluster, until, type Cluster } from './helpers.js'

type CounterCall = 'next' | { readonly add: number }

class Counter extends GenServer<CounterCall, number, 'reset', { readonly tick: true }> {
  static override serviceName = 'counter'
  count = 0
  override handleCall(msg: CounterCall): number {
    this.count = msg === 'next' ? this.count + 1 : this.count + msg.add
    return this.count
  }
  override handleCast(): void {
    this.count = 0
  }
  override handleInfo(): void {
    this.count = 100
  }
}

class Greeter extends GenServer<string, Promise<string> | string> {
  static override serviceName = 'greeter'
  constructor(private readonly greeting: string) {
    super()
  }
  override handleCall(name: string): string {
    return `${this.greeting}, ${name}`
  }
}

/** A GenServer without type arguments: it takes anything. */
class Untyped extends GenServer {
  static override serviceName = 'untyped'
  override handleCall(msg: unknown): unknown {
    return msg
  }
}

const mathApi = {
  add: (a: number, b: number): number => a + b,
  greet: async (name: string): Promise<string> => `hi ${name}`,
  version: '1.0',
}

let current: Cluster | undefined
afterEach(async () => {
  await current?.stop()
  current = undefined
})

async function pair(): Promise<[DistribunatorNode, DistribunatorNode]> {
  current = await cluster(['a', 'b'])
  return current.nodes as [DistribunatorNode, DistribunatorNode]
}

describe('types of a GenServer reach its callers', () => {
  it('the helper types read a class, an instance and a typed pid alike', () => {
    expectTypeOf<CallOf<typeof Counter>>().toEqualTypeOf<CounterCall>()
    expectTypeOf<ReplyOf<typeof Counter>>().toEqualTypeOf<number>()
    expectTypeOf<CastOf<typeof Counter>>().toEqualTypeOf<'reset'>()
    expectTypeOf<InfoOf<typeof Counter>>().toEqualTypeOf<{ readonly tick: true }>()
    expectTypeOf<CallOf<Pid<Counter>>>().toEqualTypeOf<CounterCall>()
    expectTypeOf<ReplyOf<Pid<Counter>>>().toEqualTypeOf<number>()
    // Untyped targets take anything and answer unknown.
    expectTypeOf<CallOf<Pid>>().toEqualTypeOf<unknown>()
    expectTypeOf<CallOf<'counter'>>().toEqualTypeOf<unknown>()
    expectTypeOf<CallOf<typeof Untyped>>().toEqualTypeOf<unknown>()
    expectTypeOf<ReplyOf<typeof Untyped>>().toEqualTypeOf<unknown>()
  })

  it('node.call by class: the message is checked and the reply typed', async () => {
    const [a, b] = await pair()
    await b.start(Counter)
    await until(() => a.pidOf(Counter) !== undefined)
    const reply = await a.call(Counter, 'next')
    expectTypeOf(reply).toEqualTypeOf<number>()
    expect(reply).toBe(1)
    expect(await a.call(Counter, { add: 41 })).toBe(42)
    // @ts-expect-error -- not a message Counter takes
    await expect(a.call(Counter, 'nope')).resolves.toBeNaN()
    // @ts-expect-error -- a cast message is not a call message
    await expect(a.call(Counter, 'reset')).resolves.toBeNaN()
  })

  it('start and spawn return typed pids; lookups by class do too', async () => {
    const [a, b] = await pair()
    const pid = await b.start(Counter)
    expectTypeOf(pid).toEqualTypeOf<Pid<Counter>>()
    expectTypeOf(b.spawn(new Counter())).toEqualTypeOf<Pid<Counter>>()
    expectTypeOf(b.spawn({ handleCall: () => 1 })).toEqualTypeOf<Pid>()
    const greeter = await b.start(Greeter, 'hello')
    // @ts-expect-error -- Greeter's constructor takes a string
    expect(await b.start(Greeter, 42)).not.toEqual(greeter)
    await until(() => a.pidOf(Counter) !== undefined)
    expectTypeOf(a.pidOf(Counter)).toEqualTypeOf<Pid<Counter> | undefined>()
    expectTypeOf(a.allPidsOf(Counter)).toEqualTypeOf<Pid<Counter>[]>()
    expectTypeOf(a.pidOf('counter')).toEqualTypeOf<Pid | undefined>()

    const viaPid = await a.call(pid, 'next')
    expectTypeOf(viaPid).toEqualTypeOf<number>()
    expect(viaPid).toBe(1)
    const greeting = await a.call(greeter, 'you')
    expectTypeOf(greeting).toEqualTypeOf<string>()
    expect(greeting).toBe('hello, you')
    // @ts-expect-error -- a typed pid checks its message too
    await a.call(pid, 'nope').catch(() => undefined)
  })

  it('calls by a plain pid or a name take anything; their reply is typed by an explicit parameter', async () => {
    const [a, b] = await pair()
    await b.start(Counter)
    await until(() => a.pidOf('counter') !== undefined)
    const untyped = await a.call('counter', 'next')
    expectTypeOf(untyped).toEqualTypeOf<unknown>()
    const typed = await a.call<number>('counter', 'next')
    expectTypeOf(typed).toEqualTypeOf<number>()
    expect(typed).toBe(2)
    const plain: Pid = a.pidOf('counter') as Pid
    expectTypeOf(await a.call<number>(plain, { add: 1 })).toEqualTypeOf<number>()
    await b.start(Untyped)
    await until(() => a.pidOf(Untyped) !== undefined)
    const echoed = await a.call(Untyped, { any: 'thing' })
    expectTypeOf(echoed).toEqualTypeOf<unknown>()
    expect(echoed).toEqual({ any: 'thing' })
  })

  it('cast and send are checked by class and by typed pid', async () => {
    const [a, b] = await pair()
    const pid = await b.start(Counter)
    await until(() => a.pidOf(Counter) !== undefined)
    expect(a.cast(Counter, 'reset')).toBe(true)
    expect(a.cast(pid, 'reset')).toBe(true)
    expect(a.send(Counter, { tick: true })).toBe(true)
    // @ts-expect-error -- 'next' is a call message, not a cast
    a.cast(Counter, 'next')
    // @ts-expect-error -- info messages are { tick: true }
    a.send(pid, 'reset')
    expect(a.cast('counter', 'anything goes by name')).toBe(true)
  })

  it('GenServer#call and #cast are typed the same way', async () => {
    const [a, b] = await pair()
    await b.start(Counter)
    await until(() => a.pidOf(Counter) !== undefined)
    let seen: number | undefined
    class Caller extends GenServer<'go', number> {
      static override serviceName = 'caller'
      override async handleCall(): Promise<number> {
        const n = await this.call(Counter, 'next')
        expectTypeOf(n).toEqualTypeOf<number>()
        // @ts-expect-error -- checked inside a GenServer too
        this.cast(Counter, 'next')
        seen = n
        return n
      }
    }
    await a.start(Caller)
    expect(await a.call(Caller, 'go')).toBe(1)
    expect(seen).toBe(1)
  })
})

describe('types of a proxy', () => {
  it('RemoteModule keeps the functions, promised and awaited, and drops the rest', () => {
    type Remote = RemoteModule<typeof mathApi>
    expectTypeOf<Remote['add']>().toEqualTypeOf<(a: number, b: number) => Promise<number>>()
    expectTypeOf<Remote['greet']>().toEqualTypeOf<(name: string) => Promise<string>>()
    expectTypeOf<keyof Remote>().toEqualTypeOf<'add' | 'greet'>()
  })

  it('node.proxy: arguments are checked, results typed', async () => {
    const [a, b] = await pair()
    b.expose('math', mathApi)
    const math = a.proxy<typeof mathApi>('math', { node: 'b' })
    const sum = await math.add(1, 2)
    expectTypeOf(sum).toEqualTypeOf<number>()
    expect(sum).toBe(3)
    expect(await math.greet('you')).toBe('hi you')
    // @ts-expect-error -- add takes two numbers (the target runs it anyway: types are the caller's)
    expect(await math.add('1', 2)).toBe('12')
    // @ts-expect-error -- not a function of the module
    expect(math.version).toBeTypeOf('function')
    // @ts-expect-error -- a proxy takes a node or a name, not both
    expect(() => a.proxy<typeof mathApi>('math', { node: 'b', name: 'x' })).toThrow()
  })
})
