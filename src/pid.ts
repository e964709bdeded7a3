/**
 * Process identifiers. A pid names one process on one incarnation of one node, so a pid
 * from before a node restarted never reaches a process of the restarted node.
 */
import { ArgumentError } from './errors.js'

/** Type-only key of the server a pid names; no value has it. */
declare const server: unique symbol

/**
 * Identifies a process: its node, that node's incarnation, and a per-node counter. `S` is
 * the GenServer it runs where known (`start`, `spawn` and lookups by class say), so calls and
 * casts to it are typed; a plain `Pid` takes any message.
 */
export class Pid<S = unknown> {
  /** Type-only: the GenServer this pid runs. Never set. */
  declare readonly [server]?: S

  constructor(
    /** Id of the node the process lives on (Erlang's `node(pid)`). */
    readonly node: string,
    /** Incarnation of that node: changes every time a node with this id starts. */
    readonly incarnation: number,
    /** Number of the process on its node. */
    readonly id: number,
  ) {
    Object.freeze(this)
  }

  /** `<node.incarnation.id>`, the incarnation in base 36, like Erlang's `<0.42.0>`. */
  toString(): string {
    return `<${this.node}.${this.incarnation.toString(36)}.${this.id}>`
  }

  /** A plain object for JSON; `Pid.from` turns it back into a Pid. */
  toJSON(): PidJSON {
    return { node: this.node, incarnation: this.incarnation, id: this.id }
  }

  /** True when both name the same process. */
  equals(other: Pid): boolean {
    return this.id === other.id && this.incarnation === other.incarnation && this.node === other.node
  }

  /** Rebuilds a pid from `toJSON()` output; throws `ArgumentError` on anything else. */
  static from(value: unknown): Pid {
    if (value instanceof Pid) return value
    const v = value as { node?: unknown; incarnation?: unknown; id?: unknown } | null
    if (
      typeof v === 'object' &&
      v !== null &&
      typeof v.node === 'string' &&
      v.node !== '' &&
      isIncarnation(v.incarnation) &&
      typeof v.id === 'number' &&
      Number.isSafeInteger(v.id) &&
      v.id >= 0
    ) {
      return new Pid(v.node, v.incarnation, v.id)
    }
    throw new ArgumentError(`not a pid: ${String(value)}`)
  }

  /** Total order used for `pick: 'first'`: node id, then incarnation, then id. */
  static compare(a: Pid, b: Pid): number {
    if (a.node !== b.node) return a.node < b.node ? -1 : 1
    if (a.incarnation !== b.incarnation) return a.incarnation - b.incarnation
    return a.id - b.id
  }
}

/** A pid as JSON: `pid.toJSON()`, read back by `Pid.from`. */
export interface PidJSON {
  /** The pid's node. */
  readonly node: string
  /** That node's incarnation. */
  readonly incarnation: number
  /** The process's number on its node. */
  readonly id: number
}

/** True for a value usable as an incarnation: a non-negative safe integer. */
export function isIncarnation(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * A fresh incarnation: milliseconds since the epoch with 10 random low bits, so a restart
 * gets a larger number than the run before it (used to tell the newer of two incarnations)
 * and two starts in one millisecond still differ.
 */
export function newIncarnation(): number {
  return Date.now() * 1024 + Math.floor(Math.random() * 1024)
}
