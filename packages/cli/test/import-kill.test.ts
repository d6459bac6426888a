import { test } from 'node:test'
import assert from 'node:assert/strict'
import { importHarness, missingIds, stopAndResume } from './import-harness.js'

const h = importHarness()

test('an import stopped with SIGKILL and started again stores every event once', async () => {
  const { partial, total, stopped } = await stopAndResume(h, 'SIGKILL', 'killed')
  assert.equal(stopped.signal, 'SIGKILL')
  assert.ok(partial < total, `stopped part-way (${partial} of ${total})`)
  assert.equal(await h.count('killed'), total)
  assert.equal(await missingIds(h.pool, 'killed', total), 0, 'every event of the archive is stored')
})
