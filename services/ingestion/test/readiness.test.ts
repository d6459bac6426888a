import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startPrivateNats } from '@sluice/testkit/private-nats'
import { waitFor } from '@sluice/testkit/ports'
import { ingestionHarness, nativeEvent } from './helpers.js'

test('readiness reports not ready while NATS is down, and ready again after it returns', async () => {
  const nats = await startPrivateNats()
  const h = await ingestionHarness({ PUBLISH_TIMEOUT_MS: '1000' }, nats.url)
  try {

  assert.equal((await h.app.inject({ method: 'GET', url: '/health/readiness' })).statusCode, 200)
  await nats.stop()
  const down = await waitFor(async () => {
    const r = await h.app.inject({ method: 'GET', url: '/health/readiness' })
    return r.statusCode === 503 ? r : undefined
  }, { what: 'readiness 503' })
  assert.equal(down.json<{ checks: { jetstream: { ok: boolean } } }>().checks.jetstream.ok, false)
  const live = await h.app.inject({ method: 'GET', url: '/health/liveness' })
  assert.equal(live.statusCode, 200, 'liveness stays up')

  const refused = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
  assert.equal(refused.statusCode, 503)
  assert.ok(refused.headers['retry-after'])

  await nats.start()
  await waitFor(async () => (await h.app.inject({ method: 'GET', url: '/health/readiness' })).statusCode === 200, { timeoutMs: 20_000, what: 'readiness 200 again' })
  const accepted = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
  assert.equal(accepted.statusCode, 202)
  } finally {
    await h.close().catch(() => undefined)
    await nats.destroy()
  }
})
