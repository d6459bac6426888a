import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ingestionHarness, type IngestionHarness } from './helpers.js'

const KEY = 'amp_key_3c9d0e1f2a'
let h: IngestionHarness
before(async () => {
  h = await ingestionHarness({ env: { WRITE_KEYS: `${KEY}:amplitude|web`, MAX_EVENTS_PER_REQUEST: '50', RATE_LIMIT_EVENTS_PER_SECOND: '1000', RATE_LIMIT_BURST_SECONDS: '1' } })
})
after(async () => h.close())

const send = (payload: unknown, url = '/2/httpapi') => h.app.inject({ method: 'POST', url, payload: payload as object })
const event = (i: number, extra: Record<string, unknown> = {}) => ({ event_type: 'Song Played', user_id: `user-000${i}`, time: 1763719200000 + i, insert_id: `amp-${i}-${Math.random()}`, ...extra })

test('a valid request answers 200 in Amplitude’s shape and stores every event', async () => {
  const before = await h.streamMessages()
  const res = await send({ api_key: KEY, events: [event(1), event(2, { country: 'Germany', revenue: 3.5 })], client_upload_time: '2026-11-21T10:00:00Z', request_metadata: { sdk: {} } })
  assert.equal(res.statusCode, 200)
  const body = res.json<Record<string, number>>()
  assert.equal(body.code, 200)
  assert.equal(body.events_ingested, 2)
  assert.ok(body.payload_size_bytes! > 0)
  assert.ok(Math.abs(body.server_upload_time! - Date.now()) < 60_000)
  assert.equal(await h.streamMessages(), before + 2)
  const stored = (await h.stored()).slice(-2).map((m) => m.envelope)
  assert.equal(stored[1]!.country, 'DE')
  assert.equal(stored[1]!.revenue, 3.5)
  assert.equal(stored[1]!.source, 'amplitude')
  assert.equal((await send({ api_key: KEY, events: [event(3)] }, '/batch')).json<{ code: number }>().code, 200)
})

test('missing api_key or events: 400 with missing_field', async () => {
  assert.deepEqual((await send({ events: [event(1)] })).json(), { code: 400, error: 'Request missing required field', missing_field: 'api_key' })
  assert.deepEqual((await send({ api_key: KEY })).json(), { code: 400, error: 'Request missing required field', missing_field: 'events' })
})

test('a wrong key is 400 "Invalid API key" (the SDK drops, as with Amplitude)', async () => {
  const res = await send({ api_key: 'not-a-key-at-all', events: [event(1)] })
  assert.equal(res.statusCode, 400)
  assert.match(res.json<{ error: string }>().error, /^Invalid API key/)
})

test('invalid events refuse the whole request, listed by field and index', async () => {
  const before = await h.streamMessages()
  const res = await send({
    api_key: KEY,
    events: [event(0), { user_id: 'user-0001' }, event(2, { time: 'noon' }), event(3, { user_id: 'abc' }), { event_type: 'x' }, event(5, { data: JSON.parse('{"__proto__": {"x": 1}}') as unknown })],
  })
  assert.equal(res.statusCode, 400)
  assert.deepEqual(res.json(), {
    code: 400,
    error: 'Invalid field values on some events',
    events_with_missing_fields: { event_type: [1], user_id: [4], device_id: [4] },
    events_with_invalid_fields: { time: [2], data: [5] },
    events_with_invalid_id_lengths: { user_id: [3] },
  })
  assert.equal(await h.streamMessages(), before, 'nothing of a refused request is stored')
  const lowered = await send({ api_key: KEY, events: [event(3, { user_id: 'abc' })], options: { min_id_length: 3 } })
  assert.equal(lowered.json<{ code: number }>().code, 200, 'options.min_id_length lowers the id bound')
})

test('413, 415, broken JSON and 429 answer JSON with code', async () => {
  const big = await send({ api_key: KEY, events: Array.from({ length: 51 }, (_, i) => event(i)) })
  assert.equal(big.statusCode, 413)
  assert.equal(big.json<{ code: number; error: string }>().code, 413)
  assert.equal(big.json<{ error: string }>().error, 'Payload too large')
  const broken = await h.app.inject({ method: 'POST', url: '/2/httpapi', headers: { 'content-type': 'application/json' }, payload: '{"api_key": "' })
  assert.equal(broken.statusCode, 400)
  assert.equal(broken.json<{ code: number }>().code, 400)
  assert.match(String(broken.headers['content-type']), /^application\/json/)
  const form = await h.app.inject({ method: 'POST', url: '/2/httpapi', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' })
  assert.equal(form.json<{ code: number }>().code, 415)

  let limited
  for (let i = 0; i < 40 && !limited; i++) {
    const res = await send({ api_key: KEY, events: Array.from({ length: 50 }, (_, j) => event(i * 100 + j)) })
    if (res.statusCode === 429) limited = res
  }
  assert.ok(limited, 'the key’s 1,000 events/s limit is reached')
  const body = limited.json<{ code: number; eps_threshold: number; throttled_events: number[] }>()
  assert.equal(body.code, 429)
  assert.equal(body.eps_threshold, 1000)
  assert.equal(body.throttled_events.length, 50)
  assert.ok(Number(limited.headers['retry-after']) >= 1)
})
