import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { column, nativeEnvelope, setRevenue, type NativeEvent } from './native-event.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { schemaErrors } from './schema-errors.js'

/**
 * The trades marketplace's events (design.md §6): native events whose `data` has the
 * keys below, camelCase. They are recognised by event type, so the marketplace's web
 * and app clients may send them under their own source.
 */

const Id = Type.String({ minLength: 1, maxLength: 256 })
const Text = Type.String({ maxLength: 1024 })
const Amount = Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: '^\\s*\\d{1,15}(\\.\\d{1,6})?\\s*$' })], {
  description: 'A non-negative number or numeric string',
})
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' })
const Position = Type.Integer({ minimum: 0, description: 'Rank in the result list' })

function data<P extends Record<string, TSchema>>(properties: P) {
  return Type.Object(properties)
}

export const MarketplaceData = {
  'job.posted': data({ jobId: Id, category: Id, city: Type.Optional(Id), budget: Type.Optional(Amount), currency: Type.Optional(Currency), customerId: Type.Optional(Id) }),
  'bid.placed': data({ jobId: Id, providerId: Id, amount: Amount, currency: Type.Optional(Currency) }),
  'quote.sent': data({ jobId: Id, providerId: Id, amount: Amount, currency: Type.Optional(Currency) }),
  'job.assigned': data({ jobId: Id, providerId: Id }),
  'job.completed': data({ jobId: Id, providerId: Id }),
  'job.cancelled': data({ jobId: Id, reason: Type.Optional(Text) }),
  'payment.captured': data({ jobId: Id, amount: Amount, currency: Currency, providerId: Type.Optional(Id) }),
  'feedback.submitted': data({ jobId: Id, providerId: Id, rating: Type.Integer({ minimum: 1, maximum: 5 }), comment: Type.Optional(Text) }),
  'provider.impression': data({ providerId: Id, position: Position, category: Type.Optional(Id), city: Type.Optional(Id), query: Type.Optional(Text) }),
  'provider.click': data({ providerId: Id, position: Type.Optional(Position), category: Type.Optional(Id), city: Type.Optional(Id), query: Type.Optional(Text) }),
} as const

export type MarketplaceEventType = keyof typeof MarketplaceData
export const MARKETPLACE_EVENT_TYPES = Object.keys(MarketplaceData) as MarketplaceEventType[]

const validators = new Map(Object.entries(MarketplaceData).map(([type, schema]) => [type, Compile(Type.Object({ data: schema }))]))

export function isMarketplaceEventType(eventType: string): eventType is MarketplaceEventType {
  return validators.has(eventType)
}

export const marketplaceExamples = [
  {
    eventId: 'mp-job-1001',
    timestamp: '2026-11-21T10:00:00.000Z',
    source: 'marketplace',
    eventType: 'job.posted',
    userId: 'cust-5',
    data: { jobId: 'job-1001', category: 'plumbing', city: 'Leeds', budget: '250', currency: 'GBP', customerId: 'cust-5' },
  },
  {
    eventId: 'mp-bid-2001',
    timestamp: '2026-11-21T10:03:00.000Z',
    source: 'marketplace',
    eventType: 'bid.placed',
    data: { jobId: 'job-1001', providerId: 'pro-17', amount: 230, currency: 'GBP' },
  },
  {
    eventId: 'mp-pay-3001',
    timestamp: '2026-11-22T16:00:00.000Z',
    source: 'marketplace',
    eventType: 'payment.captured',
    data: { jobId: 'job-1001', providerId: 'pro-17', amount: '230.00', currency: 'GBP' },
  },
]

/** Maps a native event (already checked against NativeEvent) whose type is a marketplace type. */
export function mapMarketplaceEvent(e: NativeEvent, eventType: MarketplaceEventType, ctx: MapContext): Mapped {
  const validator = validators.get(eventType)!
  if (!validator.Check(e)) return rejected(schemaErrors(validator, e))
  const mapped = nativeEnvelope(e, ctx)
  if (!mapped.ok) return mapped
  const envelope = mapped.envelope
  const d = e.data as Record<string, unknown>
  const jobId = column(d.jobId)
  if (jobId) envelope.job_id = jobId
  const providerId = column(d.providerId)
  if (providerId) envelope.provider_id = providerId
  const category = column(d.category)
  if (category) envelope.category = category
  const city = column(d.city)
  if (city) envelope.city = city
  if (envelope.user_id === undefined) {
    const customerId = column(d.customerId)
    if (customerId) envelope.user_id = customerId
  }
  if (eventType === 'payment.captured') setRevenue(envelope, d.amount, d.currency)
  return mapped
}
