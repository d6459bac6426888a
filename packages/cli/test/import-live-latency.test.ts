import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { createPool, type Pool } from '@sluice/kit/pg'
import { exportRow, hourFileName, writeExportZip } from '@sluice/testkit/amplitude-export'
import { createTestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'

// JetStream reserves each stream's max_bytes on disk; the shared server runs out when many
// test files hold 8 GiB streams at once, and these tests need a few MB.
const SMALL_STREAMS = { STREAM_MAX_BYTES: String(256 * 1024 ** 2), IMPORT_STREAM_MAX_BYTES: String(256 * 1024 ** 2) }

const LIVE_EVENTS = 100
const LIVE_INTERVAL_MS = 40

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/**
 * Sends single live events one after another at a steady pace and measures each one's
 * POST → row visible in PostgreSQL (a poller looks every few ms for the ids not seen yet).
 */
interface Latencies {
  p50: number
  p95: number
  /** The POST's own time (until its 202). */
  post50: number
}

async function liveLatencies(base: string, pool: Pool, tag: string): Promise<Latencies> {
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
  const env = { DATABASE_URL: db.url, NATS_URL: machine.natsUrl, STREAM_NAMESPACE: t.namespace, LOG_LEVEL: 'info', ...SMALL_STREAMS }
  const ingestionPort = await freePort()
  const worker = spawnModule('@sluice/worker/server', { ...env, PORT: String(await freePort()) })
  const ingestion = spawnModule('@sluice/ingestion/server', { ...env, PORT: String(ingestionPort) })
  let importer: ReturnType<typeof spawnModule> | undefined
  try {
    await Promise.all([worker.waitFor(/worker consuming/, 30_000), ingestion.waitFor(/ingestion listening/, 30_000)])
    const base = `http://127.0.0.1:${ingestionPort}`

    const imported = async (source: string) => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE source = $1', [source])).rows[0]!.n)
    const jsm = await jetstreamManager(nc)
    await liveLatencies(base, pool, 'warmup')

    // The machine is shared with other engineers' tests and benchmarks: a pair of windows
    // (without, then during an import) is measured again once if the first pair misses.
    let report = ''
    let last: { without: Latencies; during: Latencies } | undefined
    for (let round = 1; round <= 2; round++) {
      const source = `import_r${round}`
      // 300,000 rows in 30 hour files: longer than the live measurement even at full speed.
      const at = Date.UTC(2024, 2, 2)
      const files = Array.from({ length: 30 }, (_, h) => ({
        name: hourFileName(at + h * 3_600_000),
        lines: Array.from({ length: 10_000 }, (_, k) => JSON.stringify(exportRow(h * 10_000 + k, at + h * 3_600_000 + k * 100))),
      }))
      const archive = join(dir, `large-${round}.zip`)
      await writeExportZip(archive, files)

      const without = await liveLatencies(base, pool, `quiet${round}`)
      importer = spawnModule('@sluice/cli/main', { ...env, LOG_LEVEL: 'warn' }, ['import', 'amplitude', archive, '--source', source, '--rejects', join(dir, 'rejects.jsonl')])
      await waitFor(async () => (await imported(source)) >= 10_000, { timeoutMs: 60_000, what: 'the import storing rows' })
      const before = await imported(source)
      const during = await liveLatencies(base, pool, `import${round}`)
      const after = await imported(source)
      await importer.kill('SIGKILL')
      // What is left of this import is not needed: purge it, let the batches in hand finish.
      await jsm.streams.purge(t.importStream)
      await waitFor(async () => (await jsm.consumers.info(t.importStream, t.importConsumer)).num_ack_pending === 0, { timeoutMs: 30_000, what: 'import batches in hand stored' })

      report =
        `round ${round}: without import p50 ${without.p50.toFixed(1)} ms, p95 ${without.p95.toFixed(1)} ms (the POST's 202: p50 ${without.post50.toFixed(1)} ms); ` +
        `during import p50 ${during.p50.toFixed(1)} ms, p95 ${during.p95.toFixed(1)} ms (202: p50 ${during.post50.toFixed(1)} ms); import stored ${after - before} rows meanwhile`
      ctx.diagnostic(report)
      assert.ok(after - before >= 5_000, `the import went on during the live measurement: ${report}`)
      assert.ok(after < 300_000, `the import had not finished before the live measurement ended: ${report}`)
      last = { without, during }
      if (during.p50 <= 2 * without.p50 && during.p95 <= 2 * without.p95) break
    }
    assert.ok(last!.during.p50 <= 2 * last!.without.p50, `p50 within 2×: ${report}`)
    assert.ok(last!.during.p95 <= 2 * last!.without.p95, `p95 within 2×: ${report}`)
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
