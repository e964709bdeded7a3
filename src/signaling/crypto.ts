/**
 * End-to-end encryption of signaling payloads with the room password, the way y-webrtc
 * does it: PBKDF2 (SHA-256, 100 000 iterations, the room name as salt) turns the password
 * into an AES-GCM 256 key, and every payload gets a fresh random 12-byte IV.
 *
 * Sealed form (a string, so it fits in the `data` field of a JSON publish):
 *
 *   base64( iv[12] ‖ AES-GCM( utf8(JSON.stringify(value)) ) )    — the GCM tag ends the ciphertext
 *
 * This differs from y-webrtc's lib0 envelope on purpose: the plaintext is the same JSON a
 * room without password carries, so both modes accept exactly the same values. Only
 * WebCrypto, `btoa`/`atob` and `TextEncoder` are used: no `Buffer`, so the module runs
 * unchanged in browsers, Web Workers and Node (lib0's base64 falls back to `Buffer` in a
 * worker, hence our own).
 */
import { DistribunatorError, ProtocolError } from '../errors.js'
import { toJson } from './protocol.js'

const PBKDF2_ITERATIONS = 100_000
const IV_BYTES = 12
const TAG_BYTES = 16

/** A sealed payload could not be opened: wrong password, tampering, or not ciphertext at all. */
export class DecryptionError extends ProtocolError {
  override name = 'DecryptionError'
}

/** Derives the AES-GCM key of a room from its password (slow on purpose: tens of ms). Throws at once without WebCrypto. */
export function deriveKey(password: string, room: string): Promise<CryptoKey> {
  const subtle = webCrypto()
  return subtle
    .importKey('raw', utf8.encode(password), 'PBKDF2', false, ['deriveKey'])
    .then((material) =>
      subtle.deriveKey(
        { name: 'PBKDF2', salt: utf8.encode(room), iterations: PBKDF2_ITERATIONS, hash: 'SHA-256' },
        material,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      ),
    )
}

/**
 * Seals a JSON-serialisable value. It is serialised before this returns (later mutation
 * does not leak in); an unserialisable value throws `EncodeError` synchronously.
 */
export function encryptJson(value: unknown, key: CryptoKey): Promise<string> {
  return encryptText(toJson(value), key)
}

/** Seals a string (already serialised JSON, for callers that snapshot early). */
export async function encryptText(text: string, key: CryptoKey): Promise<string> {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const cipher = new Uint8Array(await webCrypto().encrypt({ name: 'AES-GCM', iv }, key, utf8.encode(text)))
  const sealed = new Uint8Array(IV_BYTES + cipher.length)
  sealed.set(iv)
  sealed.set(cipher, IV_BYTES)
  return toBase64(sealed)
}

/** Opens a sealed payload; throws `DecryptionError` for a wrong key, tampering or garbage. */
export async function decryptJson(data: string, key: CryptoKey): Promise<unknown> {
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = fromBase64(data)
  } catch (error) {
    throw new DecryptionError('sealed payload is not base64', undefined, { cause: error })
  }
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new DecryptionError('sealed payload is too short')
  let plain: ArrayBuffer
  try {
    plain = await webCrypto().decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES) }, key, bytes.subarray(IV_BYTES))
  } catch (error) {
    throw new DecryptionError('payload does not decrypt: wrong password or tampered', undefined, { cause: error })
  }
  try {
    return JSON.parse(strictUtf8.decode(plain)) as unknown
  } catch (error) {
    throw new DecryptionError('decrypted payload is not JSON', undefined, { cause: error })
  }
}

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** WebCrypto, or a clear error where browsers withhold it (pages not served over https). */
function webCrypto(): SubtleCrypto {
  const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined
  if (subtle === undefined) {
    throw new DistribunatorError('a room password needs WebCrypto (crypto.subtle): serve the page over https or from localhost')
  }
  return subtle
}

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  // In chunks: one call per byte is slow, one call for all overflows the argument stack.
  for (let i = 0; i < bytes.length; i += 0x1000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x1000) as unknown as number[])
  }
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
