import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ingestionHarness, type IngestionHarness } from './helpers.js'

const KEY = 'seg_key_0a1b2c3d4e'
const WEB_ONLY = 'web_only_9f8e7d6c'
let h: IngestionHarness
before(async () => {
  h = await ingestionHarness({ env: { WRITE_KEYS: `${KEY}:segment,${WEB_ONLY}:web` } })
})
after(async () => h.close())

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`
const track = (n: number, extra: Record<string, unknown> = {}) => ({ type: 'track', messageId: `seg-${n}-${Math.random()}`, userId: 'u-1', event: 'Clicked', timestamp: '2026-11-21T10:00:00Z', ...extra })

test('a batch with the key in the body: valid messages stored, invalid ones listed', async () => {
  const good = [track(1), track(2, { properties: { revenue: '19.90', currency: 'usd' } })]
  const res = await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: KEY, batch: [good[0], { type: 'track', userId: 'u' }, good[1], { type: 'teleport', userId: 'u' }] } })
  assert.equal(res.statusCode, 200)
  const body = res.json<{ success: boolean; accepted: number; rejected: { index: number; errors: { path: string }[] }[] }>()
  assert.equal(body.success, true)
  assert.equal(body.accepted, 2)
  assert.deepEqual(
    body.rejected.map((r) => [r.index, r.errors[0]!.path]),
    [
      [1, '/event'],
      [3, '/type'],
    ],
  )
  const stored = (await h.stored()).map((m) => m.envelope)
  const revenue = stored.find((e) => e.event_id === good[1]!.messageId)!
  assert.equal(revenue.revenue, 19.9)
  assert.equal(revenue.currency, 'USD')
  assert.equal(revenue.source, 'segment')
})

test('single calls take their type from the route and the key from Basic auth', async () => {
  for (const [path, body, type] of [
    ['/v1/track', { userId: 'u-2', event: 'Signed Up' }, 'Signed Up'],
    ['/v1/page', { anonymousId: 'a-2', name: 'Home' }, 'page_view'],
    ['/v1/screen', { userId: 'u-2', name: 'Feed' }, 'screen_view'],
    ['/v1/identify', { userId: 'u-2', traits: { plan: 'pro' } }, 'identify'],
  ] as const) {
    const messageId = `single-${path}-${Math.random()}`
    const res = await h.app.inject({ method: 'POST', url: path, headers: { authorization: basic(KEY) }, payload: { ...body, messageId } })
    assert.equal(res.statusCode, 200, `${path}: ${res.body}`)
    const stored = (await h.stored()).find((m) => m.envelope.event_id === messageId)
    assert.equal(stored?.envelope.event_type, type)
  }
})

test('no key, a wrong key, or a key for other sources: 401/403; none valid: 400', async () => {
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { batch: [track(3)] } })).statusCode, 401)
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basic('nope-nope-nope') }, payload: { batch: [track(3)] } })).statusCode, 401)
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: WEB_ONLY, batch: [track(3)] } })).statusCode, 403)
  const none = await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: KEY, batch: [{ type: 'track' }] } })
  assert.equal(none.statusCode, 400)
  assert.match(String(none.headers['content-type']), /problem\+json/)
  const notBatch = await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: KEY, batch: 'x' } })
  assert.equal(notBatch.statusCode, 400)
})

test('messageId dedupes across requests', async () => {
  const m = track(4)
  const first = await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: KEY, batch: [m] } })
  const again = await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: KEY, batch: [m, m] } })
  assert.equal(first.json<{ accepted: number }>().accepted, 1)
  assert.deepEqual(again.json<{ accepted: number; duplicates: number }>(), { success: true, accepted: 0, duplicates: 2, rejected: [] })
})
