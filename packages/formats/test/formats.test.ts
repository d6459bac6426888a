import { test } from 'node:test'
import assert from 'node:assert/strict'
import { envelopeValidator } from '@sluice/contracts/envelope'
import { CORRUPTION_KINDS, corruptedEvent, facebookEvent, seededRandom, tiktokEvent } from '@sluice/loadtest/generators/publisher'
import { countryCode } from '../src/country.js'
import { parseMoney } from '../src/money.js'
import { amplitudeExportInstant } from '../src/time.js'
import { mapNativeEvent } from '../src/native.js'
import { facebookExamples } from '../src/facebook.js'
import { tiktokExamples } from '../src/tiktok.js'
import { marketplaceExamples } from '../src/marketplace.js'
import { amplitudeHttpFields, amplitudeEnvelope, emptyProblems, mapAmplitudeExportRow } from '../src/amplitude.js'
import { mapSegmentMessage } from '../src/segment.js'
import { inspectEvent } from '../src/inspect.js'
import type { Mapped } from '../src/mapped.js'

const ctx = { receivedAt: '2026-11-21T12:00:00.000Z', requestId: 'req-1' }

function ok(m: Mapped) {
  assert.ok(m.ok, `expected a mapped event, got ${JSON.stringify(m)}`)
  assert.ok(envelopeValidator.Check(m.envelope), `a valid envelope: ${JSON.stringify([...envelopeValidator.Errors(m.envelope)])}`)
  return m.envelope
}

function fails(m: Mapped) {
  assert.equal(m.ok, false, 'expected a rejection')
  return m.ok ? [] : m.errors
}

test('country names map to ISO 3166-1 alpha-2, unknown ones to nothing', () => {
  assert.equal(countryCode('United States'), 'US')
  assert.equal(countryCode('united states of america'), 'US')
  assert.equal(countryCode('Korea, Republic of'), 'KR')
  assert.equal(countryCode("Côte d'Ivoire"), 'CI')
  assert.equal(countryCode('Cote d’Ivoire'), 'CI')
  assert.equal(countryCode('St. Lucia'), 'LC')
  assert.equal(countryCode('Bosnia & Herzegovina'), 'BA')
  assert.equal(countryCode('de'), 'DE')
  assert.equal(countryCode('UK'), 'GB')
  assert.equal(countryCode('Atlantis'), undefined)
  assert.equal(countryCode('x'.repeat(10_000)), undefined)
})

test('money strings become numbers', () => {
  assert.deepEqual(parseMoney('129.99'), { amount: 129.99 })
  assert.deepEqual(parseMoney('1,234.50'), { amount: 1234.5 })
  assert.deepEqual(parseMoney('€12.00'), { amount: 12, currency: 'EUR' })
  assert.deepEqual(parseMoney('12.00 USD'), { amount: 12, currency: 'USD' })
  assert.deepEqual(parseMoney(7), { amount: 7 })
  assert.equal(parseMoney('twelve'), undefined)
  assert.equal(parseMoney(-1), undefined)
  assert.equal(parseMoney(Number.NaN), undefined)
})

test('Amplitude export times are UTC with a space', () => {
  assert.equal(amplitudeExportInstant('2024-03-02 17:01:23.456000'), '2024-03-02T17:01:23.456Z')
  assert.equal(amplitudeExportInstant('2024-03-02T17:01:23'), '2024-03-02T17:01:23.000Z')
  assert.equal(amplitudeExportInstant('2024-03-02'), undefined)
})

test('Facebook events map with user, country code, campaign and revenue lifted', () => {
  const top = ok(mapNativeEvent(facebookExamples.top, ctx))
  assert.equal(top.user_id, 'fbu-1')
  assert.equal(top.country, 'GB')
  assert.equal(top.city, 'London')
  assert.equal(top.funnel_stage, 'top')
  assert.equal(top.request_id, 'req-1')
  assert.equal((top.data as { user: { location: { country: string } } }).user.location.country, 'United Kingdom', 'the raw country stays in data')
  const bottom = ok(mapNativeEvent(facebookExamples.bottom, ctx))
  assert.equal(bottom.campaign_id, 'cmp-3')
  assert.equal(bottom.revenue, 129.99)
})

test('TikTok events: country from top engagement, revenue from purchases', () => {
  const top = ok(mapNativeEvent(tiktokExamples.top, ctx))
  assert.equal(top.country, 'BR')
  assert.equal(top.user_id, 'ttu-9')
  const bottom = ok(mapNativeEvent(tiktokExamples.bottom, ctx))
  assert.equal(bottom.revenue, 24.9)
  assert.equal(bottom.country, undefined)
})

test('generated publisher events all map to valid envelopes', () => {
  const r = seededRandom(7)
  for (let i = 0; i < 2_000; i++) ok(mapNativeEvent(i % 2 ? facebookEvent(r) : tiktokEvent(r), ctx))
})

for (const kind of CORRUPTION_KINDS) {
  test(`publisher corruption "${kind}" is rejected with a path`, () => {
    const r = seededRandom(kind.length)
    for (let i = 0; i < 20; i++) {
      const errors = fails(mapNativeEvent(corruptedEvent(r, kind), ctx))
      assert.ok(errors.length > 0 && errors.every((e) => e.path.startsWith('/') && e.message.length > 0), JSON.stringify(errors))
    }
  })
}

test('rejections name the field and what is wrong', () => {
  const e = structuredClone(facebookExamples.bottom) as Record<string, unknown> & { data: { user: Record<string, unknown>; engagement: Record<string, unknown> } }
  e.data.user.gender = 'robot'
  delete e.data.engagement.adId
  const errors = fails(mapNativeEvent(e, ctx))
  assert.deepEqual(
    errors.map((x) => x.path).sort(),
    ['/data/engagement/adId', '/data/user/gender'],
  )
  assert.match(errors.find((x) => x.path === '/data/user/gender')!.message, /one of "male", "female", "non-binary"/)
  const stage = fails(mapNativeEvent({ ...facebookExamples.top, funnelStage: 'middle' }, ctx))
  assert.ok(stage.some((x) => x.path === '/funnelStage'))
  const nullable = fails(mapNativeEvent({ ...tiktokExamples.bottom, data: { ...tiktokExamples.bottom.data, engagement: { ...tiktokExamples.bottom.data.engagement, profileId: 5 } } }, ctx))
  assert.deepEqual(nullable, [{ path: '/data/engagement/profileId', message: 'must be string or null' }])
})

test('marketplace events are checked against their type and fill the marketplace columns', () => {
  const [job, bid, payment] = marketplaceExamples.map((e) => ok(mapNativeEvent(e, ctx)))
  assert.equal(job!.job_id, 'job-1001')
  assert.equal(job!.category, 'plumbing')
  assert.equal(job!.user_id, 'cust-5')
  assert.equal(bid!.provider_id, 'pro-17')
  assert.equal(bid!.revenue, undefined)
  assert.equal(payment!.revenue, 230)
  assert.equal(payment!.currency, 'GBP')
  const missing = fails(mapNativeEvent({ ...marketplaceExamples[1], data: { jobId: 'j' } }, ctx))
  assert.ok(missing.some((x) => x.path === '/data/providerId'))
  assert.ok(missing.some((x) => x.path === '/data/amount'))
  const rating = fails(mapNativeEvent({ eventId: 'f1', timestamp: ctx.receivedAt, source: 'marketplace', eventType: 'feedback.submitted', data: { jobId: 'j', providerId: 'p', rating: 6 } }, ctx))
  assert.equal(rating[0]!.path, '/data/rating')
  const amount = fails(mapNativeEvent({ ...marketplaceExamples[1], data: { jobId: 'j', providerId: 'p', amount: 'lots' } }, ctx))
  assert.equal(amount[0]!.path, '/data/amount')
})

test('other event types keep free-form data and lift well-known keys', () => {
  const e = ok(mapNativeEvent({ eventId: 'w1', timestamp: '2026-11-21T10:00:00+01:00', source: 'web', eventType: 'signup', data: { country: 'France', revenue: '9.90', currency: 'eur', anything: { deep: [1] } } }, ctx))
  assert.equal(e.occurred_at, '2026-11-21T09:00:00.000Z')
  assert.equal(e.country, 'FR')
  assert.equal(e.revenue, 9.9)
  assert.equal(e.currency, 'EUR')
  const bad = fails(mapNativeEvent({ eventId: 'w2', timestamp: 'soon', source: 'Web Site', eventType: '' }, ctx))
  assert.deepEqual(bad.map((x) => x.path).sort(), ['/eventType', '/source', '/timestamp'])
})

test('members outside the native frame are kept in data, never dropped; one sent twice is rejected', () => {
  const base = { eventId: 'x1', timestamp: '2026-11-21T10:00:00Z', source: 'web', eventType: 'purchase' }
  // An event type of no schema: kept in data and lifted to the columns, as data's keys are.
  const generic = ok(mapNativeEvent({ ...base, revenue: '12.50', currency: 'EUR', plan: 'pro', data: { path: '/pay' } }, ctx))
  assert.deepEqual(generic.data, { path: '/pay', revenue: '12.50', currency: 'EUR', plan: 'pro' })
  assert.equal(generic.revenue, 12.5)
  assert.equal(generic.currency, 'EUR')
  const noData = ok(mapNativeEvent({ ...base, context: { ip: '203.0.113.9' } }, ctx))
  assert.deepEqual(noData.data, { context: { ip: '203.0.113.9' } })
  // The publisher's and the marketplace's events keep them in data too.
  const fb = ok(mapNativeEvent({ ...facebookExamples.bottom, batch: 'b-7' }, ctx))
  assert.equal(fb.data.batch, 'b-7')
  assert.deepEqual(fb.data.user, facebookExamples.bottom.data.user)
  const job = ok(mapNativeEvent({ ...marketplaceExamples[0], channel: 'app' }, ctx))
  assert.equal(job.data.channel, 'app')
  // Both at the top and in data: which one is meant is unknown, so the event is refused.
  assert.deepEqual(fails(mapNativeEvent({ ...base, revenue: 5, data: { revenue: 7 } }, ctx)), [{ path: '/revenue', message: 'is also in data: send it in one place' }])
  assert.deepEqual(fails(mapNativeEvent({ ...base, 'a/b~c': 1, data: { 'a/b~c': 2 } }, ctx)).map((e) => e.path), ['/a~1b~0c'])
  const long = 'k'.repeat(5_000)
  assert.equal(fails(mapNativeEvent({ ...base, [long]: 1, data: { [long]: 2 } }, ctx))[0]!.path, `/${'k'.repeat(64)}…`, 'a hostile key is not echoed whole')
  assert.deepEqual(fails(mapNativeEvent({ ...facebookExamples.top, user: {} }, ctx)).map((e) => e.path), ['/user'])
  // An event without extras keeps the very object it sent as data.
  const plain = { ...base, data: { k: 1 } }
  assert.equal(ok(mapNativeEvent(plain, ctx)).data, plain.data)
})

test('Amplitude HTTP events: validation by field and index, mapping to the envelope', () => {
  const problems = emptyProblems()
  const good = amplitudeHttpFields(
    { event_type: 'Song Played', user_id: 'user-00042', time: 1763719200000, insert_id: 'ins-1', session_id: 1763719100000, country: 'United States', price: 2.5, quantity: 4, event_properties: { utm_campaign: 'spring' } },
    0,
    5,
    problems,
  )
  assert.ok(good)
  const e = amplitudeEnvelope(good, ctx)
  assert.ok(envelopeValidator.Check(e))
  assert.equal(e.event_id, 'ins-1')
  assert.equal(e.source, 'amplitude')
  assert.equal(e.occurred_at, '2025-11-21T10:00:00.000Z')
  assert.equal(e.session_id, '1763719100000')
  assert.equal(e.country, 'US')
  assert.equal(e.revenue, 10)
  assert.equal(e.campaign_id, 'spring')
  assert.equal(e.data.country, 'United States')
  assert.equal(e.data.insert_id, undefined)

  assert.equal(amplitudeHttpFields({ user_id: 'user-1' }, 1, 5, problems), undefined)
  assert.equal(amplitudeHttpFields({ event_type: 'x', device_id: 'abc' }, 2, 5, problems), undefined)
  assert.equal(amplitudeHttpFields({ event_type: 'x', user_id: 'user-1', time: 'noon' }, 3, 5, problems), undefined)
  assert.equal(amplitudeHttpFields({ event_type: 'x' }, 4, 5, problems), undefined)
  assert.ok(amplitudeHttpFields({ event_type: 'x', device_id: 'abc' }, 5, 3, problems), 'min_id_length lowers the bound')
  assert.deepEqual(problems, {
    events_with_missing_fields: { event_type: [1], user_id: [4], device_id: [4] },
    events_with_invalid_fields: { time: [3] },
    events_with_invalid_id_lengths: { device_id: [2] },
  })
})

test('Amplitude export rows go through the same core', () => {
  const e = ok(
    mapAmplitudeExportRow(
      { $insert_id: 'ins-1', uuid: 'u-1', event_type: 'Song Played', event_time: '2025-11-21 10:00:00.000000', user_id: 'user-00042', device_id: null, session_id: 1763719100000, country: 'United States', event_properties: { $price: 2.5, $quantity: 4, utm_campaign: 'spring' } },
      ctx,
    ),
  )
  const problems = emptyProblems()
  const fromHttp = amplitudeEnvelope(amplitudeHttpFields({ event_type: 'Song Played', user_id: 'user-00042', time: 1763719200000, insert_id: 'ins-1', session_id: 1763719100000, country: 'United States', price: 2.5, quantity: 4, event_properties: { utm_campaign: 'spring' } }, 0, 5, problems)!, ctx)
  for (const key of ['event_id', 'source', 'event_type', 'occurred_at', 'user_id', 'session_id', 'country', 'revenue', 'campaign_id'] as const) {
    assert.equal(e[key], fromHttp[key], key)
  }
  assert.equal(ok(mapAmplitudeExportRow({ uuid: 'u-2', event_type: 'x', event_time: '2024-03-02 17:01:23.456000', device_id: 'd-1' }, ctx)).event_id, 'u-2', 'uuid when no $insert_id')
  assert.equal(fails(mapAmplitudeExportRow({ event_type: 'x', event_time: 'yesterday', user_id: 'u' }, ctx))[0]!.path, '/event_time')
  assert.equal(fails(mapAmplitudeExportRow({ event_type: 'x', event_time: '2024-03-02 17:01:23', user_id: null, device_id: '' }, ctx))[0]!.path, '/user_id', 'no identity')
  const noId = { event_type: 'x', event_time: '2024-03-02T17:01:23.456', user_id: 'u', event_properties: { $price: '2.50', $quantity: '3' } }
  const first = ok(mapAmplitudeExportRow(noId, ctx))
  assert.equal(first.event_id, ok(mapAmplitudeExportRow({ ...noId }, ctx)).event_id, 'an id derived from the row when it has none: a re-import dedupes')
  assert.equal(first.occurred_at, '2024-03-02T17:01:23.456Z')
  assert.equal(first.revenue, 7.5, '$price × $quantity, from strings too')
  assert.equal(ok(mapAmplitudeExportRow({ ...noId, event_properties: { $revenue: 9, $price: 2 } }, ctx)).revenue, 9, '$revenue first')
})

test('Segment messages map with messageId as the dedupe key', () => {
  const t = ok(
    mapSegmentMessage({ type: 'track', messageId: 'm-1', userId: 'u-1', event: 'Order Completed', properties: { revenue: 42.5, currency: 'EUR' }, context: { location: { country: 'France', city: 'Paris' } }, timestamp: '2026-11-21T10:00:00Z' }, ctx),
  )
  assert.equal(t.event_id, 'm-1')
  assert.equal(t.event_type, 'Order Completed')
  assert.equal(t.country, 'FR')
  assert.equal(t.revenue, 42.5)
  const page = ok(mapSegmentMessage({ anonymousId: 'a-1', name: 'Home' }, ctx, 'page'))
  assert.equal(page.event_type, 'page_view')
  assert.equal(page.device_id, 'a-1')
  assert.equal(page.occurred_at, ctx.receivedAt)
  assert.ok(page.event_id.length > 0, 'an id is generated when none was given')
  assert.equal(ok(mapSegmentMessage({ type: 'identify', userId: 42, traits: {}, writeKey: 'secret' }, ctx)).data.writeKey, undefined, 'the write key is never stored')
  assert.equal(fails(mapSegmentMessage({ type: 'track', event: 'x' }, ctx))[0]!.path, '/userId')
  assert.equal(fails(mapSegmentMessage({ type: 'track', userId: 'u' }, ctx))[0]!.path, '/event')
  assert.equal(fails(mapSegmentMessage({ type: 'launch', userId: 'u' }, ctx))[0]!.path, '/type')
})

test('inspection finds deep nesting, prototype keys and unstorable strings', () => {
  const options = { maxDepth: 5, checkStrings: true }
  assert.equal(inspectEvent({ a: { b: [1, { c: 'ok' }] } }, options), undefined)
  assert.equal(inspectEvent({ a: { b: { c: { d: { e: 1 } } } } }, options), undefined, 'five levels of objects')
  assert.equal(inspectEvent({ a: { b: { c: { d: { e: {} } } } } }, options)?.reason, 'too_deep')
  const proto = inspectEvent(JSON.parse('{"data": {"__proto__": {"admin": true}}}'), options)
  assert.deepEqual(proto, { reason: 'forbidden_key', error: { path: '/data/__proto__', message: 'the key "__proto__" is not allowed' } })
  assert.equal(inspectEvent(JSON.parse('{"constructor": {"prototype": {}}}'), options)?.reason, 'forbidden_key')
  assert.equal(inspectEvent({ constructor: 'fine' }, options), undefined)
  assert.equal(inspectEvent({ s: ['a\u0000b'] }, options)?.error.path, '/s/0')
  assert.equal(inspectEvent({ s: 'x\ud800' }, options)?.reason, 'unstorable_string')
  assert.equal(inspectEvent({ s: 'x\ud800' }, { maxDepth: 5, checkStrings: false }), undefined)
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = [deep]
  assert.equal(inspectEvent(deep, options)?.reason, 'too_deep', 'hostile nesting does not exhaust the stack')
})
