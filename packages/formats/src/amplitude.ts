import { createHash, randomUUID } from 'node:crypto'
import Type from 'typebox'
import type { Envelope } from '@sluice/contracts/envelope'
import { column, currencyCode, setCountry } from './native-event.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { parseMoney } from './money.js'
import { amplitudeExportInstant, epochMsInstant } from './time.js'

/**
 * Amplitude events — from the HTTP V2 / Batch API and from export archives — to the
 * envelope through one core (`amplitudeEnvelope`). Each input has a small adapter that
 * reads its own key names (`insert_id` vs `$insert_id`, `time` in ms vs `event_time`
 * text, top-level `revenue` vs `event_properties.$revenue`) into `AmplitudeFields`.
 */

export const AMPLITUDE_SOURCE = 'amplitude'

/** What both Amplitude inputs say about an event, in the core's terms. */
export interface AmplitudeFields {
  /** The dedupe key; one is generated when the input has none. */
  insertId: string | undefined
  eventType: string
  /** ISO-8601; the receive time when the input has none. */
  occurredAt: string | undefined
  userId: string | undefined
  deviceId: string | undefined
  /** Amplitude session ids are ms timestamps; -1 means none. */
  sessionId: number | undefined
  country: unknown
  city: unknown
  revenue: unknown
  currency: unknown
  campaign: unknown
  /** The rest of the event, as sent. */
  data: Record<string, unknown>
}

export function amplitudeEnvelope(f: AmplitudeFields, ctx: MapContext): Envelope {
  const envelope: Envelope = {
    event_id: f.insertId ?? randomUUID(),
    source: AMPLITUDE_SOURCE,
    event_type: f.eventType,
    occurred_at: f.occurredAt ?? ctx.receivedAt,
    received_at: ctx.receivedAt,
    request_id: ctx.requestId,
    data: f.data,
  }
  if (f.userId !== undefined) envelope.user_id = f.userId
  if (f.deviceId !== undefined) envelope.device_id = f.deviceId
  if (f.sessionId !== undefined && f.sessionId >= 0) envelope.session_id = String(f.sessionId)
  setCountry(envelope, f.country)
  const city = column(f.city)
  if (city) envelope.city = city
  const campaign = column(f.campaign)
  if (campaign) envelope.campaign_id = campaign
  const money = parseMoney(f.revenue)
  if (money) {
    envelope.revenue = money.amount
    const currency = currencyCode(f.currency) ?? money.currency
    if (currency) envelope.currency = currency
  }
  return envelope
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

function without(event: Record<string, unknown>, lifted: ReadonlySet<string>): Record<string, unknown> {
  const data: Record<string, unknown> = {}
  for (const key in event) if (!lifted.has(key)) data[key] = event[key]
  return data
}

/** A number, or a string holding one (export rows carry properties as the SDK got them). */
function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

function revenueOf(revenue: unknown, price: unknown, quantity: unknown): unknown {
  if (revenue !== undefined && revenue !== null) return revenue
  const p = numeric(price)
  if (p !== undefined) return p * (numeric(quantity) ?? 1)
  return undefined
}

// ---------------------------------------------------------------------------------------
// HTTP V2 / Batch API

/** Amplitude's 400 body members that list events by index (formats.md §2). */
export interface AmplitudeEventProblems {
  events_with_missing_fields: Record<string, number[]>
  events_with_invalid_fields: Record<string, number[]>
  events_with_invalid_id_lengths: Record<string, number[]>
}

export function emptyProblems(): AmplitudeEventProblems {
  return { events_with_missing_fields: {}, events_with_invalid_fields: {}, events_with_invalid_id_lengths: {} }
}

export function addProblem(problems: Record<string, number[]>, field: string, index: number): void {
  // defineProperty, not assignment: a field named "__proto__" must become a key, not a prototype.
  if (!Object.hasOwn(problems, field)) Object.defineProperty(problems, field, { value: [], enumerable: true, writable: true, configurable: true })
  const list = problems[field]!
  if (list[list.length - 1] !== index) list.push(index)
}

export function hasProblems(p: AmplitudeEventProblems): boolean {
  return Object.keys(p.events_with_missing_fields).length + Object.keys(p.events_with_invalid_fields).length + Object.keys(p.events_with_invalid_id_lengths).length > 0
}

const HTTP_LIFTED = new Set(['insert_id', 'event_type', 'user_id', 'device_id', 'time', 'session_id'])
const OBJECT_FIELDS = ['event_properties', 'user_properties', 'groups', 'group_properties'] as const
const NUMBER_FIELDS = ['revenue', 'price', 'location_lat', 'location_lng'] as const
const ALL_ZEROS = /^[0-]+$/
const MAX_ID = 256

/**
 * Checks one event of an HTTP V2 / Batch request the way Amplitude does, recording each
 * problem by field and index; returns its fields when it has none.
 */
export function amplitudeHttpFields(value: unknown, index: number, minIdLength: number, problems: AmplitudeEventProblems): AmplitudeFields | undefined {
  const e = record(value)
  if (!e) {
    addProblem(problems.events_with_invalid_fields, 'event', index)
    return undefined
  }
  let ok = true
  const invalid = (field: string) => {
    addProblem(problems.events_with_invalid_fields, field, index)
    ok = false
  }
  const eventType = e.event_type
  if (eventType === undefined || eventType === null || eventType === '') {
    addProblem(problems.events_with_missing_fields, 'event_type', index)
    ok = false
  } else if (typeof eventType !== 'string' || eventType.length > 128) invalid('event_type')

  const ids: Record<'user_id' | 'device_id', string | undefined> = { user_id: undefined, device_id: undefined }
  let idPresent = false
  for (const field of ['user_id', 'device_id'] as const) {
    const id = e[field]
    if (id === undefined || id === null || id === '') continue
    idPresent = true
    if (typeof id !== 'string' || id.length > MAX_ID || (field === 'device_id' && ALL_ZEROS.test(id))) invalid(field)
    else if (id.length < minIdLength) {
      addProblem(problems.events_with_invalid_id_lengths, field, index)
      ok = false
    } else ids[field] = id
  }
  if (!idPresent) {
    addProblem(problems.events_with_missing_fields, 'user_id', index)
    addProblem(problems.events_with_missing_fields, 'device_id', index)
    ok = false
  }

  let occurredAt: string | undefined
  if (e.time !== undefined && e.time !== null) {
    occurredAt = typeof e.time === 'number' ? epochMsInstant(e.time) : undefined
    if (occurredAt === undefined) invalid('time')
  }
  const insertId = e.insert_id
  if (insertId !== undefined && insertId !== null && (typeof insertId !== 'string' || insertId.length === 0 || insertId.length > 128)) invalid('insert_id')
  const sessionId = e.session_id
  if (sessionId !== undefined && sessionId !== null && !(typeof sessionId === 'number' && Number.isInteger(sessionId) && sessionId >= -1)) invalid('session_id')
  for (const field of OBJECT_FIELDS) if (e[field] !== undefined && e[field] !== null && !record(e[field])) invalid(field)
  for (const field of NUMBER_FIELDS) if (e[field] !== undefined && e[field] !== null && !(typeof e[field] === 'number' && Number.isFinite(e[field]))) invalid(field)
  if (e.quantity !== undefined && e.quantity !== null && !Number.isInteger(e.quantity)) invalid('quantity')
  if (!ok) return undefined

  const eventProperties = record(e.event_properties)
  const userProperties = record(e.user_properties)
  return {
    insertId: typeof insertId === 'string' ? insertId : undefined,
    eventType: eventType as string,
    occurredAt,
    userId: ids.user_id,
    deviceId: ids.device_id,
    sessionId: typeof sessionId === 'number' ? sessionId : undefined,
    country: e.country,
    city: e.city,
    revenue: revenueOf(e.revenue, e.price, e.quantity),
    currency: e.currency,
    campaign: eventProperties?.utm_campaign ?? userProperties?.utm_campaign,
    data: without(e, HTTP_LIFTED),
  }
}

/** For the OpenAPI document: the request as the official SDKs send it. */
export const AmplitudeRequest = Type.Object(
  {
    api_key: Type.String({ description: 'Your write key (any non-empty string when ingestion is open)' }),
    events: Type.Array(
      Type.Object(
        {
          event_type: Type.String(),
          user_id: Type.Optional(Type.String({ description: 'user_id or device_id is required; at least 5 characters (options.min_id_length)' })),
          device_id: Type.Optional(Type.String()),
          time: Type.Optional(Type.Integer({ description: 'ms since the epoch' })),
          insert_id: Type.Optional(Type.String({ description: 'The dedupe key' })),
          session_id: Type.Optional(Type.Integer({ description: 'ms since the epoch, -1 for none' })),
          event_properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          user_properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          country: Type.Optional(Type.String()),
          city: Type.Optional(Type.String()),
          revenue: Type.Optional(Type.Number()),
          price: Type.Optional(Type.Number()),
          quantity: Type.Optional(Type.Integer()),
        },
        { additionalProperties: true },
      ),
    ),
    options: Type.Optional(Type.Object({ min_id_length: Type.Optional(Type.Integer({ minimum: 1 })) })),
  },
  {
    examples: [
      {
        api_key: 'your-write-key',
        events: [
          {
            event_type: 'Song Played',
            user_id: 'user-00042',
            device_id: 'C8F9E604-F01A-4BD9-95C6-8E5357DF265D',
            time: 1763719200000,
            insert_id: '5f0adeff-6668-4427-8d02-57d803a2b841',
            session_id: 1763719100000,
            country: 'United States',
            city: 'San Francisco',
            event_properties: { genre: 'jazz' },
          },
        ],
      },
    ],
  },
)

// ---------------------------------------------------------------------------------------
// Export archives (formats.md §3): one JSON object per line.

const EXPORT_LIFTED = new Set(['$insert_id', 'event_type', 'event_time', 'user_id', 'device_id', 'session_id'])

/** An export row's fields, or the reason it cannot be an event. */
export function amplitudeExportFields(value: unknown): AmplitudeFields | { path: string; message: string } {
  const row = record(value)
  if (!row) return { path: '/', message: 'must be an object' }
  const eventType = row.event_type
  if (typeof eventType !== 'string' || eventType.length === 0 || eventType.length > 128) return { path: '/event_type', message: 'must be a string of 1 to 128 characters' }
  const givenId = typeof row.$insert_id === 'string' && row.$insert_id !== '' ? row.$insert_id : typeof row.uuid === 'string' && row.uuid !== '' ? row.uuid : undefined
  if (givenId !== undefined && givenId.length > 128) return { path: '/$insert_id', message: 'must be at most 128 characters' }
  const userId = column(row.user_id, MAX_ID)
  const deviceId = column(row.device_id, MAX_ID)
  if (userId === undefined && deviceId === undefined) return { path: '/user_id', message: 'user_id or device_id is required' }
  const time = row.event_time ?? row.client_event_time
  const occurredAt = typeof time === 'string' ? amplitudeExportInstant(time) : undefined
  if (occurredAt === undefined) return { path: '/event_time', message: 'must be a time like "2024-03-02 17:01:23.456000"' }
  // Without an id, one derived from the row itself: a re-import of the row dedupes.
  const insertId = givenId ?? `row:${createHash('sha256').update(JSON.stringify(row)).digest('base64url')}`
  const props = record(row.event_properties)
  const userProps = record(row.user_properties)
  return {
    insertId,
    eventType,
    occurredAt,
    userId,
    deviceId,
    sessionId: typeof row.session_id === 'number' && Number.isInteger(row.session_id) ? row.session_id : undefined,
    country: row.country,
    city: row.city,
    revenue: revenueOf(props?.$revenue, props?.$price, props?.$quantity),
    currency: props?.$currency,
    campaign: props?.utm_campaign ?? userProps?.utm_campaign,
    data: without(row, EXPORT_LIFTED),
  }
}

/** An export row to the envelope: the importer's entry point. */
export function mapAmplitudeExportRow(value: unknown, ctx: MapContext): Mapped {
  const fields = amplitudeExportFields(value)
  if ('path' in fields) return rejected([fields])
  return { ok: true, envelope: amplitudeEnvelope(fields, ctx) }
}
