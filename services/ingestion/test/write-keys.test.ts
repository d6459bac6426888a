import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { capturingLogger, ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'
import { WriteKeys, parseWriteKeys } from '../src/write-keys.js'
import { RateLimiter } from '../src/rate-limiter.js'
import { ConfigError, loadConfig } from '@sluice/kit/config'
import { ingestionSchema } from '../src/config.js'

const WEB_KEY = 'wk_web_5b1f0c9e7d2a'
const PUBLISHER_KEY = 'wk_pub_9e3c1a77f04b'
const SLOW_KEY = 'wk_slow_0d4e8b1c2f6a'

let h: IngestionHarness
const captured = capturingLogger()
before(async () => {
  h = await ingestionHarness({ env: { WRITE_KEYS: `${WEB_KEY},${PUBLISHER_KEY}:facebook|tiktok,${SLOW_KEY}::20`, RATE_LIMIT_BURST_SECONDS: '1' }, log: captured.log })
})
after(async () => h.close())

const post = (headers: Record<string, string>, payload: unknown = nativeEvent(), url = '/v1/events') => h.app.inject({ method: 'POST', url, headers, payload: payload as object })

test('without a key, or with a wrong one, the write routes answer 401', async () => {
  const none = await post({})
  assert.equal(none.statusCode, 401)
  assert.match(String(none.headers['content-type']), /problem\+json/)
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="sluice"')
  assert.equal((await post({ authorization: 'Bearer wk_web_5b1f0c9e7d2b' })).statusCode, 401)
  assert.equal((await post({ 'x-write-key': 'nope' })).statusCode, 401)
})

test('a key is taken from Bearer, Basic, X-Write-Key and ?writeKey=', async () => {
  assert.equal((await post({ authorization: `Bearer ${WEB_KEY}` })).statusCode, 202)
  assert.equal((await post({ authorization: `Basic ${Buffer.from(`${WEB_KEY}:`).toString('base64')}` })).statusCode, 202)
  assert.equal((await post({ 'x-write-key': WEB_KEY })).statusCode, 202)
  assert.equal((await post({}, nativeEvent(), `/v1/events?writeKey=${WEB_KEY}`)).statusCode, 202)
  assert.equal((await post({ 'content-type': 'text/plain' }, JSON.stringify(nativeEvent()), `/webhook/event?writeKey=${WEB_KEY}`)).statusCode, 202)
})

test('a key limited to sources sends only those; other events of the batch are rejected alone', async () => {
  const fb = nativeEvent({ source: 'facebook', eventType: 'custom' })
  const res = await post({ 'x-write-key': PUBLISHER_KEY }, [nativeEvent({ source: 'web' }), fb])
  // The facebook event is not a valid publisher event: it is rejected by its schema, not by the key.
  const body = res.json<{ rejected: { index: number; errors: { path: string; message: string }[] }[] }>()
  assert.equal(res.statusCode, 400)
  assert.match(body.rejected[0]!.errors[0]!.message, /may not send events of source "web"/)
  const ok = await post({ 'x-write-key': PUBLISHER_KEY }, [nativeEvent({ source: 'web' }), (await import('@sluice/formats/tiktok')).tiktokExamples.top])
  assert.equal(ok.statusCode, 202)
  assert.equal(ok.json<{ accepted: number; duplicates: number }>().accepted + ok.json<{ duplicates: number }>().duplicates, 1)
})

test('per-key rate limits answer 429 with Retry-After', async () => {
  const first = await post({ 'x-write-key': SLOW_KEY }, Array.from({ length: 30 }, () => nativeEvent()))
  assert.equal(first.statusCode, 202, 'a burst passes while the bucket is not empty')
  const limited = await post({ 'x-write-key': SLOW_KEY }, nativeEvent())
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) >= 1)
  assert.match(limited.json<{ detail: string }>().detail, /20 events per second/)
  assert.equal((await post({ 'x-write-key': WEB_KEY })).statusCode, 202, 'other keys are not limited')
})

test('keys never appear in the logs', async () => {
  await post({ authorization: `Bearer ${WEB_KEY}`, 'x-request-id': 'log-check' }, [{ eventId: 'bad' }])
  await post({}, { eventId: 'x' }, `/v1/events?writeKey=${WEB_KEY}`)
  await post({ 'x-write-key': `${WEB_KEY}x` })
  await h.app.inject({ method: 'POST', url: '/v1/batch', payload: { writeKey: PUBLISHER_KEY, batch: [{ type: 'track' }] } })
  await h.app.inject({ method: 'POST', url: '/2/httpapi', payload: { api_key: PUBLISHER_KEY, events: [] } })
  await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', 'x-write-key': WEB_KEY }, payload: `{"writeKey":"${SLOW_KEY}", broken` })
  const all = captured.lines.join('')
  assert.ok(captured.lines.length > 3, 'requests were logged')
  for (const key of [WEB_KEY, PUBLISHER_KEY, SLOW_KEY]) assert.ok(!all.includes(key), `${key.slice(0, 6)}… is not in the logs`)
})

test('WRITE_KEYS is validated at start, naming the entry but never the key', () => {
  assert.throws(() => parseWriteKeys('short'), /entry 1: a key must be 8 to 256/)
  assert.throws(() => parseWriteKeys('okokokokok:Bad Source'), (err: Error) => /entry 1: "Bad Source" is not a source/.test(err.message) && !err.message.includes('okokokokok'))
  assert.throws(() => parseWriteKeys('okokokokok::-5'), /rate must be a non-negative integer/)
  assert.equal(new WriteKeys('').open, true)
  const keys = new WriteKeys('aaaaaaaa,bbbbbbbb:web')
  assert.equal(keys.verify('aaaaaaaa')?.sources, undefined)
  assert.deepEqual([...keys.verify('bbbbbbbb')!.sources!], ['web'])
  assert.equal(keys.verify('aaaaaaa'), undefined)
  assert.equal(keys.verify(undefined), undefined)
  let message = ''
  assert.throws(
    () => loadConfig(ingestionSchema, { env: { WRITE_KEYS: 'tiny' } }),
    (err: Error) => ((message = err.message), err instanceof ConfigError),
  )
  assert.match(message, /WRITE_KEYS/)
  assert.ok(!message.includes('tiny'), 'the bad value is not echoed')
})

test('the rate limiter lets a bucket go into debt and waits it out', () => {
  let now = 0
  const limiter = new RateLimiter({ eventsPerSecond: 100, burstSeconds: 1, now: () => now })
  assert.equal(limiter.take('k', 250), 0)
  assert.equal(limiter.take('k', 1), 2, '150 events of debt at 100/s: 2 s')
  now += 1_600
  assert.equal(limiter.take('k', 1), 0)
  assert.equal(limiter.take('other', 1, 0), 0, 'rate 0 = no limit')
})
