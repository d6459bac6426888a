import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { loadConfigOrExit } from '@sluice/kit/config'
import { drive } from './drive.js'
import { runBench } from './ingestion-bench.js'
import { SCENARIOS, workload, type ScenarioName } from './workloads.js'

/**
 * `npm run loadtest -- <publisher|single|sdk|mixed> [--url $INGESTION_URL, default http://127.0.0.1:3001] [--duration s] [--connections n] [--rate events/s]`
 *
 * Drives a running Sluice (`npm start`) with one scenario (workloads.ts) and prints a
 * line a second, then requests/s, events/s, HTTP latency and what the answers accepted.
 * `npm run bench` does the same with the whole pipeline audited and timed.
 *
 * `--private [--warmup s] [--profile] [--env NAME=value] [--node-options '…']` measures
 * one ingestion process instead, started here with a nats-server of its own (the
 * Ingestion section of BENCHMARKS.md): no worker, no database.
 *
 * Wrap every run in `flock /tmp/sluice-bench.lock` on a shared machine. Results go to
 * stdout and loadtest/results/<scenario>-<time>.json.
 */

const config = loadConfigOrExit({
  ingestionUrl: { doc: 'The ingestion the load test drives (--url overrides it)', format: String, default: 'http://127.0.0.1:3001', env: 'INGESTION_URL' },
})

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: config.ingestionUrl },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    private: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
    /** Extra environment for the private ingestion process, e.g. --env PUBLISH_MAX_IN_FLIGHT=16384 */
    env: { type: 'string', multiple: true, default: [] },
  },
})

const name = positionals[0] ?? ''
if (!SCENARIOS.includes(name as ScenarioName)) {
  process.stderr.write(`usage: npm run loadtest -- <${SCENARIOS.join('|')}> [--url ${values.url}] [--duration s] [--connections n] [--rate events/s] [--private]\n`)
  process.exit(2)
}
const w = await workload(name as ScenarioName, {
  connections: values.connections ? Number(values.connections) : undefined,
  rate: values.rate ? Number(values.rate) : undefined,
})

const results = new URL('../results/', import.meta.url)
await mkdir(results, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')

if (values.private) {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: new URL('../..', import.meta.url), stdio: 'inherit' })
  const result = await runBench({
    name: w.name,
    path: w.path,
    templates: w.templates,
    connections: w.connections,
    durationSeconds: Number(values.duration),
    warmupSeconds: Number(values.warmup),
    env: {
      ...Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      ...(values['node-options'] ? { NODE_OPTIONS: values['node-options'] } : {}),
    },
    nodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${new URL(`profile-${name}-${stamp}/`, results).pathname}`] : [],
  })
  const report = { ...result, date: new Date().toISOString(), node: process.version }
  await writeFile(new URL(`${name}-${stamp}.json`, results), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  // More in the stream than accepted is fine (a request answered 503 may have stored part of
  // its events; its retry dedupes); fewer would be a lost 202.
  if (result.inStream < result.acceptedTotal) {
    process.stderr.write(`LOST: ${result.acceptedTotal} events answered as accepted but only ${result.inStream} in the stream\n`)
    process.exit(1)
  }
} else {
  try {
    await fetch(`${values.url}/health/liveness`)
  } catch {
    process.stderr.write(`no Sluice answers at ${values.url}: start one (npm start), pass --url, or use --private\n`)
    process.exit(1)
  }
  let sent = 0
  let accepted = 0
  let answered = 0
  let last = { sent: 0, accepted: 0, answered: 0, at: Date.now() }
  const started = Date.now()
  const ticker = setInterval(() => {
    const at = Date.now()
    const per = 1000 / Math.max(1, at - last.at)
    process.stderr.write(
      `${w.name} ${Math.round((at - started) / 1000)} s  sent ${Math.round((sent - last.sent) * per)} events/s  accepted ${Math.round((accepted - last.accepted) * per)} events/s  answers ${Math.round((answered - last.answered) * per)}/s\n`,
    )
    last = { sent, accepted, answered, at }
  }, 1_000)
  const result = await drive(w, {
    url: values.url,
    seconds: Number(values.duration),
    onSend: (n) => (sent += n),
    onAnswer: (r) => {
      answered++
      accepted += r.accepted
    },
  }).finally(() => clearInterval(ticker))
  const answers = result.records.filter((r) => r.status !== 0)
  const report = {
    scenario: w.name,
    url: values.url,
    connections: w.connections,
    seconds: result.seconds,
    requestsPerSecond: result.requestsPerSecond,
    acceptedEventsPerSecond: Math.round(answers.reduce((a, r) => a + r.accepted, 0) / result.seconds),
    latencyMs: result.latencyMs,
    statuses: Object.fromEntries([...new Set(answers.map((r) => r.status))].map((s) => [s, answers.filter((r) => r.status === s).length])),
    events: {
      sent: result.records.reduce((a, r) => a + r.events, 0),
      accepted: answers.reduce((a, r) => a + r.accepted, 0),
      duplicates: answers.reduce((a, r) => a + r.duplicates, 0),
      rejected: answers.reduce((a, r) => a + r.rejected, 0),
      unanswered: result.records.filter((r) => r.status === 0).reduce((a, r) => a + r.events, 0),
    },
    errors: result.errors,
    timeouts: result.timeouts,
    date: new Date().toISOString(),
    node: process.version,
  }
  await writeFile(new URL(`${name}-${stamp}.json`, results), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
}
