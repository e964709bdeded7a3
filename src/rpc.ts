/**
 * Remote procedure calls, the seed's `do_node_rpc`: run `module.fn(...args)` on a node.
 *
 * Only exposed modules can be called, and only their own function-valued keys:
 * `__proto__`, `constructor`, `prototype` and inherited keys are refused, so a peer cannot
 * walk from an exposed object to anything else. The optional callback runs on the target
 * after `fn` returns and before the reply is sent (the seed's contract, "useful when the
 * target wants to monitor calling pids"). Closures cannot travel, so a remote callback is
 * the name of an exposed function, `'module.fn'`, called with the result and the caller's
 * pid; on the local node it may also be a function.
 */
import { ArgumentError, BadRpcError, RemoteError, UndefinedFunctionError } from './errors.js'
import type { Pid } from './pid.js'
import type { WireError } from './wire.js'

/** An exposed module: functions callable by rpc. */
export type RpcModule = Readonly<Record<string, unknown>>

/** A callback run on the target with the result, before the reply. */
export type RpcCallback = string | ((result: unknown, caller: Pid | null) => unknown)

const forbidden = new Set(['__proto__', 'constructor', 'prototype'])

/** The exposed modules of one node, and running calls into them. */
export class RpcModules {
  private readonly modules = new Map<string, RpcModule>()

  /** Exposes `module` under `name`; returns a function that withdraws it. */
  expose(name: string, module: RpcModule): () => void {
    if (typeof name !== 'string' || name === '') throw new ArgumentError('module name must be a non-empty string')
    if (typeof module !== 'object' || module === null) throw new ArgumentError('module must be an object of functions')
    if (this.modules.has(name)) throw new ArgumentError(`module ${JSON.stringify(name)} is already exposed`)
    this.modules.set(name, module)
    return () => {
      if (this.modules.get(name) === module) this.modules.delete(name)
    }
  }

  /** Runs `module.fn(...args)`, then the callback, and returns fn's result. */
  async run(module: string, fn: string, args: readonly unknown[], callback: RpcCallback | null, caller: Pid | null): Promise<unknown> {
    const result = await this.resolve(module, fn)(...args)
    if (typeof callback === 'function') {
      await callback(result, caller)
    } else if (callback !== null) {
      const dot = callback.lastIndexOf('.')
      if (dot < 1) throw new UndefinedFunctionError(`callback ${JSON.stringify(callback)} is not 'module.fn'`)
      await this.resolve(callback.slice(0, dot), callback.slice(dot + 1))(result, caller)
    }
    return result
  }

  private resolve(module: string, fn: string): (...args: unknown[]) => unknown {
    const target = this.modules.get(module)
    const value = target !== undefined && !forbidden.has(fn) && Object.hasOwn(target, fn) ? target[fn] : undefined
    if (typeof value !== 'function') throw new UndefinedFunctionError(`${module}.${fn} is not exposed`)
    return (...args) => (value as (...a: unknown[]) => unknown).apply(target, args)
  }
}

/** The error an rpc rejects with when the target function (or callback) threw. */
export function rpcExitError(error: WireError): BadRpcError {
  return new BadRpcError('exit', `${error.name}: ${error.message}`, { cause: new RemoteError(error.name, error.message) })
}
