import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import { createTestDatabase } from '@sluice/testkit/database'
import { machine } from '@sluice/testkit/env'
import { freePort } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { burstTable, runBurst } from '../src/burst.js'

const SMALL_STREAMS = { STREAM_MAX_BYTES: String(256 * 1024 ** 2), IMPORT_STREAM_MAX_BYTES: String(256 * 1024 ** 2) }

test('--burst times each post alone: its steps in order, and every accepted event stored once', async () => {
  const db = await createTestDatabase()
  const t = testTopology()
  const nc = await connect({ servers: machine.natsUrl })
  const env = { DATABASE_URL: db.url, NATS_URL: machine.natsUrl, STREAM_NAMESPACE: t.namespace, LOG_LEVEL: 'info', ...SMALL_STREAMS }
  const ingestionPort = await freePort()
  const worker = spawnModule('@sluice/worker/server', { ...env, PORT: String(await freePort()) })
  const ingestion = spawnModule('@sluice/ingestion/server', { ...env, PORT: String(ingestionPort) })
  try {
    await Promise.all([worker.waitFor(/worker consuming/, 30_000), ingestion.waitFor(/ingestion listening/, 30_000)])
    const posts = await runBurst(`http://127.0.0.1:${ingestionPort}`, db.url, 2, 3_000, 100)
    assert.equal(posts.length, 2)
    for (const p of posts) {
      assert.equal(p.events, 3_000)
      // The generator repeats ~2 % of a post's events: those are duplicates, not accepted.
      assert.ok(p.accepted > 2_800 && p.accepted < 3_000, `accepted ${p.accepted}`)
      assert.equal(p.stored, p.accepted)
      assert.ok(p.batches >= 1)
      assert.ok(p.parsedMs >= 0 && p.parsedMs <= p.firstBatchMs, `parsed ${p.parsedMs} ≤ first batch ${p.firstBatchMs}`)
      assert.ok(p.firstBatchMs <= p.lastBatchMs, `first batch ${p.firstBatchMs} ≤ last ${p.lastBatchMs}`)
      assert.ok(p.lastBatchMs <= p.allStoredMs, `last batch began ${p.lastBatchMs} ≤ all stored ${p.allStoredMs}`)
      assert.ok(p.answerMs > 0)
    }
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM events').finally(() => client.end())
    assert.equal(Number(rows[0]!.n), posts[0]!.accepted + posts[1]!.accepted, 'the two posts share no id')
    assert.match(burstTable(posts), /^\| median \| .* \| \d+ \|$/m)
  } finally {
    await Promise.all([worker.kill('SIGTERM'), ingestion.kill('SIGTERM')])
    await deleteTopology(nc, t)
    await nc.close()
    await db.drop()
  }
})
