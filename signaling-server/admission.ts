/**
 * Who may connect, so that no single address can lock everyone else out: at most
 * `maxConnections` sockets in all (counting those still being admitted) and at most
 * `maxConnectionsPerAddress` from one address. Measured before this existed: one address
 * opening 1,000 idle WebSockets filled the server, and no node could join any more.
 *
 * Behind a reverse proxy every socket comes from the proxy: with `trustProxy` the address
 * is the one the proxy appended to `X-Forwarded-For` (its last entry). Without it the header
 * is ignored — a client could write anything there.
 */
import type { IncomingMessage } from 'node:http'

/** Why a connection was refused. */
export type Refusal = 'too many connections' | 'too many connections from one address'

/** Connection slots, in all and per address. */
export class Admission {
  private readonly perAddress = new Map<string, number>()
  private total = 0

  constructor(private readonly limits: { readonly maxConnections: number; readonly maxConnectionsPerAddress: number }) {}

  /** Connections held now. */
  get size(): number {
    return this.total
  }

  /** Takes a slot for a connection from `address`, or says why there is none. Every slot taken is released once. */
  take(address: string): Refusal | undefined {
    if (this.total >= this.limits.maxConnections) return 'too many connections'
    const held = this.perAddress.get(address) ?? 0
    if (held >= this.limits.maxConnectionsPerAddress) return 'too many connections from one address'
    this.perAddress.set(address, held + 1)
    this.total++
    return undefined
  }

  /** Gives back a slot of `address`. */
  release(address: string): void {
    const held = this.perAddress.get(address)
    if (held === undefined) return
    this.total--
    if (held <= 1) this.perAddress.delete(address)
    else this.perAddress.set(address, held - 1)
  }
}

/** The address a request comes from: the socket's, or with `trustProxy` what the proxy says it is. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const direct = req.socket.remoteAddress ?? 'unknown'
  if (!trustProxy) return direct
  const header = req.headers['x-forwarded-for']
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')
  const last = forwarded[forwarded.length - 1]?.trim()
  return last === undefined || last === '' ? direct : last
}
