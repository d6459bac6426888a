import { spawn } from 'node:child_process'
import { readFile, stat, mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pg from 'pg'
import { databaseOn, withAdmin } from './bench-databases.js'
import { topology } from '@sluice/contracts/topology'
import { migrate } from '@sluice/db/migrate'
import { childEnvironment, commonSchema, jetstreamSchema, loadConfig } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger } from '@sluice/kit/logger'
import { writeAmplitudeArchive } from './amplitude-archive.js'
import { coresUsed, cpuSnapshot, pidsNamed } from './cpu.js'

/**
 * Import benchmark (`npm run bench:import`, under `flock /tmp/sluice-bench.lock`): a
 * generated Amplitude export of BENCH_IMPORT_ROWS rows is imported by the compiled
 * `sluice import amplitude` into a fresh database while BENCH_WORKERS compiled workers
 * store it. Reports rows/s stored (importer start → every row committed), the importer's
 * own rate, its peak RSS (VmHWM), and the CPU each group spent per row.
 */

const config = loadConfig({
  databaseUrl: commonSchema.databaseUrl,
  natsUrl: commonSchema.natsUrl,
  ...jetstreamSchema,
  rows: { doc: 'Rows in the generated archive', format: 'positive-int', default: 1_000_000, env: 'BENCH_IMPORT_ROWS' },
  workers: { doc: 'Worker replicas storing the import', format: 'positive-int', default: 2, env: 'BENCH_WORKERS' },
  archiveDir: { doc: 'Where the generated archive is kept between runs', format: String, default: '/tmp', env: 'BENCH_ARCHIVE_DIR' },
  timeoutMs: { doc: 'Longest the import may take', format: 'positive-int', default: 600_000, env: 'BENCH_TIMEOUT_MS' },
})

const log = createLogger({ service: 'bench', level: 'info' })
const namespace = 'benchimport'
const t = topology(namespace)
const DB = 'sluice_bench_import'
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url))

const dbUrl = (name: string) => databaseOn(config.databaseUrl, name)
const admin = async (sql: string): Promise<void> => {
  await withAdmin(config.databaseUrl, (c) => c.query(sql))
}

async function deleteStreams(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc)
  for await (const name of jsm.streams.names()) if (name.startsWith(`${namespace.toUpperCase()}_`)) await jsm.streams.delete(name)
}

async function backlog(nc: NatsConnection): Promise<number> {
  const info = await (await jetstreamManager(nc)).consumers.info(t.importStream, t.importConsumer)
  return info.num_pending + info.num_ack_pending
}

async function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)
  return m ? Number(m[1]) : undefined
}

function run(entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [entry, ...args], { env: childEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, output: () => out }
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d

const archive = `${config.archiveDir}/sluice-amplitude-${config.rows}.zip`
if (!(await stat(archive).catch(() => undefined))) {
  const started = performance.now()
  const { bytes, files } = await writeAmplitudeArchive(archive, config.rows)
  log.info({ archive, bytes, files, seconds: round((performance.now() - started) / 1000) }, 'archive generated')
}
const archiveBytes = (await stat(archive)).size

const nc = await connect({ servers: config.natsUrl, noAsyncTraces: true })
const workers: ReturnType<typeof run>[] = []
try {
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await migrate(dbUrl(DB), log)
  await deleteStreams(nc)
  await setupJetStream(nc, t, config, log)
  const env = { DATABASE_URL: dbUrl(DB), NATS_URL: config.natsUrl, STREAM_NAMESPACE: namespace, LOG_LEVEL: 'warn' }
  for (let i = 0; i < config.workers; i++) workers.push(run(root('services/worker/dist/server.js'), [], { ...env, PORT: String(39_200 + i) }))
  for (let i = 0; i < config.workers; i++) {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${39_200 + i}/health/readiness`).then((r) => r.ok, () => false)
      if (ok) break
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const pgc = new pg.Client({ connectionString: dbUrl(DB) })
  await pgc.connect()
  const { rows: backends } = await pgc.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND pid <> pg_backend_pid()) OR backend_type IN ('checkpointer', 'background writer', 'walwriter')`,
  )

  const started = performance.now()
  const importer = run(root('packages/cli/dist/main.js'), ['import', 'amplitude', archive, '--rejects', '/tmp/sluice-bench-import-rejects.jsonl'], env)
  const groups = { importer: [importer.child.pid!], workers: workers.map((w) => w.child.pid!), postgres: backends.map((b) => b.pid), nats: await pidsNamed('nats-server') }
  const before = await cpuSnapshot(groups)
  let peakKb = 0
  let importerSeconds: number | undefined
  let importerCpu: ReturnType<typeof coresUsed> | undefined
  void importer.exited.then(() => (importerSeconds = (performance.now() - started) / 1000))
  for (;;) {
    if (importerSeconds === undefined) {
      peakKb = Math.max(peakKb, (await statusKb(importer.child.pid!, 'VmHWM')) ?? 0)
      // The importer's own CPU, read while it is alive.
      const snap = await cpuSnapshot({ importer: [importer.child.pid!] })
      if (snap.groups.importer!.size > 0) importerCpu = coresUsed({ ...before, groups: { importer: before.groups.importer! } }, snap)
    } else if ((await backlog(nc)) === 0) break
    if (performance.now() - started > config.timeoutMs) throw new Error(`import not stored within ${config.timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const seconds = (performance.now() - started) / 1000
  const after = await cpuSnapshot(groups)
  const exitCode = await importer.exited
  if (exitCode !== 0) throw new Error(`importer exited ${exitCode}:\n${importer.output()}`)
  const { rows } = await pgc.query<{ n: string }>(`SELECT count(*) AS n FROM events`)
  await pgc.end()
  const stored = Number(rows[0]!.n)
  const cores = coresUsed(before, after)
  const importerCoreSeconds = (importerCpu?.importer ?? 0) * (importerSeconds ?? seconds)
  const cpuMicrosPerRow: Record<string, number> = { importer: Math.round((importerCoreSeconds * 1e6) / stored) }
  for (const k of ['workers', 'postgres', 'nats'] as const) cpuMicrosPerRow[k] = Math.round((cores[k]! * seconds * 1e6) / stored)
  const summary = {
    at: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    rows: config.rows,
    stored,
    archiveBytes,
    workers: config.workers,
    seconds: round(seconds),
    rowsPerSecondStored: Math.round(stored / seconds),
    importerSeconds: round(importerSeconds ?? 0),
    importerRowsPerSecond: Math.round(config.rows / (importerSeconds ?? seconds)),
    importerPeakRssMb: round(peakKb / 1024, 1),
    cores,
    cpuMicrosPerRow,
    importerSummary: importer.output().trim(),
  }
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL(`../results/import-${summary.at.replace(/[:.]/g, '-')}.json`, import.meta.url), JSON.stringify(summary, null, 2))
  process.stdout.write(`${summary.importerSummary}\n\n`)
  process.stdout.write(
    `| rows | workers | rows/s stored | importer rows/s | importer peak RSS | cores: workers / postgres / nats / machine | CPU µs per row: importer / workers / postgres / nats |\n|---|---|---|---|---|---|---|\n`,
  )
  process.stdout.write(
    `| ${stored.toLocaleString('en-US')} | ${config.workers} | ${summary.rowsPerSecondStored.toLocaleString('en-US')} | ${summary.importerRowsPerSecond.toLocaleString('en-US')} | ${summary.importerPeakRssMb} MB | ${cores.workers} / ${cores.postgres} / ${cores.nats} / ${cores.machine} | ${cpuMicrosPerRow.importer} / ${cpuMicrosPerRow.workers} / ${cpuMicrosPerRow.postgres} / ${cpuMicrosPerRow.nats} |\n`,
  )
  if (stored !== config.rows) throw new Error(`expected ${config.rows} rows stored, found ${stored}`)
} finally {
  for (const w of workers) w.child.kill('SIGTERM')
  await Promise.all(workers.map((w) => w.exited))
  await deleteStreams(nc).catch(() => undefined)
  await nc.close()
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined)
}
