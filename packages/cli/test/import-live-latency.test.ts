import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { createPool, type Pool } from '@sluice/kit/pg'
import { exportRow, hourFileName, writeExportZip } from '@sluice/testkit/amplitude-export'
import { createTestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'

const LIVE_EVENTS = 60
const LIVE_INTERVAL_MS = 40

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/**
 * Sends single live events one after another at a steady pace and measures each one's
 * POST → row visible in PostgreSQL (a poller looks every few ms for the ids not seen yet).
 */
async function liveLatencies(base: string, pool: Pool, tag: string): Promise<{ p50: number; p95: number; post50: number }> {
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const posts: number[] = []
  let sending = true
  const poller = (async () => {
    while (sending || sentAt.size > 0) {
      if (sentAt.size > 0) {
        const { rows } = await pool.query<{ event_id: string }>("SELECT event_id FROM events WHERE source = 'web' AND event_id = ANY($1)", [[...sentAt.keys()]])
        const now = performance.now()
        for (const { event_id } of rows) {
          latencies.push(now - sentAt.get(event_id)!)
          sentAt.delete(event_id)
        }
      }
      await new Promise((r) => setTimeout(r, 3))
    }
  })()
  for (let i = 0; i < LIVE_EVENTS; i++) {
    const id = `${tag}-${i}`
    const started = performance.now()
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: id, timestamp: new Date().toISOString(), source: 'web', eventType: 'page_view', userId: `u-${i}` }),
    })
    assert.equal(res.status, 202)
    posts.push(performance.now() - started)
    sentAt.set(id, started)
    await new Promise((r) => setTimeout(r, LIVE_INTERVAL_MS))
  }
  sending = false
  await Promise.race([poller, new Promise((_, reject) => setTimeout(() => reject(new Error(`live events not stored: ${[...sentAt.keys()].join(', ')}`)), 30_000))])
  const sorted = [...latencies].sort((a, b) => a - b)
  return { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), post50: quantile(posts.sort((a, b) => a - b), 0.5) }
}

test('live events keep their POST → stored latency while a large import runs (within 2× of without it)', async (ctx) => {
  const db = await createTestDatabase()
  const t = testTopology()
  const nc = await connect({ servers: machine.natsUrl })
  const pool = createPool({ url: db.url, log: testLogger(), applicationName: 'latency-test' })
  const dir = await mkdtemp(join(tmpdir(), 'sluice-latency-'))
  const env = { DATABASE_URL: db.url, NATS_URL: machine.natsUrl, STREAM_NAMESPACE: t.namespace, LOG_LEVEL: 'info' }
  const ingestionPort = await freePort()
  const worker = spawnModule('@sluice/worker/server', { ...env, PORT: String(await freePort()) })
  const ingestion = spawnModule('@sluice/ingestion/server', { ...env, PORT: String(ingestionPort) })
  let importer: ReturnType<typeof spawnModule> | undefined
  try {
    await Promise.all([worker.waitFor(/worker consuming/, 30_000), ingestion.waitFor(/ingestion listening/, 30_000)])
    const base = `http://127.0.0.1:${ingestionPort}`

    // 200,000 rows in 20 hour files: longer than the live measurement even at full speed.
    const at = Date.UTC(2024, 2, 2)
    const files = Array.from({ length: 20 }, (_, h) => ({
      name: hourFileName(at + h * 3_600_000),
      lines: Array.from({ length: 10_000 }, (_, k) => JSON.stringify(exportRow(h * 10_000 + k, at + h * 3_600_000 + k * 100))),
    }))
    const archive = join(dir, 'large.zip')
    await writeExportZip(archive, files)

    await liveLatencies(base, pool, 'warmup')
    const without = await liveLatencies(base, pool, 'quiet')

    importer = spawnModule('@sluice/cli/main', { ...env, LOG_LEVEL: 'warn' }, ['import', 'amplitude', archive, '--rejects', join(dir, 'rejects.jsonl')])
    const imported = async () => Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE source = 'amplitude'")).rows[0]!.n)
    await waitFor(async () => (await imported()) >= 10_000, { timeoutMs: 60_000, what: 'the import storing rows' })
    const before = await imported()
    const during = await liveLatencies(base, pool, 'import')
    const after = await imported()

    const report =
      `without import p50 ${without.p50.toFixed(1)} ms, p95 ${without.p95.toFixed(1)} ms (the POST's 202: p50 ${without.post50.toFixed(1)} ms); ` +
      `during import p50 ${during.p50.toFixed(1)} ms, p95 ${during.p95.toFixed(1)} ms (202: p50 ${during.post50.toFixed(1)} ms); import stored ${after - before} rows meanwhile`
    ctx.diagnostic(report)
    assert.ok(after - before >= 5_000, `the import went on during the live measurement: ${report}`)
    assert.ok(after < 200_000, `the import had not finished before the live measurement ended: ${report}`)
    assert.ok(during.p50 <= 2 * without.p50, `p50 within 2×: ${report}`)
    assert.ok(during.p95 <= 2 * without.p95, `p95 within 2×: ${report}`)
  } finally {
    await importer?.kill('SIGKILL')
    await Promise.all([worker.kill('SIGTERM'), ingestion.kill('SIGTERM')])
    await deleteTopology(nc, t)
    await nc.close()
    await pool.end()
    await db.drop()
    await rm(dir, { recursive: true, force: true })
  }
})
