import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { SOURCE_PATTERN, type Envelope } from '@sluice/contracts/envelope'
import { countryCode } from './country.js'
import { escapePointer } from './inspect.js'
import { rejected, type FieldError, type MapContext, type Mapped } from './mapped.js'
import { parseMoney } from './money.js'
import { isoInstant } from './time.js'

export const nativeExample = {
  eventId: 'evt-0001',
  timestamp: '2026-11-21T10:00:00.000Z',
  source: 'web',
  eventType: 'page_view',
  userId: 'user-42',
  sessionId: 'sess-7',
  data: { path: '/pricing', country: 'Germany' },
}

/**
 * The native event format (design.md §3): what Sluice's own clients send. Event types
 * without a schema of their own are checked against this one only; their `data` is free.
 */
export const NativeEvent = Type.Object(
  {
    eventId: Type.String({ minLength: 1, maxLength: 128, description: 'Client-generated id; re-sending the same id stores the event once' }),
    timestamp: Type.String({ format: 'date-time', description: 'When the event happened, ISO-8601' }),
    source: Type.String({ pattern: SOURCE_PATTERN, description: 'Where it comes from: web, ios, android, server, facebook, tiktok, marketplace, …' }),
    eventType: Type.String({ minLength: 1, maxLength: 128, description: 'e.g. page_view, ad.click, job.posted' }),
    funnelStage: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    userId: Type.Optional(Type.String({ maxLength: 256 })),
    sessionId: Type.Optional(Type.String({ maxLength: 256 })),
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'Free-form properties. deviceId, country (a name or ISO code), city, campaignId, providerId, jobId, category, revenue and currency, when present, also fill the envelope columns of the same meaning',
      }),
    ),
  },
  {
    $id: 'NativeEvent',
    description:
      'Members besides these are kept in data, as if sent there (an event type without a schema of its own also fills columns from them); a member sent both here and in data is rejected',
    examples: [nativeExample],
  },
)

export type NativeEvent = Static<typeof NativeEvent>

export const nativeEventValidator = Compile(NativeEvent)

/** A string short enough for an envelope column, else undefined (the value stays in data). */
export function column(value: unknown, maxLength = 256): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength ? value : undefined
}

const CURRENCY = /^[A-Z]{3}$/

/** ISO 4217 code in any case, upper-cased; undefined when it is not one. */
export function currencyCode(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length !== 3) return undefined
  const upper = value.toUpperCase()
  return CURRENCY.test(upper) ? upper : undefined
}

/** Sets the envelope's country from a name or code; unmapped names stay only in data. */
export function setCountry(envelope: Envelope, raw: unknown): void {
  if (typeof raw !== 'string') return
  const code = countryCode(raw)
  if (code) envelope.country = code
}

/** Sets revenue (and currency, when given or named by the money string). */
export function setRevenue(envelope: Envelope, amount: unknown, currency?: unknown): void {
  const money = parseMoney(amount)
  if (!money) return
  envelope.revenue = money.amount
  const code = currencyCode(currency) ?? money.currency
  if (code) envelope.currency = code
}

/** The members of the native frame, from its schema; any other member of an event is kept in its data. */
const FRAME = new Set(Object.keys(NativeEvent.properties))

/**
 * The event's data with the members outside the native frame added, so nothing sent is
 * dropped (the envelope's data is "the rest of the payload, as sent"). A member both
 * outside and inside data is ambiguous: an error naming it.
 */
function dataWithExtras(e: NativeEvent): { data: Record<string, unknown> } | { error: FieldError } {
  const data = e.data ?? {}
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(e)) {
    if (FRAME.has(key)) continue
    if (Object.hasOwn(data, key)) return { error: { path: `/${escapePointer(key)}`, message: 'is also in data: send it in one place' } }
    out ??= { ...data }
    out[key] = (e as Record<string, unknown>)[key]
  }
  return { data: out ?? data }
}

/**
 * The envelope of a native event already checked against its schema: the top-level
 * fields, and data with the members outside the frame added (dataWithExtras). Rejects a
 * timestamp the date-time format let through but no Date can hold, and a member sent
 * both at the top and in data.
 */
export function nativeEnvelope(e: NativeEvent, ctx: MapContext): Mapped {
  const occurredAt = isoInstant(e.timestamp)
  if (occurredAt === undefined) return rejected([INVALID_TIMESTAMP])
  const merged = dataWithExtras(e)
  if ('error' in merged) return rejected([merged.error])
  const envelope: Envelope = {
    event_id: e.eventId,
    source: e.source,
    event_type: e.eventType,
    occurred_at: occurredAt,
    received_at: ctx.receivedAt,
    request_id: ctx.requestId,
    data: merged.data,
  }
  if (e.funnelStage !== undefined) envelope.funnel_stage = e.funnelStage
  if (e.userId !== undefined) envelope.user_id = e.userId
  if (e.sessionId !== undefined) envelope.session_id = e.sessionId
  return { ok: true, envelope }
}

/** Fills the columns a generic event may carry in `data` (camelCase keys). */
export function liftDataColumns(envelope: Envelope, data: Record<string, unknown>): void {
  const deviceId = column(data.deviceId)
  if (deviceId) envelope.device_id = deviceId
  setCountry(envelope, data.country)
  const city = column(data.city)
  if (city) envelope.city = city
  const campaignId = column(data.campaignId)
  if (campaignId) envelope.campaign_id = campaignId
  const providerId = column(data.providerId)
  if (providerId) envelope.provider_id = providerId
  const jobId = column(data.jobId)
  if (jobId) envelope.job_id = jobId
  const category = column(data.category)
  if (category) envelope.category = category
  if (data.revenue !== undefined) setRevenue(envelope, data.revenue, data.currency)
}

export const INVALID_TIMESTAMP = { path: '/timestamp', message: 'is not a representable instant' }
