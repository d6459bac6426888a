import { test } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '@sluice/testkit/ports'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('fault: PostgreSQL crashes and restarts mid-load — workers wait, then every accepted event is stored once', async () => {
  const p = await startPipeline({ workers: 2 })
  try {
    const rows = async () => Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)
    let storedAtCrash = 0
    const faults = (async () => {
      await waitFor(async () => (await rows()) > 500, { timeoutMs: 30_000, what: 'workers storing' })
      storedAtCrash = await rows()
      await p.pg.stop('immediate') // a crash: no checkpoint, open transactions lost
      await new Promise((r) => setTimeout(r, 2_000))
      await p.pg.start()
    })()
    const load = await runLoad({ baseUrl: p.baseUrl, durationMs: 2_000, until: faults, tailMs: 1_500 })
    await faults
    const result = await audit('PostgreSQL restart', p, load)
    assert.ok(storedAtCrash < result.accepted, 'the crash came before the end of the load')
    // Ingestion does not depend on PostgreSQL: no request failed while it was down.
    assert.deepEqual([...load.outcomes.keys()], ['202'])
  } finally {
    await p.close()
  }
})
