import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { SOURCE_PATTERN, type Envelope } from '@sluice/contracts/envelope'

/** The native event format (design.md §3): what Sluice's own clients send. */
export const NativeEvent = Type.Object(
  {
    eventId: Type.String({ minLength: 1, maxLength: 128, description: 'Client-generated id; re-sending the same id stores the event once' }),
    timestamp: Type.String({ format: 'date-time', description: 'When the event happened, ISO-8601' }),
    source: Type.String({ pattern: SOURCE_PATTERN, description: 'Where it comes from: web, ios, android, server, facebook, tiktok, marketplace, …' }),
    eventType: Type.String({ minLength: 1, maxLength: 128, description: 'e.g. page_view, ad.click, job.posted' }),
    funnelStage: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    userId: Type.Optional(Type.String({ maxLength: 256 })),
    sessionId: Type.Optional(Type.String({ maxLength: 256 })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  {
    $id: 'NativeEvent',
    examples: [
      {
        eventId: 'evt-0001',
        timestamp: '2026-11-21T10:00:00.000Z',
        source: 'web',
        eventType: 'page_view',
        userId: 'user-42',
        sessionId: 'sess-7',
        data: { path: '/pricing' },
      },
    ],
  },
)

export type NativeEvent = Static<typeof NativeEvent>

export const nativeEventValidator = Compile(NativeEvent)

export function nativeToEnvelope(e: NativeEvent, receivedAt: string, requestId: string): Envelope {
  const envelope: Envelope = {
    event_id: e.eventId,
    source: e.source,
    event_type: e.eventType,
    occurred_at: new Date(e.timestamp).toISOString(),
    received_at: receivedAt,
    request_id: requestId,
    data: e.data ?? {},
  }
  if (e.funnelStage !== undefined) envelope.funnel_stage = e.funnelStage
  if (e.userId !== undefined) envelope.user_id = e.userId
  if (e.sessionId !== undefined) envelope.session_id = e.sessionId
  return envelope
}
