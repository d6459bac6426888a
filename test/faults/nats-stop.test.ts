import { test } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '@sluice/testkit/ports'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('fault: NATS stopped mid-load — ingestion answers 503, then recovers by itself; every accepted event stored once', async () => {
  const p = await startPipeline({ workers: 2 })
  try {
    const rows = async () => Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)
    let answeredDuringOutage = new Map<string, number>()
    const faults = (async () => {
      await waitFor(async () => (await rows()) > 500, { timeoutMs: 30_000, what: 'workers storing' })
      await p.nats.stop()
      const probe = await fetch(`${p.baseUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"eventId":"probe","timestamp":"2026-11-21T10:00:00Z","source":"probe","eventType":"x"}' })
      answeredDuringOutage.set(String(probe.status), 1)
      assert.equal(probe.headers.get('retry-after') !== null, true, 'a 503 says when to retry')
      await new Promise((r) => setTimeout(r, 2_500))
      await p.nats.start() // same storage directory: the stream and what it held come back
    })()
    const load = await runLoad({ baseUrl: p.baseUrl, durationMs: 2_000, until: faults, tailMs: 3_000 })
    await faults
    assert.deepEqual([...answeredDuringOutage.keys()], ['503'], 'ingestion answered 503 while NATS was down')
    assert.ok((load.outcomes.get('503') ?? 0) > 0, 'clients saw 503s and retried')
    // Nobody restarted ingestion or the workers: they reconnected by themselves.
    const result = await audit('NATS stop', p, load)
    assert.ok(result.accepted > 0)
    const probeStored = await p.pool.query('SELECT 1 FROM events WHERE event_id = $1', ['probe'])
    assert.equal(probeStored.rowCount, 0, 'the event answered 503 was not stored')
    answeredDuringOutage = new Map()
  } finally {
    await p.close()
  }
})
