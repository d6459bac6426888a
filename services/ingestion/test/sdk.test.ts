import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createInstance } from '@amplitude/analytics-node'
import { Analytics } from '@segment/analytics-node'
import { startPrivateNats, type PrivateNats } from '@sluice/testkit/private-nats'
import { waitFor } from '@sluice/testkit/ports'
import { ingestionHarness, type IngestionHarness } from './helpers.js'

/**
 * The official Amplitude and Segment SDKs, unchanged, pointed at a listening ingestion
 * on a private nats-server (stopped here to make ingestion answer 503).
 */

const KEY = 'sdk_key_6f2e9a01c3'
let nats: PrivateNats
let h: IngestionHarness
let base: string
before(async () => {
  nats = await startPrivateNats()
  h = await ingestionHarness({ natsUrl: nats.url, env: { WRITE_KEYS: KEY, MAX_EVENTS_PER_REQUEST: '10', PUBLISH_TIMEOUT_MS: '1000' } })
  base = await h.listen()
})
after(async () => {
  await h.close().catch(() => undefined)
  await nats.destroy()
})

async function storedIds(source: string): Promise<Set<string>> {
  return new Set((await h.stored()).filter((m) => m.envelope.source === source).map((m) => m.envelope.event_id))
}

async function statusCount(route: string, status: number): Promise<number> {
  const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body
  const line = metrics.split('\n').find((l) => l.startsWith('sluice_http_requests_total{') && l.includes(`route="${route}"`) && l.includes(`status_code="${status}"`))
  return line ? Number(line.split(' ').pop()) : 0
}

// An explicit flush() sends without retries; the SDK's own scheduled flush (used here) retries.
async function amplitude(options: Record<string, unknown> = {}) {
  const client = createInstance()
  await client.init(KEY, { serverUrl: `${base}/2/httpapi`, flushIntervalMillis: 50, flushQueueSize: 5, logLevel: 0, ...options }).promise
  return client
}

test('Amplitude SDK: events are delivered and found in JetStream with insert_id as the id', async () => {
  const client = await amplitude()
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => client.track('Song Played', { genre: 'jazz', n: i }, { user_id: 'sdk-user-1', country: 'Canada' }).promise),
  )
  assert.deepEqual(
    results.map((r) => r.code),
    Array(8).fill(200),
  )
  const ids = await storedIds('amplitude')
  for (const r of results) assert.ok(ids.has(r.event.insert_id!), 'stored under its insert_id')
  const stored = (await h.stored()).find((m) => m.envelope.event_id === results[0]!.event.insert_id)!.envelope
  assert.equal(stored.user_id, 'sdk-user-1')
  assert.equal(stored.country, 'CA')
  assert.equal((stored.data.event_properties as { genre: string }).genre, 'jazz')
})

test('Amplitude SDK: a 413 makes it halve its batches and deliver everything', async () => {
  const before413 = await statusCount('/2/httpapi', 413)
  const client = await amplitude({ flushQueueSize: 40, flushIntervalMillis: 300 })
  const pending = Array.from({ length: 40 }, (_, i) => client.track('Chunked', { i }, { device_id: 'sdk-device-413' }).promise)
  const results = await Promise.all(pending)
  assert.deepEqual(new Set(results.map((r) => r.code)), new Set([200]))
  assert.ok((await statusCount('/2/httpapi', 413)) > before413, 'ingestion answered 413 first')
  const ids = await storedIds('amplitude')
  for (const r of results) assert.ok(ids.has(r.event.insert_id!))
})

test('Amplitude SDK: a 503 while NATS is down is retried until the events are stored', async () => {
  await nats.stop()
  const before503 = await statusCount('/2/httpapi', 503)
  const client = await amplitude()
  const pending = Array.from({ length: 3 }, (_, i) => client.track('During outage', { i }, { user_id: 'sdk-user-503' }).promise)
  await waitFor(async () => (await statusCount('/2/httpapi', 503)) > before503, { timeoutMs: 10_000, what: 'a 503 answer' })
  await nats.start()
  const results = await Promise.all(pending)
  assert.deepEqual(
    results.map((r) => r.code),
    [200, 200, 200],
  )
  const ids = await storedIds('amplitude')
  for (const r of results) assert.ok(ids.has(r.event.insert_id!))
})

function segment(options: Record<string, unknown> = {}) {
  return new Analytics({ writeKey: KEY, host: base, flushAt: 5, flushInterval: 50, maxRetries: 6, ...options })
}

function track(client: Analytics, message: Parameters<Analytics['track']>[0]): Promise<{ err: unknown; id: string }> {
  return new Promise((resolve) => client.track(message, (err, ctx) => resolve({ err, id: ctx!.event.messageId! })))
}

test('Segment SDK: track, page and identify are delivered, messageId is the id', async () => {
  const client = segment()
  const sent = await Promise.all([
    track(client, { userId: 'seg-user-1', event: 'Order Completed', properties: { revenue: 12.5, currency: 'EUR' }, context: { location: { country: 'Spain' } } }),
    track(client, { anonymousId: 'anon-1', event: 'Viewed' }),
    new Promise<{ err: unknown; id: string }>((resolve) => client.page({ userId: 'seg-user-1', name: 'Pricing' }, (err, ctx) => resolve({ err, id: ctx!.event.messageId! }))),
    new Promise<{ err: unknown; id: string }>((resolve) => client.identify({ userId: 'seg-user-1', traits: { plan: 'pro' } }, (err, ctx) => resolve({ err, id: ctx!.event.messageId! }))),
  ])
  await client.closeAndFlush()
  for (const s of sent) assert.equal(s.err, undefined)
  const stored = (await h.stored()).filter((m) => m.envelope.source === 'segment').map((m) => m.envelope)
  const byId = new Map(stored.map((e) => [e.event_id, e]))
  for (const s of sent) assert.ok(byId.has(s.id), 'stored under its messageId')
  const order = byId.get(sent[0].id)!
  assert.equal(order.event_type, 'Order Completed')
  assert.equal(order.revenue, 12.5)
  assert.equal(order.currency, 'EUR')
  assert.equal(order.country, 'ES')
  assert.equal(byId.get(sent[2].id)!.event_type, 'page_view')
  assert.equal(byId.get(sent[3].id)!.event_type, 'identify')
})

test('Segment SDK: a 503 is retried until stored; a 413 is not retried (the SDK drops what Segment calls too large)', async () => {
  await nats.stop()
  const before503 = await statusCount('/v1/batch', 503)
  const client = segment()
  const pending = Array.from({ length: 3 }, (_, i) => track(client, { userId: 'seg-user-503', event: 'During outage', properties: { i } }))
  await waitFor(async () => (await statusCount('/v1/batch', 503)) > before503, { timeoutMs: 10_000, what: 'a 503 answer' })
  await nats.start()
  const results = await Promise.all(pending)
  for (const r of results) assert.equal(r.err, undefined)
  const ids = await storedIds('segment')
  for (const r of results) assert.ok(ids.has(r.id))

  const before413 = await statusCount('/v1/batch', 413)
  const big = segment({ flushAt: 12 })
  const dropped = await Promise.all(Array.from({ length: 12 }, (_, i) => track(big, { userId: 'seg-user-413', event: 'Too many', properties: { i } })))
  assert.equal(await statusCount('/v1/batch', 413), before413 + 1, 'answered 413 once, not retried')
  for (const d of dropped) assert.ok(d.err, 'the SDK reports the batch as failed')
  await big.closeAndFlush()
})
