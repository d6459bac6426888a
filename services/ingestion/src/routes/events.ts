import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import Type from 'typebox'
import { HttpProblem } from '@sluice/kit/problem'
import { mapNativeEvent, nativeEventId } from '@sluice/formats/native'
import { NativeEvent, nativeExample } from '@sluice/formats/native-event'
import { facebookExamples, FacebookBottomEvent, FacebookTopEvent } from '@sluice/formats/facebook'
import { tiktokExamples, TiktokBottomEvent, TiktokTopEvent } from '@sluice/formats/tiktok'
import { marketplaceExamples } from '@sluice/formats/marketplace'
import { authenticate, checkEventCount, countRequests, credentialFrom, ingestItems, rateLimit } from '../ingest.js'
import { Accepted, publicRejection, writeErrors } from '../schemas/responses.js'

const AnyEvent = Type.Union([NativeEvent, FacebookTopEvent, FacebookBottomEvent, TiktokTopEvent, TiktokBottomEvent])

const Body = Type.Union([AnyEvent, Type.Array(AnyEvent), Type.Object({ events: Type.Array(AnyEvent) })], {
  description: 'One native event, an array of them (the publisher posts up to 50,000), or {"events": [...]}',
  examples: [
    nativeExample,
    [facebookExamples.top, facebookExamples.bottom, tiktokExamples.top, tiktokExamples.bottom],
    { events: marketplaceExamples },
  ],
})

/** The events of a body in any of the three accepted shapes. */
function itemsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body
  if (body !== null && typeof body === 'object' && Array.isArray((body as { events?: unknown }).events)) return (body as { events: unknown[] }).events
  return [body]
}

export default async function eventsRoutes(app: FastifyInstance): Promise<void> {
  const { ingest } = app

  const handler = (route: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const items = itemsOf(request.body)
    ingest.metrics.bodyBytes.observe({ route }, request.bodyInfo?.bytes ?? 0)
    ingest.metrics.eventsPerRequest.observe({ route }, items.length)
    checkEventCount(ingest, items.length)
    rateLimit(ingest, request, request.writeKey, items.length)
    const ctx = { receivedAt: new Date().toISOString(), requestId: request.id }
    const result = await ingestItems(ingest, route, request, items, (item) => mapNativeEvent(item, ctx), nativeEventId, {
      suspectStrings: request.bodyInfo?.suspectStrings ?? true,
      key: request.writeKey,
    })
    const rejected = result.rejected.map(publicRejection)
    if (result.valid === 0) throw new HttpProblem(400, { kind: 'no-valid-events', detail: `none of the ${items.length} events is valid`, extra: { rejected } })
    const { accepted, duplicates } = result
    return reply.code(202).send({ accepted, duplicates, rejected })
  }

  const schema = {
    tags: ['events'],
    description:
      'Accepts one native event, an array, or {"events": [...]}, as application/json or text/plain (navigator.sendBeacon), optionally gzip-encoded. ' +
      'The publisher’s Facebook and TikTok events and the marketplace event types are validated strictly; other event types keep free-form data. ' +
      'Valid events are accepted even when others in the same request are rejected; 202 is sent only after JetStream has stored every accepted event. ' +
      'Write key (when configured): Authorization: Bearer <key>, X-Write-Key, or ?writeKey=.',
    body: Body,
    querystring: Type.Object({ writeKey: Type.Optional(Type.String({ description: 'For beacons, which cannot set headers' })) }),
    security: [{ bearer: [] }, { writeKeyHeader: [] }, { writeKeyQuery: [] }] as Record<string, string[]>[],
    response: { 202: Accepted, ...writeErrors },
  }
  // Keys are checked before the body is read, so a request without one costs no parsing
  // (and an open ingestion has no hook at all).
  const checkKey: onRequestHookHandler = (request, _reply, done) => {
    try {
      request.writeKey = authenticate(ingest, credentialFrom(request))
      done()
    } catch (err) {
      done(err as Error)
    }
  }
  const routeOptions = {
    // Each event is checked on its own in the handler so one bad event does not reject
    // its batch: the body schema documents the request but is not enforced as a whole.
    validatorCompiler: () => () => true,
    ...(ingest.keys.open ? {} : { onRequest: checkKey }),
  }

  app.post('/v1/events', { ...routeOptions, onResponse: countRequests(ingest, '/v1/events'), schema: { ...schema, summary: 'Send events' } }, handler('/v1/events'))
  app.post('/webhook/event', { ...routeOptions, onResponse: countRequests(ingest, '/webhook/event'), schema: { ...schema, summary: 'Send events (alias of POST /v1/events)' } }, handler('/webhook/event'))
}
