/**
 * Typed rpc proxies, Comlink's ergonomics over the network: `node.proxy<typeof mathApi>('math',
 * { node: 'edge-1' })` is an object whose methods run the exposed functions of module 'math'
 * on that node, so `await math.add(1, 2)` reads like a local call and is typed by the module
 * itself (`RemoteModule`). The proxy only knows names: the target still refuses what it has
 * not exposed, and its own keys only (rpc.ts), at run time. A proxy is never thenable (its
 * `then` is undefined: awaiting it gives the proxy), and symbol keys give undefined.
 */
import { ArgumentError } from './errors.js'
import { nameOf, type ServiceClass } from './gen-server.js'
import type { RpcOptions } from './messaging.js'

/** A function as a proxy offers it: the same arguments, and a promise of its awaited result. */
export type RemoteFunction<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never

/**
 * The functions of an exposed module as a proxy offers them: each takes the same arguments
 * and returns a promise of its (awaited) result. Keys that are not functions are left out.
 */
export type RemoteModule<M> = {
  readonly [K in keyof M as K extends string ? (M[K] extends (...args: never[]) => unknown ? K : never) : never]: RemoteFunction<M[K]>
}

/** Where a proxy's calls run: a node by id, or the first node having a name registered at the time of each call. */
export type ProxyTarget = ProxyToNode | ProxyToName

/** A proxy's calls run on one node. */
export interface ProxyToNode {
  /** The node's id. */
  readonly node: string
  /** Not with `node`. */
  readonly name?: never
}

/** A proxy's calls run on the first node, in the agreed order, having the name registered when each call is made. */
export interface ProxyToName {
  /** A registered name, or a service class. */
  readonly name: string | ServiceClass
  /** Not with `name`. */
  readonly node?: never
}

/** Options of `proxy`: its target and, for every call it makes, the options of `doNodeRpc`. */
export type ProxyOptions = ProxyTarget & Omit<RpcOptions, 'from'>

/** Runs one function of the module remotely. */
type Runner = (target: ProxyTarget, fn: string, args: unknown[], options: Omit<RpcOptions, 'from'>) => Promise<unknown>

/** Makes a proxy of `module` whose method `fn` runs `run(target, fn, args, options)`; throws `ArgumentError` for bad options. */
export function remoteModule<M>(module: string, options: ProxyOptions, run: Runner): RemoteModule<M> {
  if (typeof module !== 'string' || module === '') throw new ArgumentError('module name must be a non-empty string')
  const { node, name, ...rpcOptions } = options ?? {}
  if ((node === undefined) === (name === undefined)) throw new ArgumentError('a proxy needs either a node or a name')
  if (node !== undefined && (typeof node !== 'string' || node === '')) throw new ArgumentError('node must be a non-empty string')
  if (name !== undefined) nameOf(name)
  const target = (node !== undefined ? { node } : { name }) as ProxyTarget
  const call = (fn: string, args: unknown[]): Promise<unknown> => run(target, fn, args, rpcOptions)
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>()
  // An empty frozen target: nothing can be set on the proxy, and nothing is inherited.
  return new Proxy(Object.freeze(Object.create(null) as object), {
    get(_, key) {
      if (typeof key !== 'string' || key === 'then') return undefined
      let method = methods.get(key)
      if (method === undefined) methods.set(key, (method = (...args: unknown[]) => call(key, args)))
      return method
    },
  }) as RemoteModule<M>
}
