/** The direct topic a node is reached on (src/signaling/direct-topic.ts): every version must agree on it. */
import { describe, expect, it } from 'vitest'
import { directTopic, fnv1a64 } from '../src/signaling/direct-topic.js'
import { Random } from './fixtures/seeded-random.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** FNV-1a as its definition says, in BigInt: what the limbs must equal. */
function reference(bytes: Uint8Array): bigint {
  let hash = 0xcbf29ce484222325n
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn
  return hash
}

describe('directTopic', () => {
  it('hashes with 64-bit FNV-1a: the published test vectors', () => {
    expect(fnv1a64(utf8('')).toString(16)).toBe('cbf29ce484222325')
    expect(fnv1a64(utf8('a')).toString(16)).toBe('af63dc4c8601ec8c')
    expect(fnv1a64(utf8('foobar')).toString(16)).toBe('85944171f73967e8')
  })

  it('agrees with the BigInt definition on any bytes', () => {
    const random = new Random(1)
    for (let i = 0; i < 2000; i++) {
      const input = Uint8Array.from({ length: random.int(100) }, () => random.int(256))
      expect(fnv1a64(input)).toBe(reference(input))
    }
  })

  it('names the topic as nodes of protocols 5 and 6 do', () => {
    expect(directTopic('room', { nodeId: 'a', incarnation: 1 })).toBe('distribunator:mrinkwmvt7oi')
  })
})
