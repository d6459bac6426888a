import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { envelopeValidator } from '@sluice/contracts/envelope'
import { marketplaceExamples } from '@sluice/formats/marketplace'
import { ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'

let h: IngestionHarness
before(async () => {
  h = await ingestionHarness({ env: { MAX_EVENTS_PER_REQUEST: '500', MAX_EVENT_BYTES: '4096', MAX_PROPERTY_DEPTH: '6' } })
})
after(async () => h.close())

test('one native event is published to EVENTS and answered 202 after the ack, carrying the request id', async () => {
  const event = nativeEvent({ data: { path: '/', country: 'Germany' } })
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event, headers: { 'x-request-id': 'req-abc' } })
  assert.equal(res.statusCode, 202)
  assert.deepEqual(res.json(), { accepted: 1, duplicates: 0, rejected: [] })
  assert.equal(res.headers['x-request-id'], 'req-abc')
  const [msg] = (await h.stored()).filter((m) => m.envelope.event_id === event.eventId)
  assert.ok(msg)
  assert.ok(envelopeValidator.Check(msg.envelope), 'the stream carries a valid envelope')
  assert.equal(msg.envelope.request_id, 'req-abc')
  assert.equal(msg.envelope.country, 'DE')
  assert.equal(msg.headers['Sluice-Request-Id'], 'req-abc')
  assert.equal(msg.headers['Nats-Msg-Id'], `web:${event.eventId}`)
})

test('a request id is made when the client sends none (or an unsafe one)', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent(), headers: { 'x-request-id': 'bad id with spaces\n' } })
  assert.equal(res.statusCode, 202)
  assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/)
})

test('the same event sent twice is stored in the stream once', async () => {
  const event = nativeEvent()
  const first = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event })
  const count = await h.streamMessages()
  const second = await h.app.inject({ method: 'POST', url: '/webhook/event', payload: event })
  assert.deepEqual(first.json(), { accepted: 1, duplicates: 0, rejected: [] })
  assert.deepEqual(second.json(), { accepted: 0, duplicates: 1, rejected: [] })
  assert.equal(await h.streamMessages(), count)
})

test('an array and {"events": [...]} are accepted; invalid items are rejected alone', async () => {
  const good = [nativeEvent(), nativeEvent()]
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: [good[0], { eventId: 'broken', timestamp: 'nope' }, good[1]] })
  assert.equal(res.statusCode, 202)
  const body = res.json<{ accepted: number; rejected: { index: number; eventId: string; errors: { path: string }[] }[] }>()
  assert.equal(body.accepted, 2)
  assert.equal(body.rejected.length, 1)
  assert.equal(body.rejected[0]!.index, 1)
  assert.equal(body.rejected[0]!.eventId, 'broken')
  assert.deepEqual(body.rejected[0]!.errors.map((e) => e.path).sort(), ['/eventType', '/source', '/timestamp'])

  const wrapped = await h.app.inject({ method: 'POST', url: '/v1/events', payload: { events: [nativeEvent()] } })
  assert.equal(wrapped.statusCode, 202)
  assert.equal(wrapped.json<{ accepted: number }>().accepted, 1)
})

test('marketplace events are validated against their type', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: [...marketplaceExamples, { ...marketplaceExamples[1], eventId: 'mp-bad', data: { jobId: 'j' } }] })
  assert.equal(res.statusCode, 202)
  const body = res.json<{ accepted: number; duplicates: number; rejected: { eventId: string; errors: { path: string }[] }[] }>()
  assert.equal(body.accepted + body.duplicates, marketplaceExamples.length)
  assert.equal(body.rejected[0]!.eventId, 'mp-bad')
  assert.deepEqual(body.rejected[0]!.errors.map((e) => e.path).sort(), ['/data/amount', '/data/providerId'])
})

test('members sent beside the native fields reach the stream in data; one sent twice is a 400 naming it', async () => {
  const event = nativeEvent({ eventType: 'purchase', revenue: '12.50', currency: 'EUR', plan: 'pro' })
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event })
  assert.equal(res.statusCode, 202)
  const [msg] = (await h.stored()).filter((m) => m.envelope.event_id === event.eventId)
  assert.ok(msg)
  assert.deepEqual(msg.envelope.data, { path: '/', revenue: '12.50', currency: 'EUR', plan: 'pro' })
  assert.equal(msg.envelope.revenue, 12.5)
  assert.equal(msg.envelope.currency, 'EUR')

  const before = await h.streamMessages()
  const twice = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent({ path: '/other' }) })
  assert.equal(twice.statusCode, 400)
  const body = twice.json<{ rejected: { errors: { path: string; message: string }[] }[] }>()
  assert.deepEqual(body.rejected[0]!.errors, [{ path: '/path', message: 'is also in data: send it in one place' }])
  assert.equal(await h.streamMessages(), before)
})

test('a request with no valid event is a 400 problem+json listing each rejection', async () => {
  const before = await h.streamMessages()
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: [{ eventId: 'x' }, nativeEvent({ source: 'Not Valid' })] })
  assert.equal(res.statusCode, 400)
  assert.match(String(res.headers['content-type']), /application\/problem\+json/)
  const body = res.json<{ status: number; rejected: unknown[]; requestId: string }>()
  assert.equal(body.status, 400)
  assert.equal(body.rejected.length, 2)
  assert.ok(body.requestId)
  assert.equal(await h.streamMessages(), before)
})

test('malformed JSON, an empty body and another content type are clear 4xx', async () => {
  const bad = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '{"eventId": ' })
  assert.equal(bad.statusCode, 400)
  assert.match(String(bad.headers['content-type']), /application\/problem\+json/)
  assert.equal(bad.json<{ type: string }>().type, 'urn:sluice:problem:invalid-json')
  const empty = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '' })
  assert.equal(empty.statusCode, 400)
  const form = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' })
  assert.equal(form.statusCode, 415)
  const encoding = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, payload: '{}' })
  assert.equal(encoding.statusCode, 415)
})

test('text/plain bodies (navigator.sendBeacon) are parsed as JSON', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'text/plain;charset=UTF-8' }, payload: JSON.stringify(nativeEvent()) })
  assert.equal(res.statusCode, 202)
})

test('limits: events per request (413), bytes per event and property depth (per-event rejections) name the limit', async () => {
  const many = await h.app.inject({ method: 'POST', url: '/v1/events', payload: Array.from({ length: 501 }, () => nativeEvent()) })
  assert.equal(many.statusCode, 413)
  assert.match(many.json<{ detail: string }>().detail, /MAX_EVENTS_PER_REQUEST/)
  assert.equal(many.json<{ limit: number }>().limit, 500)

  let deep: unknown = 'leaf'
  for (let i = 0; i < 6; i++) deep = { deeper: deep }
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: [nativeEvent({ data: { blob: 'x'.repeat(5_000) } }), nativeEvent({ data: deep }), nativeEvent()] })
  assert.equal(res.statusCode, 202)
  const body = res.json<{ accepted: number; rejected: { index: number; errors: { message: string }[] }[] }>()
  assert.equal(body.accepted, 1)
  assert.match(body.rejected[0]!.errors[0]!.message, /MAX_EVENT_BYTES/)
  assert.match(body.rejected[1]!.errors[0]!.message, /MAX_PROPERTY_DEPTH/)
})

test('CORS: preflight allows the write headers; responses expose the request id', async () => {
  const pre = await h.app.inject({
    method: 'OPTIONS',
    url: '/v1/events',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization,x-write-key' },
  })
  assert.equal(pre.statusCode, 204)
  assert.equal(pre.headers['access-control-allow-origin'], '*')
  assert.match(String(pre.headers['access-control-allow-headers']), /authorization/)
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/)
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { origin: 'https://shop.example' }, payload: nativeEvent() })
  assert.equal(res.headers['access-control-allow-origin'], '*')
  assert.match(String(res.headers['access-control-expose-headers']), /x-request-id/)
})

test('readiness is ok while JetStream answers; Swagger UI documents every write route', async () => {
  const ready = await h.app.inject({ method: 'GET', url: '/health/readiness' })
  assert.equal(ready.statusCode, 200)
  const live = await h.app.inject({ method: 'GET', url: '/health/liveness' })
  assert.equal(live.statusCode, 200)
  const docs = await h.app.inject({ method: 'GET', url: '/api/json' })
  assert.equal(docs.statusCode, 200)
  const paths = docs.json<{ paths: Record<string, { post?: { requestBody?: unknown } }> }>().paths
  for (const p of ['/v1/events', '/webhook/event', '/2/httpapi', '/batch', '/v1/batch', '/v1/track', '/v1/page', '/v1/screen', '/v1/identify']) {
    assert.ok(paths[p]?.post?.requestBody, `${p} is documented with its body`)
  }
  const ui = await h.app.inject({ method: 'GET', url: '/api/' })
  assert.equal(ui.statusCode, 200)
})

test('/metrics counts requests and events by route, source and outcome, publish latency, in-flight and sizes', async () => {
  const twice = nativeEvent()
  await h.app.inject({ method: 'POST', url: '/v1/events', payload: [nativeEvent({ source: 'ios' }), { eventId: 'bad' }, twice, twice] })
  const res = await h.app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(res.statusCode, 200)
  const lines = res.body.split('\n').filter((l) => l.startsWith('sluice_ingestion') || l.startsWith('sluice_http_requests_total')).join('\n')
  assert.match(lines, /sluice_http_requests_total\{[^}]*route="\/v1\/events"/)
  assert.match(lines, /sluice_ingestion_requests_total\{route="\/v1\/events",outcome="accepted"[^}]*\} [1-9]/)
  assert.match(lines, /sluice_ingestion_events_total\{route="\/v1\/events",source="ios",outcome="accepted",reason=""[^}]*\} [1-9]/)
  assert.match(lines, /sluice_ingestion_events_total\{route="\/v1\/events",source="unknown",outcome="rejected",reason="schema"[^}]*\} [1-9]/)
  assert.match(lines, /sluice_ingestion_events_total\{route="\/v1\/events",source="web",outcome="duplicate",reason=""[^}]*\} [1-9]/)
  assert.match(lines, /sluice_ingestion_publish_duration_seconds_bucket/)
  assert.match(lines, /sluice_ingestion_publish_in_flight\{[^}]*\} \d+/)
  assert.match(lines, /sluice_ingestion_request_body_bytes_bucket\{le="256",[^}]*route="\/v1\/events"/)
})

test('every example body in the OpenAPI document is accepted by its route', async () => {
  const doc = (await h.app.inject({ method: 'GET', url: '/api/json' })).json<{
    paths: Record<string, { post?: { requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }> }> } } }>
  }>()
  let tried = 0
  for (const [path, item] of Object.entries(doc.paths)) {
    const media = item.post?.requestBody?.content['application/json']
    if (!media) continue
    const bodies = media.examples ? Object.values(media.examples).map((e) => e.value) : [media.example]
    assert.ok(bodies.length > 0 && bodies[0] !== undefined, `${path} has an example`)
    for (const body of bodies) {
      const res = await h.app.inject({ method: 'POST', url: path, payload: body as object })
      assert.ok(res.statusCode === 200 || res.statusCode === 202, `${path}: ${res.statusCode} ${res.body}`)
      tried++
    }
  }
  assert.ok(tried >= 11)
})

test('event ids with control characters or edge spaces are stored and still dedupe', async () => {
  const event = nativeEvent({ eventId: ' line\r\nbreak ' })
  const first = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event })
  assert.deepEqual(first.json(), { accepted: 1, duplicates: 0, rejected: [] })
  const again = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event })
  assert.deepEqual(again.json(), { accepted: 0, duplicates: 1, rejected: [] })
  const stored = (await h.stored()).find((m) => m.envelope.event_id === event.eventId)
  assert.ok(stored, 'stored under the id as sent')
  assert.match(stored.headers['Nats-Msg-Id']!, /^sha256:[0-9a-f]{64}$/)
})
