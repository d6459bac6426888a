import { createHash } from 'node:crypto'
import { Match, type MsgHdrs } from '@nats-io/transport-node'

/**
 * The two headers every event message carries — `Nats-Msg-Id` (JetStream's dedupe key)
 * and the request id — encoded in one step. The client's general `headers()` validates
 * and re-encodes each header through a Map per message, a visible share of the CPU at
 * tens of thousands of messages a second; this class implements the same `MsgHdrs`
 * interface for a fixed pair and encodes it once.
 */

/** Control characters (CR/LF would break the protocol), or edge spaces the client would trim away. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /^ | $|[\u0000-\u001f\u007f]/

/**
 * A message id safe to put in a header: an event id with control characters or edge
 * spaces is replaced by a digest of itself, so it still dedupes.
 */
export function safeMsgId(msgId: string): string {
  return UNSAFE.test(msgId) ? `sha256:${createHash('sha256').update(msgId).digest('hex')}` : msgId
}

export class PublishHeaders implements MsgHdrs {
  hasError = false
  status = ''
  code = 0
  description = ''

  constructor(
    /** Undefined: no `Nats-Msg-Id` (JetStream does not dedupe the message). */
    private readonly msgId: string | undefined,
    private readonly requestIdHeader: string,
    private readonly requestId: string,
  ) {}

  /** Called by the client when it writes the message (not part of the MsgHdrs interface). */
  encode(): Uint8Array {
    const id = this.msgId === undefined ? '' : `Nats-Msg-Id: ${this.msgId}\r\n`
    return Buffer.from(`NATS/1.0\r\n${id}${this.requestIdHeader}: ${this.requestId}\r\n\r\n`)
  }

  private entries(): [string, string[]][] {
    const entries: [string, string[]][] = [[this.requestIdHeader, [this.requestId]]]
    if (this.msgId !== undefined) entries.unshift(['Nats-Msg-Id', [this.msgId]])
    return entries
  }

  [Symbol.iterator]() {
    return this.entries()[Symbol.iterator]()
  }

  get(k: string, match: Match = Match.Exact): string {
    return this.values(k, match)[0] ?? ''
  }

  last(k: string, match: Match = Match.Exact): string {
    return this.get(k, match)
  }

  has(k: string, match: Match = Match.Exact): boolean {
    return this.values(k, match).length > 0
  }

  keys(): string[] {
    return this.entries().map(([k]) => k)
  }

  values(k: string, match: Match = Match.Exact): string[] {
    const same = (a: string) => (match === Match.Exact ? a === k : a.toLowerCase() === k.toLowerCase())
    return this.entries().find(([key]) => same(key))?.[1] ?? []
  }

  set(): void {
    throw new Error('PublishHeaders are fixed')
  }

  append(): void {
    throw new Error('PublishHeaders are fixed')
  }

  delete(): void {
    throw new Error('PublishHeaders are fixed')
  }
}
