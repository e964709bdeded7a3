import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { decode, encode } from '@msgpack/msgpack'
import { encodeValue } from '../src/codec.js'
import { EncodeError, ProtocolError } from '../src/errors.js'
import { Pid } from '../src/pid.js'
import { FrameType, PROTOCOL_VERSION, TunnelOp, decodeFrame, encodeFrame, encodeFrameBorrowed } from '../src/wire.js'
import type { Frame } from '../src/wire.js'

const LIMIT = 1 << 20
const TYPES: readonly number[] = Object.values(FrameType)
const a = new Pid('node-a', 1_700_000_000_000 * 1024 + 5, 7)
const b = new Pid('node-b', 3, 0)

/** One or more frames of every type, covering each optional field both ways. */
const samples: readonly Frame[] = [
  { type: FrameType.Hello, version: PROTOCOL_VERSION, room: 'lobby', nodeId: 'node-a', incarnation: a.incarnation, maxFrameBytes: 1 << 20 },
  { type: FrameType.Bye },
  { type: FrameType.Sync, doc: 'registry', data: new Uint8Array([0, 1, 2, 255]), cause: null },
  { type: FrameType.Sync, doc: 'registry', data: new Uint8Array(0), cause: 'leave' },
  { type: FrameType.Call, ref: 1, to: a, from: b, msg: { op: 'get', key: new Map([[1n, new Set([b])]]) } },
  { type: FrameType.Call, ref: 2 ** 53 - 1, to: a, from: null, msg: null },
  { type: FrameType.Reply, ref: 1, ok: true, value: [new Date(3), new Uint8Array([9])] },
  { type: FrameType.Reply, ref: 2, ok: false, error: { name: 'NoProcError', message: 'gone', reason: 'noproc' } },
  { type: FrameType.Reply, ref: 3, ok: false, error: { name: 'TypeError', message: 'x is not a function' } },
  { type: FrameType.Cast, to: b, msg: ['hello', 12n] },
  { type: FrameType.Info, to: a, msg: new Error('boom') },
  { type: FrameType.Monitor, ref: 4, pid: b },
  { type: FrameType.Demonitor, ref: 4 },
  { type: FrameType.Down, ref: 4, reason: { shutdown: [a, 'bye'] } },
  { type: FrameType.Rpc, ref: 5, module: 'math', fn: 'add', args: [1, 2n, new Map()], callback: null, from: null },
  { type: FrameType.Rpc, ref: 6, module: 'math', fn: 'add', args: [], callback: 'stats.record', from: a },
  { type: FrameType.RpcReply, ref: 5, ok: true, value: 3n },
  { type: FrameType.RpcReply, ref: 6, ok: false, error: { name: 'Error', message: 'no', reason: null } },
  { type: FrameType.Ping, time: 1234.5 },
  { type: FrameType.Pong, time: 0 },
  { type: FrameType.Awareness, doc: 'notes', data: new Uint8Array([1, 2]) },
  { type: FrameType.Superseded, incarnation: a.incarnation },
  { type: FrameType.Tunnel, node: 'worker-1', op: TunnelOp.Open, tunnel: 1, data: null, deliver: true },
  { type: FrameType.Tunnel, node: 'worker-1', op: TunnelOp.Open, tunnel: 0, data: null, deliver: false },
  { type: FrameType.Tunnel, node: 'tab-2', op: TunnelOp.Frame, tunnel: 2 ** 40, data: new Uint8Array([145, 2]), deliver: false },
  { type: FrameType.Tunnel, node: 'tab-2', op: TunnelOp.Close, tunnel: 3, data: null, deliver: false },
  { type: FrameType.Tunnel, node: 'tab-2', op: TunnelOp.Refuse, tunnel: 3, data: null, deliver: true },
]
const encodedSamples = samples.map((f) => encodeFrame(f))

/** Decodes or returns the ProtocolError; any other exception fails the test. */
function attempt(bytes: Uint8Array, maxBytes = LIMIT): Frame | ProtocolError {
  try {
    const frame = decodeFrame(bytes, maxBytes)
    expect(TYPES).toContain(frame.type)
    expectDocumentedTypes(frame)
    return frame
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error
    expect(error.name).toBe('ProtocolError')
    return error
  }
}

/** Fails unless `v` is built only from the types the codec documents. */
function expectDocumentedTypes(v: unknown): void {
  if (v === null || ['boolean', 'number', 'string', 'bigint'].includes(typeof v)) return
  if (v instanceof Date) {
    expect(Number.isNaN(v.getTime())).toBe(false)
  } else if (v instanceof Map) {
    for (const [key, item] of v) {
      expectDocumentedTypes(key)
      expectDocumentedTypes(item)
    }
  } else if (v instanceof Set || Array.isArray(v)) {
    for (const item of v) expectDocumentedTypes(item)
  } else if (!(v instanceof Uint8Array || v instanceof Pid || v instanceof Error)) {
    expect(typeof v).toBe('object')
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    for (const item of Object.values(v as object)) expectDocumentedTypes(item)
  }
}

function refuses(bytes: Uint8Array, maxBytes = LIMIT): ProtocolError {
  const result = attempt(bytes, maxBytes)
  if (!(result instanceof ProtocolError)) throw new Error(`decodeFrame accepted a frame of type ${result.type}`)
  return result
}

/** The raw tuple of a sample, pids left as msgpack ExtData so they re-encode unchanged. */
function tuple(type: number, index = 0): unknown[] {
  const frames = encodedSamples.filter((_, i) => samples[i]?.type === type)
  const bytes = frames[index]
  if (bytes === undefined) throw new Error(`no sample ${index} of type ${type}`)
  return decode(bytes) as unknown[]
}

/** The sample tuple of `type` with field `i` replaced. */
function withField(type: number, i: number, value: unknown, index = 0): Uint8Array {
  const t = tuple(type, index)
  t[i] = value
  return encode(t)
}

describe('frames round-trip', () => {
  it('samples cover every frame type', () => {
    expect(new Set(samples.map((f) => f.type))).toStrictEqual(new Set(TYPES))
  })

  it.each(samples.map((f, i) => [i, f.type, f] as const))('sample %i (type %i)', (_, __, frame) => {
    expect(decodeFrame(encodeFrame(frame), LIMIT)).toStrictEqual(frame)
  })

  it('payload types survive inside frames', () => {
    const call = decodeFrame(encodedSamples[4] ?? new Uint8Array(), LIMIT)
    if (call.type !== FrameType.Call) throw new Error('expected a Call')
    expect(call.to).toBeInstanceOf(Pid)
    expect(call.from).toBeInstanceOf(Pid)
    const key = (call.msg as { key: Map<bigint, Set<Pid>> }).key
    expect(key).toBeInstanceOf(Map)
    expect([...(key.get(1n) ?? [])][0]).toBeInstanceOf(Pid)
  })

  it('the size limit is inclusive', () => {
    const bytes = encodedSamples[0] ?? new Uint8Array()
    expect(decodeFrame(bytes, bytes.byteLength).type).toBe(FrameType.Hello)
    expect(refuses(bytes, bytes.byteLength - 1).message).toMatch(/exceeds the limit/)
  })

  it("encodeFrameBorrowed gives the same bytes in the encoder's own buffer, valid until the next encoding", () => {
    for (const frame of samples) expect(encodeFrameBorrowed(frame)).toStrictEqual(encodeFrame(frame))
    const first = encodeFrameBorrowed({ type: FrameType.Cast, to: a, msg: 'first' })
    const copy = first.slice()
    encodeFrameBorrowed({ type: FrameType.Cast, to: a, msg: 'other' })
    expect(first).not.toStrictEqual(copy)
    expect(() => encodeFrameBorrowed({ type: FrameType.Cast, to: a, msg: () => 1 })).toThrow(EncodeError)
  })

  it('encodeFrame refuses payloads that cannot travel with EncodeError', () => {
    expect(() => encodeFrame({ type: FrameType.Cast, to: a, msg: () => 1 })).toThrow(EncodeError)
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    expect(() => encodeFrame({ type: FrameType.Cast, to: a, msg: cyclic })).toThrow(EncodeError)
  })
})

describe('decodeFrame refuses with ProtocolError', () => {
  it('empty bytes, undecodable bytes and trailing garbage', () => {
    refuses(new Uint8Array(0))
    refuses(new Uint8Array([0xc1]))
    for (const bytes of encodedSamples) {
      refuses(new Uint8Array([...bytes, 0]))
      refuses(new Uint8Array([...bytes, 0xc0, 0xc0]))
      refuses(bytes.subarray(0, bytes.length - 1))
    }
  })

  it('values that are not a frame tuple', () => {
    for (const v of [42, 'hello', null, true, { type: 1 }, [], new Map([[1, 2]]), new Uint8Array([1]), a, 1n]) {
      expect(refuses(encodeValue(v)).message).toMatch(/not a frame tuple/)
    }
  })

  it('unknown frame types, including values whose String() throws', () => {
    for (const t of [0, 99, -1, 1.5, 2 ** 40, '1', null, true, [1], new Map(), 1n, { toString: 1 }]) {
      expect(refuses(encodeValue([t])).message).toMatch(/unknown frame type/)
    }
    const noPrototype = new Uint8Array([0x91, 0x81, 0xa8, ...new TextEncoder().encode('toString'), 0x01])
    expect(refuses(noPrototype).message).toMatch(/unknown frame type object/)
  })

  it('wrong arity for every type', () => {
    for (const type of TYPES) {
      const t = tuple(type)
      refuses(encode([...t, null]))
      refuses(encode(t.slice(0, -1)))
      if (t.length > 2) refuses(encode(t.slice(0, 1)))
    }
  })

  it('bad refs: string, negative, float, unsafe, missing', () => {
    const refTypes = [
      FrameType.Call,
      FrameType.Reply,
      FrameType.Monitor,
      FrameType.Demonitor,
      FrameType.Down,
      FrameType.Rpc,
      FrameType.RpcReply,
    ]
    for (const type of refTypes) {
      for (const ref of ['1', -1, 1.5, 2 ** 53, NaN, null, true]) {
        expect(refuses(withField(type, 1, ref)).message).toMatch(/non-negative integer/)
      }
    }
  })

  it('bad pids in every pid field', () => {
    const plainPid = { node: 'node-a', incarnation: 1, id: 1 }
    const pidFields: readonly [number, number][] = [
      [FrameType.Call, 2],
      [FrameType.Call, 3],
      [FrameType.Cast, 1],
      [FrameType.Info, 1],
      [FrameType.Monitor, 2],
    ]
    for (const [type, i] of pidFields) {
      for (const bad of [plainPid, 'node-a', 1, [a.node, a.incarnation, a.id]]) refuses(withField(type, i, bad))
    }
    for (const bad of [plainPid, 'node-a', 1]) refuses(withField(FrameType.Rpc, 6, bad, 1))
    expect(refuses(withField(FrameType.Call, 2, null)).message).toMatch(/expected a pid/)
  })

  it('bad Hello fields: version, room, node id, incarnation', () => {
    const hello = FrameType.Hello
    for (const v of [-1, 1.5, '1', null]) refuses(withField(hello, 1, v))
    for (const room of [1, null, ['lobby']]) refuses(withField(hello, 2, room))
    for (const id of ['', 'x'.repeat(257), 1, null]) expect(refuses(withField(hello, 3, id)).message).toMatch(/node id/)
    expect(decodeFrame(withField(hello, 3, 'x'.repeat(256)), LIMIT)).toMatchObject({ nodeId: 'x'.repeat(256) })
    for (const inc of [-1, 1.5, 2 ** 53, '1', null]) expect(refuses(withField(hello, 4, inc)).message).toMatch(/incarnation/)
  })

  it('bad Sync fields: doc, non-bytes data, cause', () => {
    for (const doc of [1, null]) refuses(withField(FrameType.Sync, 1, doc))
    for (const data of ['bytes', [0, 1], null, 1]) expect(refuses(withField(FrameType.Sync, 2, data)).message).toMatch(/bytes/)
    for (const cause of [1, false, ['leave']]) refuses(withField(FrameType.Sync, 3, cause))
  })

  it('bad Tunnel fields: node, op, tunnel number, data that does not match the op, direction', () => {
    const tunnel = (fields: unknown[]): Uint8Array => encodeValue([FrameType.Tunnel, ...fields])
    for (const fields of [
      ['', TunnelOp.Open, 1, null, true],
      [7, TunnelOp.Open, 1, null, true],
      ['w', 4, 1, null, true],
      ['w', '0', 1, null, true],
      ['w', TunnelOp.Close, -1, null, true],
      ['w', TunnelOp.Close, 1.5, null, true],
      ['w', TunnelOp.Close, '1', null, true],
      ['w', TunnelOp.Close, null, null, true],
      ['w', TunnelOp.Frame, 1, null, false],
      ['w', TunnelOp.Open, 1, new Uint8Array(1), true],
      ['w', TunnelOp.Frame, 1, 'bytes', false],
      ['w', TunnelOp.Close, 1, null, 1],
      ['w', TunnelOp.Close, null, true],
    ])
      expect(attempt(tunnel(fields))).toBeInstanceOf(ProtocolError)
  })

  it('replies without a boolean ok, or with a bad error', () => {
    for (const type of [FrameType.Reply, FrameType.RpcReply]) {
      for (const ok of [1, 0, null, 'true']) expect(refuses(withField(type, 2, ok)).message).toMatch(/ok flag/)
    }
    for (const error of ['boom', null, ['Error'], ['Error', 'm', null, 1], [1, 'm'], ['Error', 2], { name: 'E', message: 'm' }]) {
      refuses(withField(FrameType.Reply, 3, error, 1))
      refuses(withField(FrameType.RpcReply, 3, error, 1))
    }
  })

  it('bad Rpc fields: args not an array, module, fn, callback', () => {
    for (const args of ['1,2', null, { 0: 1 }, 1]) expect(refuses(withField(FrameType.Rpc, 4, args)).message).toMatch(/rpc args/)
    for (const s of [1, null]) {
      refuses(withField(FrameType.Rpc, 2, s))
      refuses(withField(FrameType.Rpc, 3, s))
    }
    for (const callback of [1, false, ['m.f']]) refuses(withField(FrameType.Rpc, 5, callback))
  })
})

describe('hostile bytes', () => {
  it('100k nested arrays are refused quickly, as a whole frame or as a payload', () => {
    const n = 100_000
    const bare = new Uint8Array(n + 1).fill(0x91)
    bare[n] = 0xc0
    expect(refuses(bare, 10 * LIMIT).message).toMatch(/deeper than/)

    const head = encodeValue([FrameType.Cast, a, null])
    const cast = new Uint8Array(head.length - 1 + n + 1).fill(0x91)
    cast.set(head.subarray(0, -1))
    cast[cast.length - 1] = 0xc0
    expect(refuses(cast, 10 * LIMIT).message).toMatch(/deeper than/)
  })

  it('nesting is allowed up to the codec limit, and a frame the encoder refuses is refused on decode too', () => {
    const nested = (n: number): unknown => {
      let v: unknown = 1
      for (let i = 0; i < n; i++) v = [v]
      return v
    }
    const ok: Frame = { type: FrameType.Cast, to: a, msg: nested(63) }
    expect(decodeFrame(encodeFrame(ok), LIMIT)).toStrictEqual(ok)
    expect(() => encodeFrame({ type: FrameType.Cast, to: a, msg: nested(64) })).toThrow(EncodeError)
    const raw = new Uint8Array([...encodeValue([FrameType.Cast, a, null]).subarray(0, -1), ...new Uint8Array(64).fill(0x91), 0x01])
    expect(refuses(raw).message).toMatch(/deeper than/)
  })

  it('100k nested extensions are refused without recursing through them', () => {
    const n = 100_000
    // Each level is a Set extension (ext32 header c9 <len> 03) holding a one-item array (91).
    const size = 7 * n + 1
    const bytes = new Uint8Array(size)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < n; i++) {
      const at = 7 * i
      view.setUint8(at, 0xc9)
      view.setUint32(at + 1, size - at - 6)
      view.setInt8(at + 5, 3)
      view.setUint8(at + 6, 0x91)
    }
    bytes[size - 1] = 0xc0
    expect(refuses(bytes, 10 * LIMIT).message).toMatch(/deeper than/)
  })

  it('huge claimed lengths with no data behind them are refused quickly', () => {
    const headers = [
      [0xdd, 0xff, 0xff, 0xff, 0xff],
      [0xdf, 0xff, 0xff, 0xff, 0xff],
      [0xc6, 0xff, 0xff, 0xff, 0xff],
      [0xdb, 0xff, 0xff, 0xff, 0xff],
      [0xc9, 0xff, 0xff, 0xff, 0xff, 0x03],
      [0xdc, 0xff, 0xff],
      [0xde, 0xff, 0xff],
    ]
    const cast = encodeValue([FrameType.Cast, a, null]).subarray(0, -1)
    const started = performance.now()
    for (const h of headers) {
      refuses(new Uint8Array(h))
      refuses(new Uint8Array([...cast, ...h]))
      refuses(new Uint8Array([...cast, ...h, 0xc0, 0xc0]))
    }
    expect(performance.now() - started).toBeLessThan(500)
  })

  it('stacked large array headers cannot make the decoder preallocate gigabytes', () => {
    // 20k array16 headers of 65535 items each: 60 KB that once made msgpack allocate ~10 GB.
    const levels = 20_000
    const bytes = new Uint8Array(levels * 3)
    for (let i = 0; i < levels; i++) bytes.set([0xdc, 0xff, 0xff], i * 3)
    const started = performance.now()
    expect(refuses(bytes).message).toMatch(/items/)
    // A large array with exactly the bytes its items need still decodes; one byte short does not.
    const nulls = new Uint8Array(3 + 65_535).fill(0xc0)
    nulls.set([0xdc, 0xff, 0xff])
    const head = encodeValue([FrameType.Cast, a, null]).subarray(0, -1)
    const cast = decodeFrame(new Uint8Array([...head, ...nulls]), LIMIT)
    expect(cast).toMatchObject({ type: FrameType.Cast, to: a })
    expect((cast as { msg: unknown[] }).msg).toHaveLength(65_535)
    expect(refuses(new Uint8Array([...head, ...nulls.subarray(0, -1)])).message).toMatch(/items/)
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('fuzz: decodeFrame only ever returns a frame or throws ProtocolError', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        attempt(bytes)
      }),
      { numRuns: 3000 },
    )
  })

  it('random bytes behind a plausible frame header', () => {
    const header = fc.tuple(fc.integer({ min: 0x91, max: 0x97 }), fc.integer({ min: 0, max: 13 }))
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 48 }), ([arr, type], rest) => {
        attempt(new Uint8Array([arr, type, ...rest]))
      }),
      { numRuns: 3000 },
    )
  })

  type Mutation =
    | { op: 'flip'; at: number; bit: number }
    | { op: 'set'; at: number; byte: number }
    | { op: 'insert'; at: number; byte: number }
    | { op: 'delete'; at: number }
    | { op: 'truncate'; at: number }
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  )
  function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
    const out = [...bytes]
    for (const m of mutations) {
      const at = out.length === 0 ? 0 : m.at % out.length
      if (m.op === 'flip') out[at] = (out[at] ?? 0) ^ (1 << m.bit)
      else if (m.op === 'set') out[at] = m.byte
      else if (m.op === 'insert') out.splice(m.at % (out.length + 1), 0, m.byte)
      else if (m.op === 'delete') out.splice(at, 1)
      else out.length = at
    }
    return new Uint8Array(out)
  }

  const pid = fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.nat(), fc.nat()).map(([n, i, id]) => new Pid(n, i, id))
  const payload = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc.oneof(
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
        fc.string({ maxLength: 8 }),
        fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
        fc.date({ noInvalidDate: true }),
        fc.uint8Array({ maxLength: 8 }),
        pid,
      ),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(
        fc.string({ maxLength: 4 }).filter((k) => k !== '__proto__'),
        tie('v'),
        { maxKeys: 3, noNullPrototype: true },
      ),
      fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 3 }).map((e) => new Map(e)),
      fc.array(tie('v'), { maxLength: 3 }).map((e) => new Set(e)),
    ),
  })).v
  const ref = fc.nat()
  const str = fc.string({ maxLength: 8 })
  // Records of a null prototype would decode as plain objects; frames are plain objects.
  const plain = { noNullPrototype: true }
  const wireError = fc.oneof(fc.record({ name: str, message: str }, plain), fc.record({ name: str, message: str, reason: payload }, plain))
  const outcome = fc.oneof(
    fc.record({ ok: fc.constant(true as const), value: payload }, plain),
    fc.record({ ok: fc.constant(false as const), error: wireError }, plain),
  )
  const frame: fc.Arbitrary<Frame> = fc.oneof(
    fc.record(
      {
        type: fc.constant(FrameType.Hello),
        version: fc.nat(),
        room: str,
        nodeId: fc.string({ minLength: 1, maxLength: 8 }),
        incarnation: fc.nat(),
        maxFrameBytes: fc.integer({ min: 1, max: 2 ** 31 }),
      },
      plain,
    ),
    fc.constant({ type: FrameType.Bye }),
    fc.record({ type: fc.constant(FrameType.Sync), doc: str, data: fc.uint8Array({ maxLength: 16 }), cause: fc.option(str) }, plain),
    fc.record({ type: fc.constant(FrameType.Call), ref, to: pid, from: fc.option(pid), msg: payload }, plain),
    fc.tuple(fc.constantFrom(FrameType.Reply, FrameType.RpcReply), ref, outcome).map(([type, r, o]) => ({ type, ref: r, ...o })),
    fc.record({ type: fc.constantFrom(FrameType.Cast, FrameType.Info), to: pid, msg: payload }, plain),
    fc.record({ type: fc.constant(FrameType.Monitor), ref, pid }, plain),
    fc.record({ type: fc.constant(FrameType.Demonitor), ref }, plain),
    fc.record({ type: fc.constant(FrameType.Down), ref, reason: payload }, plain),
    fc.record(
      {
        type: fc.constant(FrameType.Rpc),
        ref,
        module: str,
        fn: str,
        args: fc.array(payload, { maxLength: 3 }),
        callback: fc.option(str),
        from: fc.option(pid),
      },
      plain,
    ),
    fc
      .tuple(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.constantFrom(...Object.values(TunnelOp)),
        fc.nat(),
        fc.uint8Array({ maxLength: 16 }),
        fc.boolean(),
      )
      .map(([node, op, tunnel, data, deliver]) => ({
        type: FrameType.Tunnel,
        node,
        op,
        tunnel,
        data: op === TunnelOp.Frame ? data : null,
        deliver,
      })),
  )

  it('generated frames round-trip', () => {
    fc.assert(
      fc.property(frame, (f) => {
        expect(decodeFrame(encodeFrame(f), LIMIT)).toStrictEqual(f)
      }),
      { numRuns: 1000 },
    )
  })

  it('mutated valid frames; what still decodes holds documented types and re-encodes stably', () => {
    const source = fc.oneof(
      fc.constantFrom(...encodedSamples),
      frame.map((f) => encodeFrame(f)),
    )
    let decoded = 0
    fc.assert(
      fc.property(source, fc.array(mutation, { minLength: 1, maxLength: 4 }), (bytes, mutations) => {
        const result = attempt(mutate(bytes, mutations))
        if (result instanceof ProtocolError) return
        decoded++
        // The first re-encoding may normalise (-0 to 0, duplicate keys dropped); after that it is fixed.
        const bytes1 = encodeFrame(result)
        const again = decodeFrame(bytes1, LIMIT)
        expect(again.type).toBe(result.type)
        expect(encodeFrame(again)).toStrictEqual(bytes1)
      }),
      { numRuns: 4000 },
    )
    // The property above is vacuous if mutations never leave a decodable frame.
    expect(decoded).toBeGreaterThan(100)
  })
})
