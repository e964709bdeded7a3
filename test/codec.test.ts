import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { encode, ExtData } from '@msgpack/msgpack'
import { decodeValue, encodeValue } from '../src/codec.js'
import { EncodeError } from '../src/errors.js'
import { Pid } from '../src/pid.js'

const roundTrip = (value: unknown): unknown => decodeValue(encodeValue(value))

/** `n` arrays, one inside the other, around `leaf`. */
function nestedArrays(n: number, leaf: unknown = 1): unknown {
  let v = leaf
  for (let i = 0; i < n; i++) v = [v]
  return v
}

function expectEncodeError(value: unknown, message?: RegExp): void {
  let thrown: unknown
  try {
    encodeValue(value)
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(EncodeError)
  expect((thrown as Error).name).toBe('EncodeError')
  if (message) expect((thrown as Error).message).toMatch(message)
}

/** msgpack bytes of an extension of `type` around `content` (itself msgpack bytes). */
const ext = (type: number, content: Uint8Array): Uint8Array => encode(new ExtData(type, content))

describe('round trip keeps payload types', () => {
  it('Uint8Array keeps its type and bytes, also from a view into a larger buffer', () => {
    const bytes = new Uint8Array([0, 1, 127, 128, 255])
    const out = roundTrip(bytes)
    expect(out).toBeInstanceOf(Uint8Array)
    expect([...(out as Uint8Array)]).toEqual([0, 1, 127, 128, 255])

    const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5)
    expect([...(roundTrip(view) as Uint8Array)]).toEqual([1, 2, 3])
    expect(roundTrip(new Uint8Array(0))).toStrictEqual(new Uint8Array(0))
    const big = new Uint8Array(70_000).map((_, i) => i % 251)
    expect(roundTrip(big)).toStrictEqual(big)
  })

  it('Map keeps non-string keys, insertion order and nested Maps', () => {
    const objectKey = { k: [1, 2] }
    const map = new Map<unknown, unknown>([
      [1, 'one'],
      ['1', 'string one'],
      [null, 'null'],
      [true, 'true'],
      [12n, 'bigint'],
      [objectKey, new Map([[new Date(5), new Set(['x'])]])],
      [new Pid('n', 1, 2), [new Map()]],
    ])
    const out = roundTrip(map)
    expect(out).toBeInstanceOf(Map)
    expect(out).toStrictEqual(map)
    expect([...(out as Map<unknown, unknown>).keys()].slice(0, 5)).toEqual([1, '1', null, true, 12n])
    const nested = [...(out as Map<unknown, unknown>).values()][5]
    expect(nested).toBeInstanceOf(Map)
    expect(roundTrip(new Map())).toStrictEqual(new Map())
  })

  it('Set keeps its items and their types', () => {
    const set = new Set<unknown>([1, '1', 1n, null, new Uint8Array([1]), new Set([2]), [3]])
    const out = roundTrip(set)
    expect(out).toBeInstanceOf(Set)
    expect(out).toStrictEqual(set)
    expect(roundTrip(new Set())).toStrictEqual(new Set())
  })

  it('Date keeps its time, including before 1970 and at the edges of its range', () => {
    for (const ms of [0, 1, -1, 1_700_000_000_123, -62_135_596_800_000, 8.64e15, -8.64e15]) {
      const out = roundTrip(new Date(ms))
      expect(out).toBeInstanceOf(Date)
      expect((out as Date).getTime()).toBe(ms)
    }
  })

  it('BigInt comes back as a bigint, small, huge or negative', () => {
    for (const n of [0n, 12n, -12n, 1n, -1n, 2n ** 64n, 2n ** 200n, -(2n ** 200n), 2n ** 8192n - 1n, -(2n ** 8192n - 1n)]) {
      const out = roundTrip(n)
      expect(typeof out).toBe('bigint')
      expect(out).toBe(n)
    }
    expect(roundTrip(12n)).not.toBe(12)
  })

  it('Error keeps name and message', () => {
    const out = roundTrip(new TypeError('bad thing'))
    expect(out).toBeInstanceOf(Error)
    expect((out as Error).name).toBe('TypeError')
    expect((out as Error).message).toBe('bad thing')

    const custom = new Error('')
    custom.name = 'MyError'
    expect(roundTrip(custom)).toMatchObject({ name: 'MyError', message: '' })
  })

  it('Pid comes back as a Pid with equal fields', () => {
    const pid = new Pid('node-a', 1_700_000_000_000 * 1024 + 1023, 42)
    const out = roundTrip(pid)
    expect(out).toBeInstanceOf(Pid)
    expect(out).toStrictEqual(pid)
    expect((out as Pid).equals(pid)).toBe(true)
  })

  it('pids decoded again, and more pids than are kept, each come back as themselves', () => {
    // Same length, one byte apart; then more distinct pids than the decoder keeps, twice round.
    const pids = [
      new Pid('a', 1, 1),
      new Pid('a', 1, 2),
      new Pid('b', 1, 1),
      ...Array.from({ length: 6 }, (_, i) => new Pid(`n${i}`, 7, i)),
    ]
    for (let round = 0; round < 2; round++) {
      for (const pid of pids) expect(roundTrip({ to: pid, from: pids[0] })).toStrictEqual({ to: pid, from: pids[0] })
    }
  })

  it('nested mixes of all of these', () => {
    const value = {
      list: [new Pid('a', 1, 1), 2n ** 100n, new Date(42), new Uint8Array([7]), null],
      map: new Map<unknown, unknown>([[new Set([1n]), { deep: [new Map([[1, new Error('e')]])] }]]),
      set: new Set([new Map([['k', [new Set([new Pid('b', 2, 3)])]]])]),
      text: '日本語 🦄',
    }
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it('numbers: integers up to 2**53-1, floats, NaN and infinities', () => {
    for (const n of [
      0,
      1,
      -1,
      127,
      128,
      -32,
      -33,
      255,
      256,
      65_535,
      65_536,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 32,
      -(2 ** 32),
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      0.5,
      -0.1,
      Math.PI,
      1e300,
      -1e-300,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      Infinity,
      -Infinity,
      NaN,
    ]) {
      expect(roundTrip(n)).toBe(n)
    }
  })

  it('-0 becomes 0 (documented)', () => {
    expect(Object.is(roundTrip(-0), 0)).toBe(true)
  })

  it('strings, including unicode, empty and long', () => {
    for (const s of ['', 'a', 'héllo wörld', '日本語', '🦄👩‍👩‍👧', '\u0000', 'x'.repeat(70_000), '€'.repeat(40)]) {
      expect(roundTrip(s)).toBe(s)
    }
  })

  it('null and booleans survive; undefined becomes null (documented)', () => {
    expect(roundTrip(null)).toBe(null)
    expect(roundTrip(true)).toBe(true)
    expect(roundTrip(false)).toBe(false)
    expect(roundTrip(undefined)).toBe(null)
    expect(roundTrip([undefined, 1])).toStrictEqual([null, 1])
    expect(roundTrip({ a: undefined })).toStrictEqual({ a: null })
    expect(roundTrip(new Map([[undefined, undefined]]))).toStrictEqual(new Map([[null, null]]))
  })

  it('nesting up to the limit of 64 containers travels, in any mix of container kinds', () => {
    expect(roundTrip(nestedArrays(64))).toStrictEqual(nestedArrays(64))
    let mixed: unknown = new Pid('n', 1, 1)
    for (let i = 1; i < 64; i++) mixed = i % 3 === 0 ? new Map([[i, mixed]]) : i % 3 === 1 ? new Set([mixed]) : { k: mixed }
    expect(roundTrip(mixed)).toStrictEqual(mixed)
  })
})

describe('encodeValue refuses what cannot travel with EncodeError', () => {
  it('a function or a symbol, also deep inside a value', () => {
    expectEncodeError(() => 1, /function/)
    expectEncodeError(Symbol('s'), /symbol/)
    expectEncodeError({ a: [1, { f: () => 1 }] }, /function/)
    expectEncodeError(new Map([[Symbol('k'), 1]]), /symbol/)
    expectEncodeError(new Set([() => 1]), /function/)
  })

  it('cyclic objects, arrays, Maps and Sets', () => {
    const obj: Record<string, unknown> = {}
    obj.self = obj
    expectEncodeError(obj, /cyclic/)
    const arr: unknown[] = []
    arr.push(arr)
    expectEncodeError(arr, /cyclic/)
    const map = new Map<string, unknown>()
    map.set('self', map)
    expectEncodeError(map, /cyclic/)
    const set = new Set<unknown>()
    set.add([set])
    expectEncodeError(set, /cyclic/)
  })

  it('nesting beyond the depth limit, whatever the containers', () => {
    expectEncodeError(nestedArrays(65), /deeper than 64/)
    let maps: unknown = 1
    for (let i = 0; i < 65; i++) maps = new Map([[1, maps]])
    expectEncodeError(maps, /deeper than 64/)
    let sets: unknown = 1
    for (let i = 0; i < 65; i++) sets = new Set([sets])
    expectEncodeError(sets, /deeper than 64/)
    expectEncodeError(nestedArrays(64, new Pid('n', 1, 1)), /deeper than 64/)
    expectEncodeError(nestedArrays(64, new Error('e')), /deeper than 64/)
    // Leaves do not count: these stay within the limit.
    for (const leaf of [2n ** 100n, new Date(1), new Uint8Array([1]), 'x']) {
      expect(() => encodeValue(nestedArrays(64, leaf))).not.toThrow()
    }
  })

  it('values that would encode but could not decode on the other side', () => {
    expectEncodeError(new Date(NaN), /invalid Date/)
    expectEncodeError(2n ** 8192n, /BigInt/)
    expectEncodeError(-(2n ** 8192n), /BigInt/)
    expectEncodeError(JSON.parse('{"__proto__": 1}'), /__proto__/)
    expectEncodeError(new ArrayBuffer(4), /ArrayBuffer/)
    expectEncodeError(new ExtData(1, new Uint8Array([0xc0])), /ExtData/)
    expectEncodeError(new Pid('', 1, 1), /pid/)
    expectEncodeError(new Pid('n', -1, 1), /pid/)
    expectEncodeError(new Pid('n', 1, 1.5), /pid/)
  })
})

describe('decodeValue refuses malformed bytes', () => {
  const refuses = (bytes: Uint8Array, message: RegExp): void => {
    expect(() => decodeValue(bytes)).toThrow(message)
  }

  it('a pid extension with wrong arity or bad fields', () => {
    refuses(ext(1, encode(['n', 1])), /pid/)
    refuses(ext(1, encode(['n', 1, 2, 3])), /pid/)
    refuses(ext(1, encode(['', 1, 2])), /pid/)
    refuses(ext(1, encode(['n', -1, 2])), /pid/)
    refuses(ext(1, encode(['n', 1.5, 2])), /pid/)
    refuses(ext(1, encode(['n', 1, -2])), /pid/)
    refuses(ext(1, encode([1, 1, 2])), /pid/)
    refuses(ext(1, encode('n')), /extension 1/)
  })

  it('a bigint extension that is not a hex string', () => {
    refuses(ext(4, encode('xyz')), /bigint/)
    refuses(ext(4, encode('FF')), /bigint/)
    refuses(ext(4, encode('')), /bigint/)
    refuses(ext(4, encode('-')), /bigint/)
    refuses(ext(4, encode('1'.repeat(2049))), /bigint/)
    refuses(ext(4, encode(12)), /extension 4/)
    expect(decodeValue(ext(4, encode('-ff')))).toBe(-255n)
  })

  it('map, set and error extensions of the wrong shape', () => {
    refuses(ext(2, encode([1, 2, 3])), /map/)
    refuses(ext(2, encode({ a: 1 })), /extension 2/)
    refuses(ext(3, encode('abc')), /extension 3/)
    refuses(ext(5, encode(['Error'])), /error/)
    refuses(ext(5, encode([1, 'message'])), /error/)
    refuses(ext(5, encode(['Error', 'm', 'extra'])), /error/)
  })

  it('an extension with bytes after its content, or empty', () => {
    refuses(ext(3, new Uint8Array([0x90, 0xc0])), /trailing/)
    refuses(ext(3, new Uint8Array(0)), /extension 3/)
  })

  it('unknown extension types instead of handing out raw ExtData', () => {
    refuses(ext(42, new Uint8Array([1, 2])), /unknown extension type 42/)
    refuses(ext(0, new Uint8Array([0x90])), /unknown extension type 0/)
    refuses(ext(-2, new Uint8Array([1])), /unknown extension type -2/)
  })

  it('timestamps of a wrong size or beyond the range of Date', () => {
    refuses(ext(-1, new Uint8Array([0, 0, 0])), /timestamp/)
    const farFuture = new Uint8Array(12)
    new DataView(farFuture.buffer).setBigInt64(4, 2n ** 62n)
    refuses(ext(-1, farFuture), /timestamp/)
  })

  it('truncated data, trailing bytes and the never-used type byte', () => {
    const good = encodeValue({ a: [1, 'two', 3n] })
    for (let n = 0; n < good.length; n++) refuses(good.subarray(0, n), /truncated|items/)
    refuses(new Uint8Array([...good, 0]), /trailing/)
    refuses(new Uint8Array([0xc1]), /type byte 0xc1/)
  })

  it('nesting deeper than the limit, even through extensions', () => {
    expect(decodeValue(encodeValue(nestedArrays(64)))).toStrictEqual(nestedArrays(64))
    const tooDeep = new Uint8Array(66).fill(0x91)
    tooDeep[65] = 0xc0
    refuses(tooDeep, /deeper than 64/)
    let sets: Uint8Array = encode(null)
    for (let i = 0; i < 65; i++) sets = ext(3, new Uint8Array([0x91, ...sets]))
    refuses(sets, /deeper than 64/)
  })

  it('map keys msgpack cannot give to an object', () => {
    refuses(new Uint8Array([0x81, 0x90, 0x01]), /key/)
    refuses(new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01]), /__proto__/)
  })
})

describe('property: values round-trip deep-equal', () => {
  const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__')
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 20 }),
    fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.nat(), fc.nat()).map(([n, i, id]) => new Pid(n, i, id)),
    fc.tuple(fc.string(), fc.string()).map(([name, message]) => Object.assign(new Error(message), { name })),
  )
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 6 },
      leaf,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
      fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
      fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
    ),
  }))

  it('arbitrary JSON-like values with Maps, Sets, bigints, Dates, Uint8Arrays, Pids and Errors', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(roundTrip(v)).toStrictEqual(v)
      }),
      { numRuns: 1000 },
    )
  })

  it('what decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeValue(v)
        expect(encodeValue(decodeValue(bytes))).toStrictEqual(bytes)
      }),
      { numRuns: 300 },
    )
  })
})
