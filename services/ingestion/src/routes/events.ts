import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type from 'typebox'
import type { Envelope } from '@sluice/contracts/envelope'
import { HttpProblem } from '@sluice/kit/problem'
import { NativeEvent, nativeEventValidator, nativeToEnvelope } from '../native.js'
import { PublishUnavailable } from '../plugins/publisher.js'

const FieldError = Type.Object({ path: Type.String(), message: Type.String() })

export const Rejection = Type.Object({
  index: Type.Integer({ description: 'Position of the event in the request' }),
  eventId: Type.Union([Type.String(), Type.Null()], { description: 'Its eventId, when it had a usable one' }),
  errors: Type.Array(FieldError),
})

export const Accepted = Type.Object(
  {
    accepted: Type.Integer({ description: 'Events newly stored in JetStream' }),
    duplicates: Type.Integer({ description: 'Events JetStream already had (same source and eventId)' }),
    rejected: Type.Array(Rejection),
  },
  { $id: 'Accepted' },
)

const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(FieldError)),
    rejected: Type.Optional(Type.Array(Rejection)),
  },
  { description: 'RFC 9457 problem details' },
)

const Body = Type.Union([NativeEvent, Type.Array(NativeEvent), Type.Object({ events: Type.Array(NativeEvent) })], {
  description: 'One native event, an array of them, or {"events": [...]}',
})

/** The events of a body in any of the three accepted shapes. */
function itemsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body
  if (body !== null && typeof body === 'object' && Array.isArray((body as { events?: unknown }).events)) {
    return (body as { events: unknown[] }).events
  }
  return [body]
}

function eventIdOf(item: unknown): string | null {
  const id = item !== null && typeof item === 'object' ? (item as { eventId?: unknown }).eventId : undefined
  return typeof id === 'string' && id.length <= 128 ? id : null
}

export default async function eventsRoutes(app: FastifyInstance): Promise<void> {
  const handler = async (request: FastifyRequest) => {
    const items = itemsOf(request.body)
    const receivedAt = new Date().toISOString()
    const envelopes: Envelope[] = []
    const rejected: { index: number; eventId: string | null; errors: { path: string; message: string }[] }[] = []
    items.forEach((item, index) => {
      if (nativeEventValidator.Check(item)) {
        envelopes.push(nativeToEnvelope(item, receivedAt, request.id))
      } else {
        const errors = [...nativeEventValidator.Errors(item)]
          .filter((e) => e.keyword !== 'boolean')
          .slice(0, 10)
          .map((e) => ({ path: e.instancePath || '/', message: e.message }))
        rejected.push({ index, eventId: eventIdOf(item), errors })
      }
    })
    if (envelopes.length === 0) {
      throw new HttpProblem(400, { kind: 'no-valid-events', detail: `none of the ${items.length} events is valid`, extra: { rejected } })
    }
    try {
      const { accepted, duplicates } = await app.publisher.publish(envelopes, request.id)
      return { accepted, duplicates, rejected }
    } catch (err) {
      if (err instanceof PublishUnavailable) {
        request.log.warn({ err }, 'publish failed')
        throw new HttpProblem(503, { kind: 'stream-unavailable', detail: 'the event stream cannot take events right now; retry later', headers: { 'retry-after': '5' } })
      }
      throw err
    }
  }

  const schema = {
    tags: ['events'],
    summary: 'Send native events',
    description:
      'Accepts one native event, an array, or {"events": [...]}. Valid events are accepted even when others in the same request are rejected; 202 is sent only after JetStream has stored every accepted event.',
    body: Body,
    response: { 202: Accepted, 400: Problem, 503: Problem },
  }
  // Each event is validated on its own in the handler so one bad event does not reject
  // its batch; the body schema above documents the request but is not enforced here.
  const routeOptions = { schema, validatorCompiler: () => () => true }

  app.post('/v1/events', routeOptions, async (request, reply) => reply.code(202).send(await handler(request)))
  app.post('/webhook/event', { ...routeOptions, schema: { ...schema, summary: 'Alias of POST /v1/events' } }, async (request, reply) =>
    reply.code(202).send(await handler(request)),
  )
}
