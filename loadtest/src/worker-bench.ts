import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pg from 'pg'
import { databaseOn, withAdmin } from './bench-databases.js'
import { dedupeKey, type Envelope } from '@sluice/contracts/envelope'
import { eventSubject, topology } from '@sluice/contracts/topology'
import { migrate } from '@sluice/db/migrate'
import { childEnvironment, commonSchema, jetstreamSchema, loadConfig } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger } from '@sluice/kit/logger'
import { copyRow } from '@sluice/worker/copy-row'
import { workerSchema } from '@sluice/worker/config'
import { measureCeiling, type Ceiling } from './ceiling.js'
import { coresUsed, cpuSnapshot, pidsNamed } from './cpu.js'
import { envelopeGenerator } from './envelopes.js'

/**
 * Worker benchmark (`npm run bench:worker`, under `flock /tmp/sluice-bench.lock`):
 * pre-fills a stream with N realistic envelopes, then measures 1, 2, 4 … worker
 * processes draining it into PostgreSQL, beside the raw ceiling measured in the same
 * run: a plain COPY of the same rows into an empty copy of `events` (same indexes,
 * constraints and triggers). Each measurement gets a fresh database and stream.
 */

const config = loadConfig({
  databaseUrl: commonSchema.databaseUrl,
  natsUrl: commonSchema.natsUrl,
  ...jetstreamSchema,
  batchSize: workerSchema.batchSize,
  events: { doc: 'Envelopes per measurement', format: 'positive-int', default: 300_000, env: 'BENCH_EVENTS' },
  replicas: { doc: 'Worker replica counts to measure', format: 'string-list', default: ['1', '2', '4'] as string[], env: 'BENCH_REPLICAS' },
  ceilingRuns: { doc: 'Ceiling measurements (the best counts)', format: 'positive-int', default: 1, env: 'BENCH_CEILING_RUNS' },
  extraSql: { doc: 'SQL run on the migrated template before measuring (e.g. indexes to price)', format: String, default: '', env: 'BENCH_EXTRA_SQL' },
  workerNodeArgs: { doc: 'Extra node arguments for the workers (e.g. --cpu-prof)', format: 'string-list', default: [] as string[], env: 'BENCH_WORKER_NODE_ARGS' },
  timeoutMs: { doc: 'Longest one drain may take', format: 'positive-int', default: 120_000, env: 'BENCH_TIMEOUT_MS' },
})

const log = createLogger({ service: 'bench', level: 'info' })
const TEMPLATE = 'sluice_bench_template'
const namespace = 'bench'
const t = topology(namespace)

const dbUrl = (name: string) => databaseOn(config.databaseUrl, name)
const admin = <T>(fn: (c: pg.Client) => Promise<T>) => withAdmin(config.databaseUrl, fn)

async function freshDatabase(name: string): Promise<string> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`)
  })
  return dbUrl(name)
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

/** Plain COPY of the rows into an empty copy of events (indexes, constraints, triggers), in a fresh database. */
async function ceilingOf(rows: string[][]): Promise<Ceiling> {
  const name = 'sluice_bench_ceiling'
  try {
    return await measureCeiling(await freshDatabase(name), rows)
  } finally {
    await dropDatabase(name)
  }
}

async function resetTopology(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc)
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${namespace.toUpperCase()}_`)) await jsm.streams.delete(name)
  }
  await setupJetStream(nc, t, config, log)
}

async function fill(nc: NatsConnection, envelopes: Envelope[], payloads: string[]): Promise<number> {
  const js = jetstream(nc)
  const started = performance.now()
  const window = 1024
  for (let i = 0; i < payloads.length; i += window) {
    const acks: Promise<unknown>[] = []
    for (let j = i; j < Math.min(i + window, payloads.length); j++) {
      const e = envelopes[j]!
      acks.push(js.publish(eventSubject(t, e.source), payloads[j], { msgID: dedupeKey(e.source, e.event_id) }))
    }
    await Promise.all(acks)
  }
  return Math.round(payloads.length / ((performance.now() - started) / 1000))
}

interface Worker {
  child: ChildProcess
  ready: Promise<void>
  exited: Promise<void>
  output(): string
}

async function untilReady(port: number, exited: Promise<void>): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  while (!gone) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/readiness`)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

function spawnWorker(port: number, env: Record<string, string>): Worker {
  // The compiled worker, as `npm start` runs it (`npm run bench:worker` builds first).
  const entry = fileURLToPath(new URL('../../services/worker/dist/server.js', import.meta.url))
  const child = spawn(process.execPath, [...config.workerNodeArgs, entry], { env: childEnvironment({ ...env, PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const onData = (d: Buffer) => (out += d.toString())
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { child, ready: untilReady(port, exited), exited, output: () => out }
}

/** The backends serving this database, and the server processes every write goes through. */
async function postgresPids(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND pid <> pg_backend_pid()) OR backend_type IN ('checkpointer', 'background writer', 'walwriter')`,
    )
    return rows.map((r) => r.pid)
  } finally {
    await c.end()
  }
}

async function consumerBacklog(nc: NatsConnection): Promise<number> {
  const info = await (await jetstreamManager(nc)).consumers.info(t.eventsStream, t.workerConsumer)
  return info.num_pending + info.num_ack_pending
}

interface DrainResult {
  replicas: number
  eventsPerSecond: number
  seconds: number
  storedBeforeAllReady: number
  cores: Record<string, number>
  /** CPU µs per event, per group: less sensitive than events/s to others' load on a shared machine. */
  cpuMicrosPerEvent: Record<string, number>
}

async function measureDrain(nc: NatsConnection, replicas: number, envelopes: Envelope[], payloads: string[]): Promise<DrainResult> {
  const name = 'sluice_bench_drain'
  const url = await freshDatabase(name)
  await resetTopology(nc)
  const publishRate = await fill(nc, envelopes, payloads)
  log.info({ replicas, publishRate }, 'stream filled')
  const n = payloads.length
  const workers: Worker[] = []
  try {
    for (let i = 0; i < replicas; i++) {
      workers.push(spawnWorker(39_100 + i, { DATABASE_URL: url, NATS_URL: config.natsUrl, STREAM_NAMESPACE: namespace, LOG_LEVEL: 'warn', HOST: '127.0.0.1' }))
    }
    await Promise.race([
      Promise.all(workers.map((w) => w.ready)),
      ...workers.map((w) => w.exited.then(() => Promise.reject(new Error(`a worker exited:\n${w.output()}`)))),
    ])
    const groups = { workers: workers.map((w) => w.child.pid!), postgres: await postgresPids(url), nats: await pidsNamed('nats-server') }
    const startBacklog = await consumerBacklog(nc)
    const before = await cpuSnapshot(groups)
    const started = performance.now()
    const deadline = Date.now() + config.timeoutMs
    for (;;) {
      if ((await consumerBacklog(nc)) === 0) break
      if (Date.now() > deadline) throw new Error(`drain did not finish within ${config.timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const seconds = (performance.now() - started) / 1000
    const after = await cpuSnapshot(groups)
    const check = new pg.Client({ connectionString: url })
    await check.connect()
    const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM events')
    await check.end()
    if (Number(rows[0]!.n) !== n) throw new Error(`expected ${n} rows, found ${rows[0]!.n}`)
    const cores = coresUsed(before, after)
    const cpuMicrosPerEvent = Object.fromEntries(Object.entries(cores).filter(([k]) => k !== 'machine').map(([k, c]) => [k, Math.round((c * seconds * 1e6) / startBacklog)]))
    return { replicas, eventsPerSecond: Math.round(startBacklog / seconds), seconds: round(seconds), storedBeforeAllReady: n - startBacklog, cores, cpuMicrosPerEvent }
  } finally {
    for (const w of workers) w.child.kill('SIGTERM')
    await Promise.all(workers.map((w) => w.exited))
    await dropDatabase(name)
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

const nc = await connect({ servers: config.natsUrl, noAsyncTraces: true })
try {
  await dropDatabase(TEMPLATE)
  await migrate(dbUrl(TEMPLATE), log)
  if (config.extraSql) {
    const c = new pg.Client({ connectionString: dbUrl(TEMPLATE) })
    await c.connect()
    await c.query(config.extraSql).finally(() => c.end())
  }

  const generate = envelopeGenerator(42, { runId: `b${Date.now().toString(36)}` })
  const envelopes = Array.from({ length: config.events }, (_, i) => generate(i))
  const payloads = envelopes.map((e) => JSON.stringify(e))
  const avgBytes = Math.round(payloads.reduce((a, p) => a + Buffer.byteLength(p), 0) / payloads.length)
  const rows: string[][] = []
  for (let i = 0; i < envelopes.length; i += config.batchSize) rows.push(envelopes.slice(i, i + config.batchSize).map((e) => copyRow(e)))

  const ceilings = []
  for (let i = 0; i < config.ceilingRuns; i++) ceilings.push(await ceilingOf(rows))
  const ceiling = ceilings.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a))
  log.info(ceiling, 'ceiling: plain COPY into an empty copy of events')

  const drains: DrainResult[] = []
  for (const r of config.replicas.map(Number)) {
    const result = await measureDrain(nc, r, envelopes, payloads)
    log.info(result, 'drained')
    drains.push(result)
  }

  const { rows: indexes } = await admin(async () => {
    const c = new pg.Client({ connectionString: dbUrl(TEMPLATE) })
    await c.connect()
    try {
      return await c.query<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'events' ORDER BY indexname`)
    } finally {
      await c.end()
    }
  })
  const summary = {
    at: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    events: config.events,
    avgEnvelopeBytes: avgBytes,
    batchSize: config.batchSize,
    indexes: indexes.map((i) => i.def),
    extraSql: config.extraSql || undefined,
    ceiling,
    drains: drains.map((d) => ({ ...d, ofCeiling: round(d.eventsPerSecond / ceiling.eventsPerSecond) })),
  }
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL(`../results/worker-${summary.at.replace(/[:.]/g, '-')}.json`, import.meta.url), JSON.stringify(summary, null, 2))
  process.stdout.write(`\n| replicas | events/s | × ceiling | seconds | cores: workers / postgres / nats / machine | CPU µs per event: workers / postgres / nats |\n|---|---|---|---|---|---|\n`)
  process.stdout.write(`| ceiling (plain COPY) | ${ceiling.eventsPerSecond} | 1.00 | ${ceiling.seconds} | | |\n`)
  for (const d of summary.drains) {
    const c = d.cpuMicrosPerEvent
    process.stdout.write(
      `| ${d.replicas} | ${d.eventsPerSecond} | ${d.ofCeiling.toFixed(2)} | ${d.seconds} | ${d.cores.workers} / ${d.cores.postgres} / ${d.cores.nats} / ${d.cores.machine} | ${c.workers} / ${c.postgres} / ${c.nats} |\n`,
    )
  }
  process.stdout.write(`\n${config.events} envelopes of ${avgBytes} bytes on average, ${ceiling.bytesPerRow} bytes per stored row; batch ${config.batchSize}\n`)
  process.stdout.write(`indexes on events: ${indexes.map((i) => i.def.replace(/^CREATE (UNIQUE )?INDEX (\S+) ON public\.events USING /, '$1$2 ')).join('; ')}\n`)
} finally {
  await jetstreamManager(nc)
    .then(async (jsm) => {
      for await (const name of jsm.streams.names()) if (name.startsWith(`${namespace.toUpperCase()}_`)) await jsm.streams.delete(name)
    })
    .catch(() => undefined)
  await nc.close()
  await dropDatabase(TEMPLATE).catch(() => undefined)
}
