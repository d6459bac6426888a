import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'

/**
 * The one shape every accepted event takes on the stream and in the `events` table
 * (design.md §2). Keys are the column names, so the worker maps by position without
 * renaming. Optional keys are omitted rather than sent as null to keep messages small.
 */
const Text = (maxLength: number, description: string) => Type.String({ maxLength, description })

export const SOURCE_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'

export const Envelope = Type.Object(
  {
    event_id: Type.String({ minLength: 1, maxLength: 128, description: "The client's id; the dedupe key together with source" }),
    source: Type.String({ pattern: SOURCE_PATTERN, description: 'facebook, tiktok, web, ios, android, server, amplitude, segment, marketplace, …' }),
    event_type: Type.String({ minLength: 1, maxLength: 128, description: 'e.g. ad.click, page_view, job.posted' }),
    funnel_stage: Type.Optional(Text(32, 'top / bottom / … where the input has one')),
    occurred_at: Type.String({ format: 'date-time', description: 'When it happened (client time), ISO-8601' }),
    received_at: Type.String({ format: 'date-time', description: 'When ingestion accepted it, ISO-8601' }),
    user_id: Type.Optional(Text(256, 'User identity')),
    session_id: Type.Optional(Text(256, 'Session identity')),
    device_id: Type.Optional(Text(256, 'Device identity')),
    country: Type.Optional(Text(64, 'ISO 3166-1 alpha-2 where it could be mapped')),
    city: Type.Optional(Text(256, 'City name')),
    campaign_id: Type.Optional(Text(256, 'Marketing campaign')),
    provider_id: Type.Optional(Text(256, 'Marketplace provider')),
    job_id: Type.Optional(Text(256, 'Marketplace job')),
    category: Type.Optional(Text(256, 'Marketplace category')),
    revenue: Type.Optional(Type.Number({ description: 'Money as a number' })),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' })),
    request_id: Type.Optional(Text(128, 'Ingestion request that accepted the event')),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'The rest of the payload, as sent' }),
  },
  { additionalProperties: false, $id: 'Envelope' },
)

export type Envelope = Static<typeof Envelope>

export const envelopeValidator = Compile(Envelope)

/** Column order shared by the worker's COPY and the staging table. */
export const ENVELOPE_COLUMNS = [
  'event_id',
  'source',
  'event_type',
  'funnel_stage',
  'occurred_at',
  'received_at',
  'user_id',
  'session_id',
  'device_id',
  'country',
  'city',
  'campaign_id',
  'provider_id',
  'job_id',
  'category',
  'revenue',
  'currency',
  'request_id',
  'data',
] as const satisfies readonly (keyof Envelope)[]

/** The JetStream message id: JetStream drops a re-send with the same id inside its window. */
export function dedupeKey(source: string, eventId: string): string {
  return `${source}:${eventId}`
}
