import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { jetstream } from '@nats-io/jetstream'
import { envelopeValidator } from '@sluice/contracts/envelope'
import { ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'

let h: IngestionHarness
before(async () => {
  h = await ingestionHarness()
})
after(async () => h.close())

test('one native event is published to EVENTS and answered 202 after the ack', async () => {
  const before = await h.streamMessages()
  const event = nativeEvent()
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event, headers: { 'x-request-id': 'req-abc' } })
  assert.equal(res.statusCode, 202)
  assert.deepEqual(res.json(), { accepted: 1, duplicates: 0, rejected: [] })
  assert.equal(res.headers['x-request-id'], 'req-abc')
  assert.equal(await h.streamMessages(), before + 1)

  const js = jetstream(h.nc)
  const msg = await js.streams.get(h.topology.eventsStream).then((s) => s.getMessage({ last_by_subj: `${h.topology.eventsSubjectPrefix}.web` }))
  assert.ok(msg)
  const envelope: unknown = msg.json()
  assert.ok(envelopeValidator.Check(envelope), 'the stream carries a valid envelope')
  assert.equal(envelope.event_id, event.eventId)
  assert.equal(envelope.request_id, 'req-abc')
  assert.equal(msg.header?.get('Sluice-Request-Id'), 'req-abc')
  assert.equal(msg.header?.get('Nats-Msg-Id'), `web:${event.eventId}`)
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
  assert.ok(body.rejected[0]!.errors.length > 0)

  const wrapped = await h.app.inject({ method: 'POST', url: '/v1/events', payload: { events: [nativeEvent()] } })
  assert.equal(wrapped.statusCode, 202)
  assert.equal(wrapped.json<{ accepted: number }>().accepted, 1)
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

test('malformed JSON is a 400, not a 5xx', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '{"eventId": ' })
  assert.equal(res.statusCode, 400)
  assert.match(String(res.headers['content-type']), /application\/problem\+json/)
})

test('text/plain bodies (navigator.sendBeacon) are parsed as JSON', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'text/plain;charset=UTF-8' }, payload: JSON.stringify(nativeEvent()) })
  assert.equal(res.statusCode, 202)
})

test('readiness is ok while JetStream answers; Swagger UI is served at /api', async () => {
  const ready = await h.app.inject({ method: 'GET', url: '/health/readiness' })
  assert.equal(ready.statusCode, 200)
  const live = await h.app.inject({ method: 'GET', url: '/health/liveness' })
  assert.equal(live.statusCode, 200)
  const docs = await h.app.inject({ method: 'GET', url: '/api/json' })
  assert.equal(docs.statusCode, 200)
  assert.ok(docs.json<{ paths: Record<string, unknown> }>().paths['/v1/events'])
  const ui = await h.app.inject({ method: 'GET', url: '/api/' })
  assert.equal(ui.statusCode, 200)
})

test('/metrics exposes the HTTP and publish metrics', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /sluice_http_requests_total\{[^}]*route="\/v1\/events"/)
  assert.match(res.body, /sluice_ingestion_publish_duration_seconds_bucket/)
})
