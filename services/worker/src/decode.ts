import { envelopeValidator, type Envelope } from '@sluice/contracts/envelope'
import { rawMember } from './raw-member.js'

/**
 * A message's bytes → an envelope and the JSON text of its `data`, or the reason it
 * can never be stored. Only these two failures are decided here; values PostgreSQL
 * cannot hold are found by PostgreSQL (store.ts).
 */
export type Decoded =
  | { ok: true; envelope: Envelope; data: string }
  | { ok: false; reason: 'invalid_json' | 'invalid_envelope'; error: string; envelope?: Partial<Envelope> }

const utf8 = new TextDecoder('utf-8', { fatal: true })

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
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: 'invalid_json', error: (err as Error).message }
  }
  if (!envelopeValidator.Check(value)) {
    const partial = typeof value === 'object' && value !== null ? (value as Partial<Envelope>) : undefined
    return { ok: false, reason: 'invalid_envelope', error: envelopeErrors(value), ...(partial ? { envelope: partial } : {}) }
  }
  // A lone surrogate (JSON "\ud800") would reach PostgreSQL as U+FFFD: a silent change.
  // Only an escape can make one, so most messages skip the check.
  if (text.includes('\\u')) for (const field of TEXT_FIELDS) {
    const v = value[field]
    if (v !== undefined && !isWellFormed(v)) return { ok: false, reason: 'invalid_envelope', error: `/${field} is not valid Unicode (lone surrogate)`, envelope: value }
  }
  return { ok: true, envelope: value, data: rawMember(text, 'data') ?? JSON.stringify(value.data) }
}
