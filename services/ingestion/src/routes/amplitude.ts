import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { classifyError, HttpProblem, keepConnectionForUnreadBody } from '@sluice/kit/problem'
import { addProblem, AMPLITUDE_SOURCE, amplitudeEnvelope, amplitudeHttpFields, AmplitudeRequest, emptyProblems, hasProblems } from '@sluice/formats/amplitude'
import { rejected as rejectedMapping, type Mapped } from '@sluice/formats/mapped'
import { checkEventCount, countRequests, publishPrepared, RateLimited, rateLimit } from '../ingest.js'
import { prepare } from '../prepare.js'

/**
 * Amplitude HTTP V2 (`/2/httpapi`) and Batch (`/batch`), so the official SDKs work
 * unchanged. Every answer — success, validation, 413, 429, 503, even a broken body — is
 * JSON with `code`, because the SDK reads the status from the body. As on Amplitude, a
 * request with any invalid event is refused whole (400 listing the events by field and
 * index); the SDK then drops those events and re-sends the rest.
 */

const AmplitudeSuccess = Type.Object({
  code: Type.Literal(200),
  events_ingested: Type.Integer(),
  payload_size_bytes: Type.Integer(),
  server_upload_time: Type.Integer(),
})

const AmplitudeError = Type.Object(
  {
    code: Type.Integer(),
    error: Type.String(),
    missing_field: Type.Optional(Type.String()),
    events_with_invalid_fields: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Integer()))),
    events_with_missing_fields: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Integer()))),
    events_with_invalid_id_lengths: Type.Optional(Type.Record(Type.String(), Type.Array(Type.Integer()))),
    eps_threshold: Type.Optional(Type.Integer()),
    throttled_events: Type.Optional(Type.Array(Type.Integer())),
  },
  { additionalProperties: true },
)

const DEFAULT_MIN_ID_LENGTH = 5

/** Amplitude's body for a problem raised anywhere on these routes. */
export function amplitudeErrorBody(err: FastifyError | HttpProblem | Error): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  const { status, options } = classifyError(err)
  const headers = options.headers ?? {}
  const amplitude = (options.extra?.amplitude as Record<string, unknown> | undefined) ?? {}
  switch (status) {
    case 401:
      // Amplitude answers a bad key with 400 "Invalid API key"; the SDK then drops the events.
      return { status: 400, body: { code: 400, error: `Invalid API key: ${options.detail ?? ''}`.trim() }, headers: {} }
    case 413:
      return { status, body: { code: 413, error: 'Payload too large', detail: options.detail }, headers }
    case 429:
      return { status, body: { code: 429, error: 'Too many requests for some devices and users', eps_threshold: err instanceof RateLimited ? err.eventsPerSecond : 0, throttled_devices: {}, throttled_users: {}, ...amplitude }, headers }
    default:
      return { status, body: { code: status, error: status >= 500 && status !== 503 ? 'Internal error' : (options.detail ?? 'Bad request'), ...amplitude }, headers }
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

export default async function amplitudeRoutes(app: FastifyInstance): Promise<void> {
  const { ingest } = app

  const handler = (route: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = record(request.body)
    if (!body) throw new HttpProblem(400, { detail: 'Invalid request body: expected a JSON object' })
    const apiKey = body.api_key
    if (typeof apiKey !== 'string' || apiKey.length === 0) {
      throw new HttpProblem(400, { detail: 'Request missing required field', extra: { amplitude: { missing_field: 'api_key' } } })
    }
    const key = ingest.keys.open ? undefined : ingest.keys.verify(apiKey)
    if (!ingest.keys.open && !key) throw new HttpProblem(401, { detail: 'the key is not a valid write key' })
    if (key?.sources && !key.sources.has(AMPLITUDE_SOURCE)) throw new HttpProblem(401, { detail: 'this key may not send Amplitude events' })
    const events = body.events
    if (!Array.isArray(events) || events.length === 0) {
      throw new HttpProblem(400, { detail: 'Request missing required field', extra: { amplitude: { missing_field: 'events' } } })
    }
    ingest.metrics.bodyBytes.observe({ route }, request.bodyInfo?.bytes ?? 0)
    ingest.metrics.eventsPerRequest.observe({ route }, events.length)
    checkEventCount(ingest, events.length)
    try {
      rateLimit(ingest, request, key, events.length)
    } catch (err) {
      // Every event throttled: the SDK waits its throttle timeout before re-sending them.
      if (err instanceof RateLimited) err.options.extra = { ...err.options.extra, amplitude: { throttled_events: events.map((_, i) => i) } }
      throw err
    }
    const minIdLength = record(body.options)?.min_id_length
    const minLength = typeof minIdLength === 'number' && Number.isInteger(minIdLength) && minIdLength > 0 ? minIdLength : DEFAULT_MIN_ID_LENGTH

    const problems = emptyProblems()
    const ctx = { receivedAt: new Date().toISOString(), requestId: request.id }
    const map = (item: unknown, index: number): Mapped => {
      const fields = amplitudeHttpFields(item, index, minLength, problems)
      return fields ? { ok: true, envelope: amplitudeEnvelope(fields, ctx) } : rejectedMapping([])
    }
    const prepared = prepare(events, map, () => null, {
      topology: ingest.topology,
      maxDepth: ingest.limits.maxPropertyDepth,
      maxEventBytes: ingest.limits.maxEventBytes,
      suspectStrings: request.bodyInfo?.suspectStrings ?? true,
      key: undefined,
      packEvents: ingest.limits.packEvents,
    })
    // Problems found outside Amplitude's own checks are reported under the event's key they concern.
    for (const r of prepared.rejected) {
      if (r.reason !== 'schema') addProblem(problems.events_with_invalid_fields, r.errors[0]?.path.split('/')[1] || 'event', r.index)
    }
    if (hasProblems(problems)) {
      await publishPrepared(ingest, route, request, { ...prepared, messages: [], sources: [], counts: [], repeats: [] })
      const body400: Record<string, unknown> = { ...problems }
      for (const k of Object.keys(problems) as (keyof typeof problems)[]) if (Object.keys(problems[k]).length === 0) delete body400[k]
      throw new HttpProblem(400, { detail: 'Invalid field values on some events', extra: { amplitude: body400 } })
    }
    await publishPrepared(ingest, route, request, prepared)
    return reply.code(200).send({ code: 200, events_ingested: events.length, payload_size_bytes: request.bodyInfo?.bytes ?? 0, server_upload_time: Date.now() })
  }

  const options = {
    schema: {
      tags: ['amplitude'],
      description:
        'Amplitude HTTP V2 / Batch compatible: point the official SDKs here (serverUrl). Every answer is JSON with `code`. ' +
        'The write key goes in api_key. A request with any invalid event is refused whole with the events listed by field and index, as Amplitude does. insert_id is the dedupe key.',
      body: AmplitudeRequest,
      response: { 200: AmplitudeSuccess, 400: AmplitudeError, 413: AmplitudeError, 429: AmplitudeError, 503: AmplitudeError },
    },
    validatorCompiler: () => () => true,
    errorHandler: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body, headers } = amplitudeErrorBody(err)
      keepConnectionForUnreadBody(request, reply)
      if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed')
      else request.log.info({ status, detail: body.error }, 'request rejected')
      for (const [name, value] of Object.entries(headers)) reply.header(name, value)
      return reply.code(status).type('application/json').send(body)
    },
  }

  app.post('/2/httpapi', { ...options, onResponse: countRequests(ingest, '/2/httpapi'), schema: { ...options.schema, summary: 'Amplitude HTTP V2 API' } }, handler('/2/httpapi'))
  app.post('/batch', { ...options, onResponse: countRequests(ingest, '/batch'), schema: { ...options.schema, summary: 'Amplitude Batch API' } }, handler('/batch'))
}
