import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pg from 'pg'
import { databaseOn, withAdmin } from './bench-databases.js'
import { to as copyTo } from 'pg-copy-streams'
import { ENVELOPE_COLUMNS } from '@sluice/contracts/envelope'
import { topology, type Topology } from '@sluice/contracts/topology'
import { migrate } from '@sluice/db/migrate'
import { childEnvironment, commonSchema, jetstreamSchema, loadConfigOrExit } from '@sluice/kit/config'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger } from '@sluice/kit/logger'
import { freePort } from '@sluice/testkit/ports'
import { startPrivateNats, type PrivateNats } from '@sluice/testkit/private-nats'
import { workerSchema } from '@sluice/worker/config'
import { audit, type Audit, type RequestRecord } from './audit.js'
import { burstTable, runBurst, type BurstPost } from './burst.js'
import { measureCeiling, type Ceiling } from './ceiling.js'
import { processTicks } from './cpu.js'
import { drive, type DriveResult } from './drive.js'
import { natsPid } from './ingestion-server.js'
import { bucketDelta, histogramQuantile, scrape, sum, type Scrape } from './prometheus.js'
import { peakRssBytes } from './proc-rss.js'
import { quantile, StoredLatency } from './stored-latency.js'
import { SCENARIOS, workload, type ScenarioName } from './workloads.js'

/**
 * The end-to-end benchmark (`npm run bench`, under `flock /tmp/sluice-bench.lock`).
 *
 * Starts Sluice as `npm start` runs it — the compiled ingestion and `--workers` worker
 * processes — against a nats-server of its own and a database of its own
 * (`sluice_bench_e2e`, dropped at the end), or uses a running one (`--url`). Then, pass
 * by pass (`--pass scenario[:seconds[:events per second]]`), drives the scenario for a
 * fixed time, waits until the stream is drained, and reports: events offered, accepted,
 * rejected, duplicates, stored (`count(*)` delta), dead letters, accepted-but-not-stored
 * (per request, from the id prefix each request's events carry: must be 0), the stored
 * rate sustained over drive + drain, POST → stored latency of sampled events, the HTTP
 * latency, CPU and peak RSS per process, and the ceiling: a plain COPY of the same rows
 * into an empty copy of `events` in a fresh database, so the rate is quoted as a ratio.
 * A line a second shows progress. Exits non-zero when any event was lost.
 */

const { values } = parseArgs({
  options: {
    pass: { type: 'string', multiple: true },
    workers: { type: 'string', default: '2' },
    url: { type: 'string' },
    'worker-urls': { type: 'string', default: 'http://127.0.0.1:3003,http://127.0.0.1:3004' },
    connections: { type: 'string' },
    'ceiling-rows': { type: 'string', default: '100000' },
    'drain-timeout': { type: 'string', default: '150' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    /** SQL run on the bench's database (and the ceiling's) after migrating, e.g. 'ALTER TABLE events DISABLE TRIGGER USER' to price the rollups. */
    sql: { type: 'string' },
    /** After the passes, POSTSxSIZE publisher posts of SIZE events one at a time, each timed alone (burst.ts); alone when no --pass is given. */
    burst: { type: 'string' },
    /** Extra environment for the Sluice processes, e.g. --env BATCHES_IN_FLIGHT=2 */
    env: { type: 'string', multiple: true, default: [] },
  },
})

const config = loadConfigOrExit({
  databaseUrl: commonSchema.databaseUrl,
  natsUrl: commonSchema.natsUrl,
  streamNamespace: commonSchema.streamNamespace,
  ...jetstreamSchema,
  batchSize: workerSchema.batchSize,
})
const log = createLogger({ service: 'bench', level: 'warn' })
const external = values.url !== undefined
const OWN_DB = 'sluice_bench_e2e'
const CEILING_DB = 'sluice_bench_e2e_ceiling'
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const results = new URL('../results/', import.meta.url)
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))

interface Pass {
  scenario: ScenarioName
  seconds: number
  rate?: number
}

function parsePass(spec: string): Pass {
  const [scenario, seconds, rate] = spec.split(':')
  if (!SCENARIOS.includes(scenario as ScenarioName)) throw new Error(`unknown scenario ${scenario} (${SCENARIOS.join(', ')})`)
  return { scenario: scenario as ScenarioName, seconds: Number(seconds ?? 60), ...(rate ? { rate: Number(rate) } : {}) }
}
const passes = (values.pass ?? (values.burst ? [] : ['publisher:60', 'publisher:30:10000', 'single:30'])).map(parsePass)
const burst = values.burst?.match(/^(\d+)x(\d+)$/)
if (values.burst && !burst) throw new Error(`--burst ${values.burst}: expected POSTSxSIZE, e.g. 8x19000`)

const dbUrl = (name: string) => databaseOn(config.databaseUrl, name)
const admin = <T>(fn: (c: pg.Client) => Promise<T>) => withAdmin(config.databaseUrl, fn)

async function runSql(url: string): Promise<void> {
  if (!values.sql) return
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(values.sql).finally(() => c.end())
}

const dropDatabase = (name: string) => admin((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))

// ── Sluice: started here, or the running one ───────────────────────────────────────

interface Proc {
  label: string
  child: ChildProcess
  url: string
  exited: Promise<void>
}

interface Sluice {
  ingestionUrl: string
  workerUrls: string[]
  databaseUrl: string
  natsUrl: string
  topology: Topology
  /** Processes whose CPU and memory are reported, by label. */
  pids(): Record<string, number>
  stop(): Promise<void>
}

function spawnService(label: string, service: string, port: number, env: Record<string, string>, nodeArgs: string[]): Proc {
  // The compiled service, as `npm start` runs it (`npm run bench` builds first).
  const entry = fileURLToPath(new URL(`../../services/${service}/dist/server.js`, import.meta.url))
  const child = spawn(process.execPath, [...nodeArgs, entry], { env: childEnvironment({ LOG_LEVEL: 'error', ...env, PORT: String(port), HOST: '127.0.0.1' }), stdio: ['ignore', 'inherit', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { label, child, url: `http://127.0.0.1:${port}`, exited }
}

async function ready(p: Proc, timeoutMs = 60_000): Promise<void> {
  let gone = false
  void p.exited.then(() => (gone = true))
  const deadline = Date.now() + timeoutMs
  while (!gone && Date.now() < deadline) {
    try {
      if ((await fetch(`${p.url}/health/readiness`)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${p.label} did not become ready${gone ? ' (it exited)' : ''}`)
}

async function startSluice(workers: number): Promise<Sluice> {
  const nats: PrivateNats = await startPrivateNats()
  const databaseUrl = dbUrl(OWN_DB)
  await dropDatabase(OWN_DB)
  await migrate(databaseUrl, log)
  await runSql(databaseUrl)
  const t = topology('e2e')
  const nc = await connect({ servers: nats.url })
  await setupJetStream(nc, t, config, log)
  await nc.close()
  const env = { ...extraEnv, DATABASE_URL: databaseUrl, NATS_URL: nats.url, STREAM_NAMESPACE: 'e2e' }
  const profileDir = fileURLToPath(new URL(`profile-e2e-${stamp}/`, results))
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
  const procs: Proc[] = [spawnService('ingestion', 'ingestion', await freePort(), env, nodeArgs)]
  for (let i = 1; i <= workers; i++) procs.push(spawnService(`worker-${i}`, 'worker', await freePort(), env, nodeArgs))
  const stop = async () => {
    for (const p of procs) p.child.kill('SIGTERM')
    await Promise.all(procs.map((p) => p.exited))
    await nats.destroy()
    if (!values.keep) await dropDatabase(OWN_DB)
  }
  try {
    await Promise.all(procs.map((p) => ready(p)))
  } catch (err) {
    await stop()
    throw err
  }
  const natsServer = await natsPid(nats)
  return {
    ingestionUrl: procs[0]!.url,
    workerUrls: procs.slice(1).map((p) => p.url),
    databaseUrl,
    natsUrl: nats.url,
    topology: t,
    pids: () => ({ ...Object.fromEntries(procs.map((p) => [p.label, p.child.pid!])), 'nats-server': natsServer }),
    stop,
  }
}

function runningSluice(): Sluice {
  return {
    ingestionUrl: values.url!,
    workerUrls: values['worker-urls'].split(',').filter(Boolean),
    databaseUrl: config.databaseUrl,
    natsUrl: config.natsUrl,
    topology: topology(config.streamNamespace),
    pids: () => ({}),
    stop: async () => undefined,
  }
}

// ── One pass ───────────────────────────────────────────────────────────────────────

interface ProcessFigures {
  cores: number
  cpuMicrosPerEvent: number
  peakRssMiB: number
}

interface PassResult {
  pass: string
  workers: number | undefined
  driveSeconds: number
  drainSeconds: number
  audit: Audit
  serverAccepted: number
  workerInserted: number
  workerDuplicates: number
  /** Messages per worker batch, on average. */
  meanBatchSize: number
  storedPerSecond: number
  storedPerSecondWhileDriving: number
  backlogAtDriveEnd: number
  ceiling?: Ceiling
  ofCeiling?: number
  /** Percentiles of events (every event equally likely to be sampled); max over every sample. */
  postToStoredMs: { samples: number; unseen: number; p50?: number; p95?: number; p99?: number; max?: number }
  /** The last event of each request that marks one (publisher posts): the slowest of its post. */
  lastEventMs?: { samples: number; p50?: number; max?: number }
  workerLatencyMs: { p50?: number; p95?: number; p99?: number }
  http: DriveResult['latencyMs'] & { requestsPerSecond: number; errors: number; timeouts: number; non2xx: number }
  processes: Record<string, ProcessFigures>
  /** Pids of the processes above (to match --profile output, named CPU.<date>.<pid>…). */
  pids: Record<string, number>
  loadGeneratorCores: number
  machineCores: number
  timeline: { s: number; offered: number; accepted: number; stored: number; backlog: number; p99?: number }[]
}

async function backlog(nc: NatsConnection, t: Topology): Promise<number> {
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(t.eventsStream, t.workerConsumer)
    return info.num_pending + info.num_ack_pending
  } catch {
    return -1
  }
}

/** Resolves once the stream is empty and `count(*)` has not moved for 1.5 s. */
async function settled(db: pg.Client, nc: NatsConnection, t: Topology, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = -1
  let since = Date.now()
  for (;;) {
    const n = await count(db, 'SELECT count(*) AS n FROM events')
    const b = await backlog(nc, t)
    if (n !== last || b !== 0) {
      last = n
      since = Date.now()
    } else if (Date.now() - since >= 1_500) return
    if (Date.now() > deadline) throw new Error(`events still arriving ${timeoutMs / 1000} s after the drive (backlog ${b})`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

async function count(c: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await c.query<{ n: string }>(sql, params)
  return Number(rows[0]?.n ?? 0)
}

async function backendPids(c: pg.Client, exclude: number[]): Promise<number[]> {
  const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND NOT (pid = ANY($1::int[]))', [exclude])
  return rows.map((r) => r.pid)
}

function machineBusyTicks(): number {
  // First line of /proc/stat: cpu user nice system idle iowait …
  const fields = readProcStat()
  return fields.reduce((a, b) => a + b, 0) - (fields[3] ?? 0) - (fields[4] ?? 0)
}

function readProcStat(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
}

const EMPTY: Scrape = new Map()
const fmt = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'))

/** The rows a pass stored, as COPY text in chunks of the worker's batch size. */
async function passRows(url: string, since: Date, limit: number): Promise<string[][]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const stream = c.query(copyTo(`COPY (SELECT ${ENVELOPE_COLUMNS.join(', ')} FROM events WHERE stored_at >= '${since.toISOString()}' LIMIT ${limit}) TO STDOUT`))
    const chunks: string[][] = [[]]
    let rest = ''
    for await (const buf of stream as AsyncIterable<Buffer>) {
      const text = rest + buf.toString('utf8')
      const lines = text.split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        let chunk = chunks.at(-1)!
        if (chunk.length >= config.batchSize) chunks.push((chunk = []))
        chunk.push(`${line}\n`)
      }
    }
    return chunks.filter((ch) => ch.length > 0)
  } finally {
    await c.end()
  }
}

async function ceilingOf(rows: string[][]): Promise<Ceiling> {
  await dropDatabase(CEILING_DB)
  await migrate(dbUrl(CEILING_DB), log)
  await runSql(dbUrl(CEILING_DB))
  try {
    return await measureCeiling(dbUrl(CEILING_DB), rows)
  } finally {
    await dropDatabase(CEILING_DB)
  }
}

async function runPass(sluice: Sluice, nc: NatsConnection, pass: Pass, workers: number | undefined): Promise<PassResult> {
  const w = await workload(pass.scenario, { rate: pass.rate, connections: values.connections ? Number(values.connections) : undefined })
  const poller = new pg.Client({ connectionString: sluice.databaseUrl, application_name: 'bench-latency' })
  const db = new pg.Client({ connectionString: sluice.databaseUrl, application_name: 'bench-audit' })
  await poller.connect()
  await db.connect()
  const own = [await count(poller, 'SELECT pg_backend_pid() AS n'), await count(db, 'SELECT pg_backend_pid() AS n')]
  try {
    const passStart = new Date(Date.now() - 1)
    const countBefore = await count(db, 'SELECT count(*) AS n FROM events')
    const lettersBefore = await count(db, 'SELECT count(*) AS n FROM dead_letters')
    const ingestionBefore = await scrape(sluice.ingestionUrl)
    const workersBefore = await Promise.all(sluice.workerUrls.map((u) => scrape(u)))
    const pids = sluice.pids()
    const pgBefore = await backendPids(db, own)
    const ticksBefore = new Map<number, number>()
    for (const pid of [...Object.values(pids), ...pgBefore]) ticksBefore.set(pid, (await processTicks(pid)) ?? 0)
    const busyBefore = machineBusyTicks()
    const selfBefore = process.cpuUsage()

    const latency = new StoredLatency(poller)
    latency.start()
    const timeline: PassResult['timeline'] = []
    let offered = 0
    let accepted = 0
    let lastWorkers = workersBefore
    let lastOffered = 0
    let lastAccepted = 0
    let phase = 'driving'
    let t0 = Date.now()
    let tick = 0
    let lastBacklog = 0
    let ticking = true
    let lastAt = Date.now()
    const progress = (async () => {
      while (ticking) {
        await new Promise((r) => setTimeout(r, Math.max(0, lastAt + 1_000 - Date.now())))
        if (!ticking) break
        const now = await Promise.all(sluice.workerUrls.map((u) => scrape(u)))
        const at = Date.now()
        const per = 1000 / Math.max(1, at - lastAt)
        lastAt = at
        const inserted = now.reduce((a, s, i) => a + sum(s, 'sluice_worker_events_inserted_total') - sum(lastWorkers[i] ?? EMPTY, 'sluice_worker_events_inserted_total'), 0)
        lastWorkers = now
        lastBacklog = await backlog(nc, sluice.topology)
        const recent = latency.seen.filter((x) => !x.last && x.at > Date.now() - 5_000).map((x) => x.ms)
        const p99 = quantile(recent, 0.99)
        tick++
        const row = {
          s: tick,
          offered: Math.round((offered - lastOffered) * per),
          accepted: Math.round((accepted - lastAccepted) * per),
          stored: Math.round(inserted * per),
          backlog: lastBacklog,
          ...(p99 !== undefined ? { p99 } : {}),
        }
        lastOffered = offered
        lastAccepted = accepted
        timeline.push(row)
        const line = `${w.name.padEnd(16)} ${phase} ${String(Math.round((Date.now() - t0) / 1000)).padStart(3)} s  offered ${fmt(row.offered).padStart(7)}/s  accepted ${fmt(row.accepted).padStart(7)}/s  stored ${fmt(row.stored).padStart(7)}/s  backlog ${fmt(row.backlog).padStart(9)}  POST→stored p99 (5 s) ${fmt(p99)} ms`
        process.stderr.write(process.stderr.isTTY ? `\r${line}\u001b[K` : `${line}\n`)
      }
    })()

    let result: DriveResult
    let drainedAt: number
    try {
      result = await drive(w, {
        url: sluice.ingestionUrl,
        seconds: pass.seconds,
        onSample: (s) => latency.add(s),
        onSend: (events) => (offered += events),
        onAnswer: (r: RequestRecord) => {
          accepted += r.accepted
          if (r.status < 200 || r.status >= 300) latency.forget(r.prefix)
        },
      })
      // Requests cut off when the time was up have no answer; their samples may never come.
      for (const r of result.records) if (r.status === 0) latency.forget(r.prefix)
      phase = 'draining'
      t0 = Date.now()
      const deadline = Date.now() + Number(values['drain-timeout']) * 1000
      for (;;) {
        const b = await backlog(nc, sluice.topology)
        if (b === 0) break
        if (Date.now() > deadline) throw new Error(`the stream was not drained within ${values['drain-timeout']} s (backlog ${b})`)
        await new Promise((r) => setTimeout(r, 50))
      }
      drainedAt = Date.now()
    } finally {
      ticking = false
      await progress
      if (process.stderr.isTTY) process.stderr.write('\n')
    }
    const backlogAtDriveEnd = timeline.find((x) => x.s >= Math.round(pass.seconds))?.backlog ?? lastBacklog
    const unseen = await latency.settle(5_000)
    await latency.stop()

    // CPU and memory over drive + drain.
    const self = process.cpuUsage(selfBefore)
    const busy = machineBusyTicks() - busyBefore
    const pgAfter = await backendPids(db, own)
    const seconds = (drainedAt - result.startedAt) / 1000

    // A post cut off when the time was up may still be publishing its last slices after the
    // stream first looked empty: wait until nothing more arrives, then read every count in
    // one snapshot, so the total and the counts per prefix agree.
    await settled(db, nc, sluice.topology)
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    const countAfter = await count(db, 'SELECT count(*) AS n FROM events')
    const lettersAfter = await count(db, 'SELECT count(*) AS n FROM dead_letters')
    const { rows: byPrefix } = await db.query<{ p: string; n: string }>(
      `SELECT split_part(event_id, '-', 1) AS p, count(*) AS n FROM events WHERE stored_at >= $1 GROUP BY 1`,
      [passStart],
    )
    await db.query('COMMIT')
    const a = audit({
      requests: result.records,
      storedByPrefix: new Map(byPrefix.map((r) => [r.p, Number(r.n)])),
      storedDelta: countAfter - countBefore,
      deadLettersDelta: lettersAfter - lettersBefore,
    })
    const ingestionAfter = await scrape(sluice.ingestionUrl)
    const workersAfter = await Promise.all(sluice.workerUrls.map((u) => scrape(u)))
    const delta = (after: Scrape[], before: Scrape[], name: string) => after.reduce((acc, s, i) => acc + sum(s, name) - sum(before[i] ?? EMPTY, name), 0)

    const processes: Record<string, ProcessFigures> = {}
    const figures = async (pidList: number[]): Promise<ProcessFigures> => {
      let ticks = 0
      let rss = 0
      for (const pid of pidList) {
        ticks += ((await processTicks(pid)) ?? ticksBefore.get(pid) ?? 0) - (ticksBefore.get(pid) ?? 0)
        rss = Math.max(rss, peakRssBytes(pid))
      }
      return {
        cores: Math.round((ticks / 100 / seconds) * 100) / 100,
        cpuMicrosPerEvent: Math.round((ticks * 10_000 * 10) / Math.max(1, a.stored)) / 10,
        peakRssMiB: Math.round(rss / 1024 ** 2),
      }
    }
    for (const [label, pid] of Object.entries(pids)) processes[label] = await figures([pid])
    processes[`postgres (${new Set([...pgBefore, ...pgAfter]).size} backends)`] = await figures([...new Set([...pgBefore, ...pgAfter])])

    const samples = latency.seen.filter((x) => !x.last).map((x) => x.ms)
    const lasts = latency.seen.filter((x) => x.last).map((x) => x.ms)
    const workerBuckets = bucketDelta(workersAfter, workersBefore, 'sluice_worker_end_to_end_latency_seconds')
    const q = (x: number) => {
      const v = histogramQuantile(workerBuckets, x)
      return v === undefined ? undefined : Math.round(v * 1000)
    }
    const out: PassResult = {
      pass: w.name,
      workers,
      driveSeconds: Math.round(result.seconds * 10) / 10,
      drainSeconds: Math.round((drainedAt - result.endedAt) / 100) / 10,
      audit: a,
      serverAccepted: sum(ingestionAfter, 'sluice_ingestion_events_total', 'outcome="accepted"') - sum(ingestionBefore, 'sluice_ingestion_events_total', 'outcome="accepted"'),
      workerInserted: delta(workersAfter, workersBefore, 'sluice_worker_events_inserted_total'),
      workerDuplicates: delta(workersAfter, workersBefore, 'sluice_worker_events_duplicate_total'),
      meanBatchSize: Math.round(delta(workersAfter, workersBefore, 'sluice_worker_batch_size_sum') / Math.max(1, delta(workersAfter, workersBefore, 'sluice_worker_batch_size_count'))),
      storedPerSecond: Math.round(a.stored / seconds),
      storedPerSecondWhileDriving: Math.round(timeline.filter((x) => x.s <= Math.round(pass.seconds)).reduce((acc, x) => acc + x.stored, 0) / Math.max(1, Math.min(timeline.length, Math.round(pass.seconds)))),
      backlogAtDriveEnd,
      postToStoredMs: { samples: samples.length, unseen, p50: quantile(samples, 0.5), p95: quantile(samples, 0.95), p99: quantile(samples, 0.99), max: quantile([...samples, ...lasts], 1) },
      ...(lasts.length > 0 ? { lastEventMs: { samples: lasts.length, p50: quantile(lasts, 0.5), max: quantile(lasts, 1) } } : {}),
      workerLatencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99) },
      http: { ...result.latencyMs, requestsPerSecond: result.requestsPerSecond, errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx },
      processes,
      pids,
      loadGeneratorCores: Math.round(((self.user + self.system) / 1e6 / seconds) * 100) / 100,
      machineCores: Math.round((busy / 100 / seconds) * 100) / 100,
      timeline,
    }
    // The ceiling of the same rows, unless this pass was paced (it measures latency, not rate).
    if (!pass.rate && a.stored > 0 && Number(values['ceiling-rows']) > 0) {
      process.stderr.write(`${w.name}: ceiling (plain COPY of up to ${values['ceiling-rows']} of the same rows into an empty copy of events)…\n`)
      out.ceiling = await ceilingOf(await passRows(sluice.databaseUrl, passStart, Number(values['ceiling-rows'])))
      out.ofCeiling = Math.round((out.storedPerSecond / out.ceiling.eventsPerSecond) * 100) / 100
    }
    return out
  } finally {
    await poller.end()
    await db.end()
  }
}

// ── Report ─────────────────────────────────────────────────────────────────────────

function table(rs: PassResult[]): string {
  const lines = [
    '| pass | workers | offered | accepted | rejected | duplicates | stored | dead letters | accepted, not stored | stored = accepted | stored/s (drive + drain) | ceiling/s | × ceiling | POST→stored p50 / p95 / p99 ms (events sampled) | last event of a post p50 / max ms | worker received→commit p50 / p99 ms | HTTP req/s | HTTP p50 / p99 ms | mean batch |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rs) {
    const l = r.postToStoredMs
    lines.push(
      `| ${r.pass} | ${r.workers ?? '?'} | ${fmt(r.audit.offered)} | ${fmt(r.audit.accepted)} | ${fmt(r.audit.rejected)} | ${fmt(r.audit.duplicates)} | ${fmt(r.audit.stored)} | ${fmt(r.audit.deadLetters)} | ${fmt(r.audit.acceptedNotStored)} | ${r.audit.storedEqualsAccepted ? 'yes' : 'NO'} | ${fmt(r.storedPerSecond)} | ${fmt(r.ceiling?.eventsPerSecond)} | ${r.ofCeiling?.toFixed(2) ?? '–'} | ${fmt(l.p50)} / ${fmt(l.p95)} / ${fmt(l.p99)} (${l.samples} samples) | ${r.lastEventMs ? `${fmt(r.lastEventMs.p50)} / ${fmt(r.lastEventMs.max)} (${r.lastEventMs.samples} posts)` : '–'} | ${fmt(r.workerLatencyMs.p50)} / ${fmt(r.workerLatencyMs.p99)} | ${r.http.requestsPerSecond < 100 ? r.http.requestsPerSecond : fmt(r.http.requestsPerSecond)} | ${fmt(r.http.p50)} / ${fmt(r.http.p99)} | ${fmt(r.meanBatchSize)} |`,
    )
  }
  lines.push('', '| pass | process | cores | CPU µs per stored event | peak RSS MiB |', '|---|---|---|---|---|')
  for (const r of rs) {
    for (const [label, p] of Object.entries(r.processes)) lines.push(`| ${r.pass} | ${label} | ${p.cores} | ${p.cpuMicrosPerEvent} | ${p.peakRssMiB} |`)
    lines.push(`| ${r.pass} | load generator (this process) | ${r.loadGeneratorCores} | | |`, `| ${r.pass} | machine (everyone) | ${r.machineCores} | | |`)
  }
  return lines.join('\n')
}

const workers = external ? undefined : Number(values.workers)
const sluice = external ? runningSluice() : await startSluice(workers!)
const nc = await connect({ servers: sluice.natsUrl, noAsyncTraces: true })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping Sluice\n`)
    void sluice.stop().finally(() => process.exit(130))
  })
}
const done: PassResult[] = []
let burstPosts: BurstPost[] | undefined
const reportFile = new URL(`e2e-${stamp}.json`, results)
const report = () => ({
  at: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 1024 ** 3)} GiB`,
  node: process.version,
  mode: external ? `running Sluice at ${values.url}` : `own Sluice: ingestion + ${workers} workers, private nats-server, database ${OWN_DB}`,
  env: extraEnv,
  sql: values.sql,
  passes: done,
  ...(burstPosts ? { burst: burstPosts } : {}),
})
await mkdir(results, { recursive: true })
let failed = false
try {
  for (const pass of passes) {
    const r = await runPass(sluice, nc, pass, workers)
    done.push(r)
    await writeFile(reportFile, `${JSON.stringify(report(), null, 2)}\n`)
    process.stderr.write(
      `${r.pass}: stored ${fmt(r.audit.stored)} at ${fmt(r.storedPerSecond)}/s${r.ofCeiling !== undefined ? ` (${r.ofCeiling} × ceiling)` : ''}; accepted-not-stored ${r.audit.acceptedNotStored}; POST→stored p99 ${fmt(r.postToStoredMs.p99)} ms\n`,
    )
    if (!r.audit.ok) failed = true
  }
  if (burst) burstPosts = await runBurst(sluice.ingestionUrl, sluice.databaseUrl, Number(burst[1]), Number(burst[2]))
} catch (err) {
  failed = true
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
} finally {
  await nc.close()
  await sluice.stop()
}

await writeFile(reportFile, `${JSON.stringify(report(), null, 2)}\n`)
if (done.length > 0) process.stdout.write(`\n${table(done)}\n`)
if (burstPosts) process.stdout.write(`\nOne post at a time (ms from sending its POST):\n\n${burstTable(burstPosts)}\n`)
process.stdout.write(`\nresults: loadtest/results/e2e-${stamp}.json\n`)
for (const r of done) {
  if (!r.audit.ok) {
    process.stderr.write(`${r.pass}: AUDIT FAILED — accepted but not stored ${r.audit.acceptedNotStored}, stored beyond accepted ${r.audit.storedBeyondAccepted}, stored by nobody ${r.audit.storedUnknown}\n`)
  }
}
process.exit(failed ? 1 : 0)
