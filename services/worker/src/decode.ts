import { envelopeValidator, type Envelope } from '@sluice/contracts/envelope'
import { memberSpan } from './raw-member.js'

/**
 * A message's bytes → an envelope and the JSON text of its `data`, or the reason it
 * can never be stored. Only these two failures are decided here; values PostgreSQL
 * cannot hold are found by PostgreSQL (store.ts).
 *
 * `data` is not parsed: it is cut out of the text as sent (raw-member.ts) and the rest
 * of the envelope is parsed with `{}` in its place. PostgreSQL then reads `data` as
 * jsonb, which checks it is JSON (a malformed `data` is rejected there, and
 * dead-lettered). That keeps the payload exact and saves the worker building, then
 * collecting, an object tree per event that it would only serialise again.
 */
export type Decoded =
  | { ok: true; envelope: Envelope; data: string }
  | { ok: false; reason: 'invalid_json' | 'invalid_envelope'; error: string; envelope?: Partial<Envelope> }

const utf8 = new TextDecoder('utf-8', { fatal: true })
const OPEN_BRACE = 0x7b

const TEXT_FIELDS = ['event_id', 'source', 'event_type', 'funnel_stage', 'user_id', 'session_id', 'device_id', 'country', 'city', 'campaign_id', 'provider_id', 'job_id', 'category', 'currency', 'request_id'] as const

// ES2024, in Node since 20; lib ES2023 does not declare it.
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed()

function envelopeErrors(value: unknown): string {
  return envelopeValidator
    .Errors(value)
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ')
}

export function decode(bytes: Uint8Array): Decoded {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { ok: false, reason: 'invalid_json', error: 'the message is not UTF-8' }
  }
  // When data is an object, parse everything but it; otherwise parse it all, so the
  // envelope check reports what data is.
  const span = memberSpan(text, 'data')
  const head = span && text.charCodeAt(span[0]) === OPEN_BRACE ? `${text.slice(0, span[0])}{}${text.slice(span[1])}` : text
  let value: unknown
  try {
    value = JSON.parse(head)
  } catch (err) {
    return { ok: false, reason: 'invalid_json', error: (err as Error).message }
  }
  if (!envelopeValidator.Check(value)) {
    const partial = typeof value === 'object' && value !== null ? (value as Partial<Envelope>) : undefined
    return { ok: false, reason: 'invalid_envelope', error: envelopeErrors(value), ...(partial ? { envelope: partial } : {}) }
  }
  // A lone surrogate (JSON "\\ud800") would reach PostgreSQL as U+FFFD: a silent change.
  // Only an escape can make one, so most messages skip the check.
  if (head.includes('\\u')) {
    for (const field of TEXT_FIELDS) {
      const v = value[field]
      if (v !== undefined && !isWellFormed(v)) return { ok: false, reason: 'invalid_envelope', error: `/${field} is not valid Unicode (lone surrogate)`, envelope: value }
    }
  }
  return { ok: true, envelope: value, data: head === text ? JSON.stringify(value.data) : text.slice(span![0], span![1]) }
}
