import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { HttpProblem } from '@sluice/kit/problem'
import { mapSegmentMessage, SEGMENT_SOURCE, SegmentBatch, SegmentMessage, segmentMessageId, type SegmentType } from '@sluice/formats/segment'
import { authenticate, checkEventCount, countRequests, credentialFrom, ingestItems, rateLimit } from '../ingest.js'
import { publicRejection, Rejection, writeErrors } from '../schemas/responses.js'

/**
 * Segment's tracking API (`/v1/batch` and the single calls), so `@segment/analytics-node`
 * works unchanged: the write key comes as Basic auth (`base64("<key>:")`) or in the body,
 * `messageId` dedupes, and success is a 200 with a small JSON body. As elsewhere, valid
 * messages of a batch are stored even when others are rejected.
 */

const SegmentOk = Type.Object({
  success: Type.Literal(true),
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Array(Rejection),
})

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

export default async function segmentRoutes(app: FastifyInstance): Promise<void> {
  const { ingest } = app

  const handle = async (request: FastifyRequest, reply: FastifyReply, route: string, impliedType: SegmentType | undefined) => {
    const body = record(request.body)
    if (!body) throw new HttpProblem(400, { kind: 'invalid-body', detail: 'expected a JSON object' })
    const headerKey = credentialFrom(request)
    const key = authenticate(ingest, headerKey ?? (typeof body.writeKey === 'string' ? body.writeKey : undefined))
    if (key?.sources && !key.sources.has(SEGMENT_SOURCE)) throw new HttpProblem(403, { kind: 'source-not-allowed', detail: 'this write key may not send Segment events' })

    let items: unknown[]
    if (impliedType) items = [body]
    else if (Array.isArray(body.batch)) items = body.batch
    else throw new HttpProblem(400, { kind: 'invalid-body', detail: 'expected {"batch": [...]}', errors: [{ path: '/batch', message: 'must be an array' }] })
    ingest.metrics.bodyBytes.observe({ route }, request.bodyInfo?.bytes ?? 0)
    ingest.metrics.eventsPerRequest.observe({ route }, items.length)
    checkEventCount(ingest, items.length)
    rateLimit(ingest, request, key, items.length)

    const ctx = { receivedAt: new Date().toISOString(), requestId: request.id }
    const batchContext = impliedType ? undefined : record(body.context)
    const result = await ingestItems(ingest, route, request, items, (item) => mapSegmentMessage(item, ctx, impliedType, batchContext), segmentMessageId, {
      suspectStrings: request.bodyInfo?.suspectStrings ?? true,
      key: undefined,
    })
    const rejected = result.rejected.map(publicRejection)
    if (result.valid === 0) throw new HttpProblem(400, { kind: 'no-valid-events', detail: `none of the ${items.length} messages is valid`, extra: { rejected } })
    const { accepted, duplicates } = result
    return reply.code(200).send({ success: true, accepted, duplicates, rejected })
  }

  const schema = (summary: string, body: unknown) => ({
    tags: ['segment'],
    summary,
    description: 'Segment tracking API compatible. Write key: HTTP Basic auth (the key as user name) or writeKey in the body. messageId is the dedupe key.',
    body,
    security: [{ basic: [] }] as Record<string, string[]>[],
    response: { 200: SegmentOk, ...writeErrors, 403: writeErrors[401] },
  })
  const validatorCompiler = () => () => true

  app.post('/v1/batch', { schema: schema('Segment batch', SegmentBatch), validatorCompiler, onResponse: countRequests(ingest, '/v1/batch') }, (request, reply) => handle(request, reply, '/v1/batch', undefined))
  const examples = {
    track: { writeKey: 'your-write-key', userId: 'user-42', event: 'Order Completed', properties: { revenue: 42.5, currency: 'EUR' }, timestamp: '2026-11-21T10:00:00.000Z' },
    page: { writeKey: 'your-write-key', anonymousId: 'anon-9', name: 'Pricing', properties: { path: '/pricing' } },
    screen: { writeKey: 'your-write-key', userId: 'user-42', name: 'Checkout' },
    identify: { writeKey: 'your-write-key', userId: 'user-42', traits: { plan: 'pro', email: 'ada@example.com' } },
  }
  for (const type of ['track', 'page', 'screen', 'identify'] as const) {
    const single = Type.Intersect([Type.Partial(Type.Pick(SegmentMessage, ['type'])), Type.Omit(SegmentMessage, ['type']), Type.Object({ writeKey: Type.Optional(Type.String()) })], {
      examples: [examples[type]],
    })
    app.post(`/v1/${type}`, { schema: schema(`Segment ${type}`, single), validatorCompiler, onResponse: countRequests(ingest, `/v1/${type}`) }, (request, reply) => handle(request, reply, `/v1/${type}`, type))
  }
}
