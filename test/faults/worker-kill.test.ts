import { test } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '@sluice/testkit/ports'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('fault: a worker SIGKILLed mid-batch, three times, under load — every accepted event stored once', async () => {
  const p = await startPipeline({ workers: 2 })
  try {
    const rows = async () => Number((await p.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n)
    let kills = 0
    const faults = (async () => {
      for (let round = 0; round < 3; round++) {
        const before = await rows()
        // Kill only while the workers are storing: rows are arriving.
        await waitFor(async () => (await rows()) > before + 100, { timeoutMs: 30_000, what: `workers storing (round ${round + 1})` })
        const victim = p.workers[round % p.workers.length]!
        await victim.kill('SIGKILL')
        kills++
        await new Promise((r) => setTimeout(r, 300))
        await victim.start()
      }
    })()
    const load = runLoad({ baseUrl: p.baseUrl, durationMs: 3_000, until: faults })
    await faults
    const result = await audit('worker SIGKILL ×3', p, await load)
    assert.equal(kills, 3)
    assert.ok(result.redelivered > 0, 'messages a killed worker held were delivered again')
  } finally {
    await p.close()
  }
})
