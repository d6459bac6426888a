import { test } from 'node:test'
import assert from 'node:assert/strict'
import { audit } from './audit.js'
import { runLoad } from './load.js'
import { startPipeline } from './pipeline.js'

test('fault: ingestion SIGKILLed mid-request, twice — clients that got no answer retry; no duplicates, no loss', async () => {
  const p = await startPipeline({ workers: 1 })
  try {
    const faults = (async () => {
      for (let round = 0; round < 2; round++) {
        await new Promise((r) => setTimeout(r, 1_500))
        await p.ingestion.kill('SIGKILL') // requests in flight get their connection reset
        await new Promise((r) => setTimeout(r, 300))
        await p.ingestion.start()
      }
    })()
    const load = await runLoad({ baseUrl: p.baseUrl, durationMs: 2_000, until: faults, tailMs: 1_500 })
    await faults
    const noAnswer = [...load.outcomes].filter(([k]) => !/^\d+$/.test(k)).reduce((n, [, v]) => n + v, 0)
    assert.ok(noAnswer > 0, `some requests got no answer: ${[...load.outcomes].join(' ')}`)
    assert.ok(load.retriedBatches > 0)
    await audit('ingestion SIGKILL ×2', p, load)
  } finally {
    await p.close()
  }
})
