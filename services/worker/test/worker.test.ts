import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '@sluice/testkit/ports'
import { envelope, workerHarness, type WorkerHarness } from './helpers.js'

let h: WorkerHarness
before(async () => {
  h = await workerHarness()
  await h.startWorker()
})
after(async () => h.close())

test('published envelopes are stored with every column, escapes intact', async () => {
  const start = await h.count()
  const events = Array.from({ length: 1200 }, (_, i) =>
    envelope({ revenue: i === 0 ? 19.99 : undefined, currency: i === 0 ? 'EUR' : undefined, country: 'DE', campaign_id: `c${i % 3}` }),
  )
  await h.publish(events)
  await waitFor(async () => (await h.count()) === start + 1200, { what: '1200 rows' })
  const { rows } = await h.pool.query('SELECT * FROM events WHERE event_id = $1', [events[0]!.event_id])
  const row = rows[0] as Record<string, unknown>
  assert.equal(row.source, 'web')
  assert.equal(row.country, 'DE')
  assert.equal(row.revenue, '19.99')
  assert.equal(row.currency, 'EUR')
  assert.deepEqual(row.data, events[0]!.data)
  assert.equal((row.occurred_at as Date).toISOString(), '2026-11-21T10:00:00.000Z')
})

test('an event delivered twice (re-sent past the dedupe window) is stored once', async () => {
  const start = await h.count()
  const e = envelope()
  // No message id: JetStream keeps both copies, as after a re-send outside its window.
  await h.publish([e, e, e], { msgId: false })
  await h.publish([envelope()], { msgId: false })
  await waitFor(async () => (await h.count()) === start + 2, { what: 'two distinct rows' })
  await new Promise((r) => setTimeout(r, 300))
  assert.equal(await h.count(), start + 2)
  const { rows } = await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE source = $1 AND event_id = $2', [e.source, e.event_id])
  assert.equal(rows[0]!.n, '1')
})

test('messages are acked after commit: the consumer has nothing pending when rows are visible', async () => {
  const start = await h.count()
  await h.publish(Array.from({ length: 50 }, () => envelope()))
  await waitFor(async () => (await h.count()) === start + 50, { what: '50 rows' })
  const info = await waitFor(async () => {
    const i = await (await h.js.consumers.get(h.topology.eventsStream, h.topology.workerConsumer)).info()
    return i.num_ack_pending === 0 && i.num_pending === 0 ? i : undefined
  }, { what: 'nothing pending' })
  assert.equal(info.num_redelivered, 0)
})
