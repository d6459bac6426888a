import { test } from 'node:test'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { jetstreamManager } from '@nats-io/jetstream'
import { startPrivateNats, type PrivateNats } from '@sluice/testkit/private-nats'
import { waitFor } from '@sluice/testkit/ports'
import { ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'

/**
 * JetStream down, slow or full: 503 with Retry-After within PUBLISH_TIMEOUT_MS, never a
 * 202 for an event that is not stored, readiness down while it lasts, and recovery
 * without a restart. Servers that are stopped or paused are private to this file.
 */

/**
 * The pid of the nats-server this test started (the testkit handle does not expose it),
 * found by its private storage directory, so no other test's server is ever paused.
 */
async function pidOf(nats: PrivateNats): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (args[0]?.endsWith('nats-server') && args.includes(join(nats.dir, 'js')) && args.includes(String(nats.port))) return Number(entry)
  }
  throw new Error(`the private nats-server in ${nats.dir} is not running`)
}

async function readiness(h: IngestionHarness) {
  return h.app.inject({ method: 'GET', url: '/health/readiness' })
}

/** Sends single events one after another until `stop` resolves; returns the ids answered 202. */
async function sendUntil(h: IngestionHarness, stop: Promise<void>) {
  let done = false
  void stop.then(() => (done = true))
  const accepted: string[] = []
  const statuses = new Map<number, number>()
  while (!done) {
    const event = nativeEvent()
    const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: event })
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    if (res.statusCode === 202) accepted.push(event.eventId)
    else assert.equal(res.statusCode, 503, res.body)
  }
  return { accepted, statuses }
}

test('NATS down: 503 + Retry-After at once, readiness down, liveness up, every 202 stored, recovery by itself', async () => {
  const nats = await startPrivateNats()
  const h = await ingestionHarness({ natsUrl: nats.url, env: { PUBLISH_TIMEOUT_MS: '1000' } })
  try {
    assert.equal((await readiness(h)).statusCode, 200)
    // NATS stays down until the probe has seen the outage, however slow a loaded machine is.
    let probed!: () => void
    const probeDone = new Promise<void>((resolve) => (probed = resolve))
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, 300))
      await nats.stop()
      await Promise.all([new Promise((r) => setTimeout(r, 1_500)), probeDone])
      await nats.start()
      await waitFor(async () => (await readiness(h)).statusCode === 200, { timeoutMs: 20_000, what: 'readiness 200 again' })
      await new Promise((r) => setTimeout(r, 300))
    })()
    const probe = (async () => {
      const down = await waitFor(
        async () => {
          const r = await readiness(h)
          return r.statusCode === 503 ? r : undefined
        },
        { timeoutMs: 10_000, what: 'readiness 503' },
      )
      assert.equal(down.json<{ checks: { jetstream: { ok: boolean } } }>().checks.jetstream.ok, false)
      assert.equal((await h.app.inject({ method: 'GET', url: '/health/liveness' })).statusCode, 200, 'liveness stays up')
      const t0 = performance.now()
      const refused = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
      assert.equal(refused.statusCode, 503)
      assert.ok(performance.now() - t0 < 1_500, 'answered within PUBLISH_TIMEOUT_MS')
      assert.equal(refused.headers['retry-after'], '1')
      assert.match(String(refused.headers['content-type']), /problem\+json/)
    })().finally(() => probed())
    const { accepted, statuses } = await sendUntil(h, outage)
    await probe
    assert.ok((statuses.get(503) ?? 0) > 0, 'some requests were refused during the outage')
    assert.ok(accepted.length > 10, 'requests before and after the outage were accepted')
    const stored = new Set((await h.stored()).map((m) => m.envelope.event_id))
    for (const id of accepted) assert.ok(stored.has(id), `202 event ${id} is in the stream`)
    const after = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
    assert.equal(after.statusCode, 202, 'recovered without a restart')
  } finally {
    await h.close().catch(() => undefined)
    await nats.destroy()
  }
})

test('JetStream slow (server paused): 503 + Retry-After after PUBLISH_TIMEOUT_MS, then recovery', async () => {
  const nats = await startPrivateNats()
  const h = await ingestionHarness({ natsUrl: nats.url, env: { PUBLISH_TIMEOUT_MS: '800' } })
  const pid = await pidOf(nats)
  try {
    const before = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
    assert.equal(before.statusCode, 202, before.body)
    process.kill(pid, 'SIGSTOP')
    // A stop signal takes effect when the kernel next schedules the process: on a busy
    // machine that is not at once, and a request sent meanwhile is still answered.
    await waitFor(async () => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.startsWith('T') === true, { timeoutMs: 5_000, what: 'nats-server stopped' })
    const slow = nativeEvent()
    const t0 = performance.now()
    const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: slow })
    const elapsed = performance.now() - t0
    assert.equal(res.statusCode, 503, res.body)
    assert.ok(res.headers['retry-after'])
    assert.ok(elapsed >= 750 && elapsed < 3_000, `answered after the publish timeout (${Math.round(elapsed)} ms)`)
    assert.equal((await readiness(h)).statusCode, 503, 'readiness reports the failing publishes')
    process.kill(pid, 'SIGCONT')
    await waitFor(async () => (await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })).statusCode === 202, { timeoutMs: 15_000, what: '202 again' })
    // The timed-out event may or may not have been stored; a retry is safe either way.
    const retry = await h.app.inject({ method: 'POST', url: '/v1/events', payload: slow })
    assert.equal(retry.statusCode, 202)
    assert.equal(retry.json<{ accepted: number; duplicates: number }>().accepted + retry.json<{ duplicates: number }>().duplicates, 1)
    await waitFor(async () => (await readiness(h)).statusCode === 200, { timeoutMs: 15_000, what: 'readiness 200' })
  } finally {
    try {
      process.kill(pid, 'SIGCONT')
    } catch {
      // already gone
    }
    await h.close().catch(() => undefined)
    await nats.destroy()
  }
})

test('a full stream (discard new) answers 503, never loses an acknowledged event, and recovers once drained', async () => {
  const h = await ingestionHarness({ env: { STREAM_MAX_BYTES: String(64 * 1024) } })
  try {
    const accepted: string[] = []
    let refused
    for (let i = 0; i < 400 && !refused; i++) {
      const batch = Array.from({ length: 5 }, () => nativeEvent({ data: { pad: 'x'.repeat(200) } }))
      const res = await h.app.inject({ method: 'POST', url: '/v1/events', payload: batch })
      if (res.statusCode === 202) accepted.push(...batch.map((e) => e.eventId))
      else refused = res
    }
    assert.ok(refused, 'the stream filled up')
    assert.equal(refused.statusCode, 503)
    assert.ok(refused.headers['retry-after'])
    assert.match(refused.json<{ detail: string }>().detail, /maximum bytes exceeded/)
    const stored = new Set((await h.stored()).map((m) => m.envelope.event_id))
    for (const id of accepted) assert.ok(stored.has(id), 'every acknowledged event is in the stream')
    assert.equal((await readiness(h)).statusCode, 503, 'not ready while full')

    // A worker consuming the backlog frees the space; a purge stands in for it here.
    const jsm = await jetstreamManager(h.nc)
    await jsm.streams.purge(h.topology.eventsStream)
    const again = await h.app.inject({ method: 'POST', url: '/v1/events', payload: nativeEvent() })
    assert.equal(again.statusCode, 202)
    await waitFor(async () => (await readiness(h)).statusCode === 200, { what: 'ready again' })
  } finally {
    await h.close()
  }
})
