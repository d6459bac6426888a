import { createHash, timingSafeEqual } from 'node:crypto'
import { SOURCE_PATTERN } from '@sluice/contracts/envelope'

/**
 * Write keys from configuration: `WRITE_KEYS="k1,k2:facebook|tiktok,k3:web:500"` — a key,
 * optionally the only sources it may send, optionally its own events-per-second limit.
 * A candidate is compared with every configured key through SHA-256 digests and
 * `timingSafeEqual`, without stopping at the first match, so the time taken says
 * nothing about how close a guess was. Keys are never logged; a key is known in logs and
 * metrics by its `id` (the first 6 characters of its digest).
 */

export interface WriteKey {
  /** A short, non-secret name for logs and rate-limit buckets. */
  id: string
  /** Sources this key may send; undefined = any. */
  sources: ReadonlySet<string> | undefined
  /** Events per second for this key; undefined = the configured default. */
  eventsPerSecond: number | undefined
}

export interface WriteKeyEntry extends WriteKey {
  digest: Buffer
}

const KEY = /^[A-Za-z0-9._~-]{8,256}$/
const SOURCE = new RegExp(SOURCE_PATTERN)

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

/** Parses WRITE_KEYS; throws naming the problem (never the key itself). */
export function parseWriteKeys(spec: string): WriteKeyEntry[] {
  const entries: WriteKeyEntry[] = []
  spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((item, n) => {
      const [key = '', sources = '', rate = '', ...extra] = item.split(':')
      const position = `entry ${n + 1}`
      if (!KEY.test(key)) throw new Error(`${position}: a key must be 8 to 256 characters of A-Z a-z 0-9 . _ ~ -`)
      if (extra.length > 0) throw new Error(`${position}: expected key[:sources[:events per second]]`)
      const list = sources ? sources.split('|').map((s) => s.trim()) : []
      for (const s of list) if (!SOURCE.test(s)) throw new Error(`${position}: "${s}" is not a source name`)
      const eventsPerSecond = rate ? Number(rate) : undefined
      if (eventsPerSecond !== undefined && !(Number.isInteger(eventsPerSecond) && eventsPerSecond >= 0)) throw new Error(`${position}: the rate must be a non-negative integer`)
      const d = digest(key)
      entries.push({ id: d.toString('hex').slice(0, 6), digest: d, sources: list.length ? new Set(list) : undefined, eventsPerSecond })
    })
  return entries
}

export class WriteKeys {
  private readonly entries: WriteKeyEntry[]

  constructor(spec: string) {
    this.entries = parseWriteKeys(spec)
  }

  /** No keys configured: anyone may send (the development default). */
  get open(): boolean {
    return this.entries.length === 0
  }

  get count(): number {
    return this.entries.length
  }

  /** Every source some key is limited to (for metric labels). */
  get sources(): string[] {
    return [...new Set(this.entries.flatMap((e) => (e.sources ? [...e.sources] : [])))]
  }

  /** The configured key equal to `candidate`, compared in constant time; undefined when none is. */
  verify(candidate: string | undefined): WriteKey | undefined {
    if (candidate === undefined || candidate.length === 0 || candidate.length > 1024) return undefined
    const d = digest(candidate)
    let found: WriteKeyEntry | undefined
    for (const entry of this.entries) {
      if (timingSafeEqual(d, entry.digest) && !found) found = entry
    }
    return found
  }
}
