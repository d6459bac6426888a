import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { Envelope } from '@sluice/contracts/envelope'
import { column, setCountry, setRevenue } from './native-event.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { schemaErrors } from './schema-errors.js'
import { isoInstant } from './time.js'

/**
 * Segment tracking API messages (formats.md §4) to the envelope. `messageId` is the
 * dedupe key; `userId` and `anonymousId` become user and device; the event name of a
 * track call is the event type, and page/screen calls become `page_view`/`screen_view`.
 */

export const SEGMENT_SOURCE = 'segment'
export const SEGMENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const
export type SegmentType = (typeof SEGMENT_TYPES)[number]

const Props = Type.Record(Type.String(), Type.Unknown())
const Id = Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Number()])

export const SegmentMessage = Type.Object(
  {
    type: Type.Enum([...SEGMENT_TYPES], { description: 'Implied by the route for /v1/track, /v1/page, /v1/screen, /v1/identify' }),
    messageId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The dedupe key' })),
    userId: Type.Optional(Type.Union([Id, Type.Null()])),
    anonymousId: Type.Optional(Type.Union([Id, Type.Null()])),
    event: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Required for track' })),
    name: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
    properties: Type.Optional(Props),
    traits: Type.Optional(Props),
    context: Type.Optional(Props),
    integrations: Type.Optional(Props),
    timestamp: Type.Optional(Type.String({ format: 'date-time' })),
    originalTimestamp: Type.Optional(Type.String({ format: 'date-time' })),
    groupId: Type.Optional(Type.Union([Id, Type.Null()])),
    previousId: Type.Optional(Type.Union([Id, Type.Null()])),
  },
  { $id: 'SegmentMessage' },
)
export type SegmentMessage = Static<typeof SegmentMessage>

const validator = Compile(SegmentMessage)

export const SegmentBatch = Type.Object(
  {
    batch: Type.Array(SegmentMessage),
    writeKey: Type.Optional(Type.String({ description: 'Or HTTP Basic auth with the key as user name' })),
    sentAt: Type.Optional(Type.String()),
    context: Type.Optional(Props),
    integrations: Type.Optional(Props),
  },
  {
    examples: [
      {
        writeKey: 'your-write-key',
        batch: [
          {
            type: 'track',
            messageId: 'node-next-1763719200000-3f0c9e1a',
            userId: 'user-42',
            event: 'Order Completed',
            properties: { revenue: 42.5, currency: 'EUR' },
            context: { location: { country: 'France', city: 'Paris' } },
            timestamp: '2026-11-21T10:00:00.000Z',
          },
          { type: 'page', messageId: 'node-next-1763719200100-77aa', anonymousId: 'anon-9', name: 'Pricing', timestamp: '2026-11-21T10:00:01.000Z' },
        ],
      },
    ],
  },
)

const LIFTED = new Set(['messageId', 'userId', 'anonymousId', 'timestamp', 'event', 'writeKey'])

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

function idText(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : column(value)
}

function eventType(m: SegmentMessage): string {
  switch (m.type) {
    case 'track':
      return m.event!
    case 'page':
      return 'page_view'
    case 'screen':
      return 'screen_view'
    default:
      return m.type
  }
}

/**
 * One message; `impliedType` is the type a single-call route gives (`/v1/track` → track)
 * when the body does not say. A batch-level context is merged under the message's own.
 */
export function mapSegmentMessage(item: unknown, ctx: MapContext, impliedType?: SegmentType, batchContext?: Record<string, unknown>): Mapped {
  let value = item
  const obj = record(item)
  if (obj && impliedType && obj.type === undefined) value = { ...obj, type: impliedType }
  if (!validator.Check(value)) return rejected(schemaErrors(validator, value))
  const m = value
  const userId = idText(m.userId)
  const anonymousId = idText(m.anonymousId)
  if (userId === undefined && anonymousId === undefined) return rejected([{ path: '/userId', message: 'userId or anonymousId is required' }])
  if (m.type === 'track' && m.event === undefined) return rejected([{ path: '/event', message: 'is required for a track call' }])
  const when = m.timestamp ?? m.originalTimestamp
  const occurredAt = when === undefined ? ctx.receivedAt : isoInstant(when)
  if (occurredAt === undefined) return rejected([{ path: '/timestamp', message: 'is not a representable instant' }])

  const data: Record<string, unknown> = {}
  for (const key in m) if (!LIFTED.has(key)) data[key] = (m as Record<string, unknown>)[key]
  if (batchContext && data.context === undefined) data.context = batchContext

  const envelope: Envelope = {
    event_id: m.messageId ?? randomUUID(),
    source: SEGMENT_SOURCE,
    event_type: eventType(m),
    occurred_at: occurredAt,
    received_at: ctx.receivedAt,
    request_id: ctx.requestId,
    data,
  }
  if (userId !== undefined) envelope.user_id = userId
  if (anonymousId !== undefined) envelope.device_id = anonymousId
  const context = record(data.context)
  const location = record(context?.location)
  if (location) {
    setCountry(envelope, location.country)
    const city = column(location.city)
    if (city) envelope.city = city
  }
  const campaign = column(record(context?.campaign)?.name)
  if (campaign) envelope.campaign_id = campaign
  const sessionId = idText(context?.sessionId)
  if (sessionId) envelope.session_id = sessionId
  const props = m.properties
  if (props) {
    const amount = props.revenue ?? props.total
    if (amount !== undefined) setRevenue(envelope, amount, props.currency)
  }
  return { ok: true, envelope }
}

/** The messageId of a rejected message, when usable. */
export function segmentMessageId(item: unknown): string | null {
  const id = record(item)?.messageId
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null
}
