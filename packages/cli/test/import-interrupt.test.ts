import { test } from 'node:test'
import assert from 'node:assert/strict'
import { importHarness, missingIds, stopAndResume } from './import-harness.js'

const h = importHarness()

test('an import stopped with SIGINT and started again stores every event once', async () => {
  const { partial, total, stopped } = await stopAndResume(h, 'SIGINT', 'interrupted')
  assert.equal(stopped.code, 130, stopped.out)
  assert.match(stopped.out, /Import interrupted/)
  assert.ok(partial < total, `stopped part-way (${partial} of ${total})`)
  assert.equal(await h.count('interrupted'), total)
  assert.equal(await missingIds(h.pool, 'interrupted', total), 0, 'every event of the archive is stored')
})
