import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { envelopeValidator } from '@sluice/contracts/envelope'
import { CORRUPTION_KINDS, corruptedEvent, publisherPost, seededRandom, type PublisherEvent } from '@sluice/loadtest/generators/publisher'
import { ingestionHarness, type IngestionHarness } from './helpers.js'

let h: IngestionHarness
before(async () => {
  h = await ingestionHarness()
})
after(async () => h.close())

interface Answer {
  accepted: number
  duplicates: number
  rejected: { index: number; eventId: string | null; errors: { path: string; message: string }[] }[]
}

test('a publisher array with every known corruption in its middle: each corrupt event rejected alone, the rest stored', async () => {
  const r = seededRandom(42)
  const post = publisherPost(r, { size: 3_000, duplicateRate: 0.05 })
  const corrupt: PublisherEvent[] = CORRUPTION_KINDS.map((kind) => corruptedEvent(r, kind))
  const events: unknown[] = [...post.events]
  const at = corrupt.map((_, i) => 1_000 + i * 50)
  corrupt.forEach((e, i) => events.splice(at[i]!, 0, e))

  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: events })
  assert.equal(res.statusCode, 202, res.body)
  const body = res.json<Answer>()
  assert.deepEqual(
    body.rejected.map((x) => x.index),
    at,
    'exactly the corrupted events are rejected, by their position',
  )
  for (const rej of body.rejected) assert.ok(rej.errors.length > 0 && rej.errors.every((e) => e.path.startsWith('/')))
  assert.equal(body.accepted, post.valid)
  assert.equal(body.duplicates, post.duplicates)

  const stored = await h.stored()
  assert.equal(stored.length, post.valid, 'every valid distinct event is in the stream')
  const ids = new Set(stored.map((m) => m.envelope.event_id))
  for (const e of post.events) assert.ok(ids.has(e.eventId))
  for (const m of stored) assert.ok(envelopeValidator.Check(m.envelope))
})

test('re-sending the same post stores nothing new and answers every event as a duplicate', async () => {
  const post = publisherPost(seededRandom(7), { size: 1_000 })
  const payload = JSON.stringify(post.events)
  const first = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload })
  assert.equal(first.statusCode, 202)
  const before = await h.streamMessages()
  const again = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload })
  assert.deepEqual(again.json<Answer>(), { accepted: 0, duplicates: 1_000, rejected: [] })
  assert.equal(await h.streamMessages(), before)
})

test('a gzip-encoded 20,000-event post is accepted', async () => {
  const post = publisherPost(seededRandom(11), { size: 20_000, duplicateRate: 0 })
  const raw = Buffer.from(JSON.stringify(post.events))
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(raw) })
  assert.equal(res.statusCode, 202)
  assert.equal(res.json<Answer>().accepted, 20_000)
})

test('a large post travels in packs of PUBLISH_PACK_EVENTS events per source; a small request, one message per event', async () => {
  const post = publisherPost(seededRandom(21), { size: 2_500, duplicateRate: 0 })
  const before = await h.streamMessages()
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: post.events })
  assert.equal(res.json<Answer>().accepted, 2_500)
  const stored = (await h.stored()).slice(-2_500)
  const messages = new Map<number, typeof stored>()
  for (const m of stored) messages.set(m.seq, [...(messages.get(m.seq) ?? []), m])
  assert.equal(await h.streamMessages(), before + messages.size)
  // 64 per pack (the default), cut at the slices of 1,000 events prepared at a time, per source.
  assert.ok(messages.size >= Math.ceil(2_500 / 64) && messages.size <= Math.ceil(2_500 / 64) + 6 * 2, `${messages.size} messages`)
  for (const pack of messages.values()) {
    assert.ok(pack.length <= 64)
    assert.equal(new Set(pack.map((m) => m.envelope.source)).size, 1, 'a pack holds one source (one subject)')
    assert.match(pack[0]!.headers['Nats-Msg-Id']!, pack.length > 1 ? /^pack:[\w-]{43}$/ : /^(facebook|tiktok):/)
  }
  assert.deepEqual(
    stored.map((m) => m.envelope.event_id).sort(),
    post.events.map((e) => e.eventId).sort(),
    'every event once, in some pack',
  )

  const small = publisherPost(seededRandom(22), { size: 63, duplicateRate: 0 })
  const count = await h.streamMessages()
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/events', payload: small.events })).json<Answer>().accepted, 63)
  assert.equal(await h.streamMessages(), count + 63, 'below PUBLISH_PACK_EVENTS, one message per event (JetStream dedupes each)')
})

test('PUBLISH_PACK_EVENTS=1 publishes one message per event whatever the request size', async () => {
  const own = await ingestionHarness({ env: { PUBLISH_PACK_EVENTS: '1' } })
  try {
    const post = publisherPost(seededRandom(23), { size: 500, duplicateRate: 0 })
    assert.equal((await own.app.inject({ method: 'POST', url: '/v1/events', payload: post.events })).json<Answer>().accepted, 500)
    assert.equal(await own.streamMessages(), 500)
  } finally {
    await own.close()
  }
})
