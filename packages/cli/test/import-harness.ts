import { before, after } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Topology } from '@sluice/contracts/topology'
import { createPool, type Pool } from '@sluice/kit/pg'
import { exportRow, hourFileName, writeExportZip } from '@sluice/testkit/amplitude-export'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { machine, testLogger } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { spawnModule, type Spawned } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'

// JetStream reserves each stream's max_bytes on disk; the shared server runs out when many
// test files hold 8 GiB streams at once, and these tests need a few MB.
const SMALL_STREAMS = { STREAM_MAX_BYTES: String(256 * 1024 ** 2), IMPORT_STREAM_MAX_BYTES: String(256 * 1024 ** 2) }

/** A test file's database, streams and worker process, and the importer as a command. */
export interface ImportHarness {
  pool: Pool
  topology: Topology
  dir: string
  importer(...args: string[]): Spawned
  run(...args: string[]): Promise<{ code: number | null; out: string }>
  count(source: string): Promise<number>
  /** Resolves once both lanes have nothing pending or unacked. */
  drained(): Promise<void>
}

export const HOUR = 3_600_000
export const BASE = Date.UTC(2024, 2, 2, 0, 0, 0)

/** Registers before/after hooks; the harness is usable inside tests. */
export function importHarness(): ImportHarness {
  let db: TestDatabase
  let nc: NatsConnection
  let worker: Spawned
  let env: Record<string, string>
  const h = {} as ImportHarness
  const t = testTopology()
  h.topology = t

  before(async () => {
    db = await createTestDatabase()
    nc = await connect({ servers: machine.natsUrl })
    h.pool = createPool({ url: db.url, log: testLogger(), applicationName: 'import-test' })
    h.dir = await mkdtemp(join(tmpdir(), 'sluice-import-'))
    env = { DATABASE_URL: db.url, NATS_URL: machine.natsUrl, STREAM_NAMESPACE: t.namespace, LOG_LEVEL: 'info', ...SMALL_STREAMS }
    worker = spawnModule('@sluice/worker/server', { ...env, PORT: String(await freePort()), BATCH_MAX_WAIT_MS: '20' })
    await worker.waitFor(/worker consuming/, 30_000)
  })

  after(async () => {
    await worker?.kill('SIGTERM')
    await deleteTopology(nc, t)
    await nc.close()
    await h.pool.end()
    await db.drop()
    await rm(h.dir, { recursive: true, force: true })
  })

  h.importer = (...args) => spawnModule('@sluice/cli/main', { ...env, LOG_LEVEL: 'warn' }, ['import', 'amplitude', ...args])
  h.run = async (...args) => {
    const p = h.importer(...args)
    const { code } = await p.exited
    return { code, out: p.output() }
  }
  h.count = async (source) => Number((await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE source = $1', [source])).rows[0]!.n)
  h.drained = async () => {
    const jsm = await jetstreamManager(nc)
    await waitFor(
      async () => {
        for (const [stream, consumer] of [[t.eventsStream, t.workerConsumer], [t.importStream, t.importConsumer]] as const) {
          const i = await jsm.consumers.info(stream, consumer)
          if (i.num_pending > 0 || i.num_ack_pending > 0) return false
        }
        return true
      },
      { timeoutMs: 60_000, what: 'the import lane drained' },
    )
  }
  return h
}

export const summaryValue = (out: string, label: string) => Number(new RegExp(`${label}\\s+([\\d,]+)`).exec(out)?.[1]?.replaceAll(',', '') ?? NaN)

/** A zip of `hours` hour files of `perHour` rows whose ids are `<source>-<n>`. */
export async function bigArchive(dir: string, name: string, source: string, hours: number, perHour: number): Promise<{ path: string; total: number }> {
  const files = []
  for (let hr = 0; hr < hours; hr++) {
    files.push({ name: hourFileName(BASE + hr * HOUR), lines: Array.from({ length: perHour }, (_, k) => JSON.stringify(exportRow(hr * perHour + k, BASE + hr * HOUR + k * 10, { idPrefix: source }))) })
  }
  const path = join(dir, name)
  await writeExportZip(path, files)
  return { path, total: hours * perHour }
}

/** Kills an import part-way with `signal`, then runs it again: every event must be stored once. */
export async function stopAndResume(h: ImportHarness, signal: 'SIGKILL' | 'SIGINT', source: string): Promise<{ partial: number; total: number; stopped: { code: number | null; signal: NodeJS.Signals | null; out: string } }> {
  const { path, total } = await bigArchive(h.dir, `${source}.zip`, source, 4, 10_000)
  const p = h.importer(path, '--source', source, '--rejects', join(h.dir, `${source}.jsonl`))
  await waitFor(async () => (await h.count(source)) >= 2_000, { timeoutMs: 60_000, what: 'part of the import stored' })
  const stopped = await p.kill(signal)
  await h.drained()
  const partial = await h.count(source)
  const rerun = await h.run(path, '--source', source, '--rejects', join(h.dir, `${source}.jsonl`))
  if (rerun.code !== 0) throw new Error(`re-run failed:\n${rerun.out}`)
  await h.drained()
  return { partial, total, stopped: { ...stopped, out: p.output() } }
}

/** Ids `<source>-0` … `<source>-(total-1)` not in events. */
export async function missingIds(pool: Pool, source: string, total: number): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM generate_series(0, $1::int - 1) AS i WHERE NOT EXISTS (SELECT 1 FROM events WHERE source = $2 AND event_id = $2 || '-' || i)`,
    [total, source],
  )
  return Number(rows[0]!.n)
}
