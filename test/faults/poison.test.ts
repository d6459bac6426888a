import { test } from 'node:test'
import assert from 'node:assert/strict'
import { jetstream } from '@nats-io/jetstream'
import { eventSubject, topology } from '@sluice/contracts/topology'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('fault: a poison message in every batch for a while — good events stored once, each poison dead-lettered once', async () => {
  const p = await startPipeline({ workers: 2 })
  try {
    const js = jetstream(p.nc)
    const subject = eventSubject(topology(), 'web')
    // Published beside the clients' events, as a buggy producer writing to the stream would:
    // more often than a worker's batch window, so every batch of those seconds holds one.
    const poisons = ['{"event_id": "broken", ', '{"event_id":"p","source":"web","event_type":"x","occurred_at":"2026-02-30T10:00:00Z","received_at":"2026-11-21T10:00:00Z","data":{}}', 'not json at all']
    let published = 0
    const faults = (async () => {
      await new Promise((r) => setTimeout(r, 800))
      // A count, not a duration: on a busy machine the timer fires late, not less often.
      const acks: Promise<unknown>[] = []
      while (published < 80) {
        acks.push(js.publish(subject, poisons[published % poisons.length]))
        published++
        await new Promise((r) => setTimeout(r, 25))
      }
      await Promise.all(acks)
    })()
    const load = await runLoad({ baseUrl: p.baseUrl, durationMs: 2_000, until: faults })
    await faults
    assert.equal(published, 80)
    await audit('poison in every batch', p, load, { expectDeadLetters: published })
    const { rows } = await p.pool.query<{ reason: string; n: string }>('SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason ORDER BY reason')
    assert.deepEqual(
      rows.map((r) => r.reason),
      ['invalid_envelope', 'invalid_json'],
    )
  } finally {
    await p.close()
  }
})
