import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { machine } from '@sluice/testkit/env'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { spawnModule, type Spawned } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { EXPORTER_METRICS } from './exporter-metrics.js'
import { parseYaml, root, run } from './tools.js'

// Every Grafana panel query must name metrics that exist: those the three services serve
// on /metrics (scraped here from running processes, on their own database and streams),
// or the exporters' listed in exporter-metrics.ts. The business panels' analytics URLs
// are called and every column they read must be in the answer.

interface Target {
  refId: string
  datasource?: { type: string; uid: string }
  expr?: string
  url?: string
  root_selector?: string
  columns?: { selector: string; text: string; type: string }[]
}
interface Panel {
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Target[]
  panels?: Panel[]
}
interface Dashboard {
  uid: string
  title: string
  panels: Panel[]
  templating: { list: { name: string; query?: { query: string } }[] }
}

const dashboardDir = join(root, 'grafana', 'dashboards')
const dashboards: Dashboard[] = readdirSync(dashboardDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dashboardDir, f), 'utf8')) as Dashboard)

function panels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row')
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan'])

/** Metric names in a PromQL expression (Grafana variables and label matchers aside). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  const names = new Set<string>()
  for (const m of bare.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (!m[2] && !PROMQL_WORDS.has(m[1]!.toLowerCase())) names.add(m[1]!)
  }
  return [...names]
}

/** Every name /metrics exposes, from its # TYPE lines (series that have no sample yet included). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>()
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!)
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s)
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s)
  }
  return names
}

let db: TestDatabase
let nc: NatsConnection
const topology = testTopology()
const processes: Spawned[] = []
const urls: Record<'ingestion' | 'worker' | 'analytics', string> = { ingestion: '', worker: '', analytics: '' }
const served = new Set<string>()
const from = new Date(Date.now() - 3 * 3600_000)
const to = new Date(Date.now() + 3600_000)

async function startService(name: keyof typeof urls, module: string, ready: RegExp): Promise<void> {
  const port = await freePort()
  const child = spawnModule(module, {
    DATABASE_URL: db.url,
    NATS_URL: machine.natsUrl,
    STREAM_NAMESPACE: topology.namespace,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    CONSUMER_POLL_MS: '200',
    // Streams reserve their max_bytes on the shared server: a small one leaves room for others' tests.
    STREAM_MAX_BYTES: String(64 * 1024 * 1024),
  })
  processes.push(child)
  await child.waitFor(ready, 60_000)
  urls[name] = `http://127.0.0.1:${port}`
}

function events() {
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString()
  const id = () => randomUUID()
  const user = `u-${id()}`
  return [
    { eventId: id(), timestamp: at(30), source: 'web', eventType: 'page_view', funnelStage: 'top', userId: user, data: { campaignId: 'spring', country: 'DE' } },
    { eventId: id(), timestamp: at(29), source: 'web', eventType: 'ad.click', funnelStage: 'top', userId: user, data: { campaignId: 'spring' } },
    { eventId: id(), timestamp: at(20), source: 'web', eventType: 'purchase', funnelStage: 'bottom', userId: user, data: { campaignId: 'spring', revenue: '49.90', currency: 'EUR' } },
    { eventId: id(), timestamp: at(25), source: 'marketplace', eventType: 'job.posted', userId: 'customer-1', data: { jobId: 'job-1', category: 'plumbing', city: 'Berlin' } },
    { eventId: id(), timestamp: at(24), source: 'marketplace', eventType: 'bid.placed', data: { jobId: 'job-1', providerId: 'p-1', amount: '120' } },
    { eventId: id(), timestamp: at(23), source: 'marketplace', eventType: 'job.assigned', data: { jobId: 'job-1', providerId: 'p-1' } },
    { eventId: id(), timestamp: at(22), source: 'marketplace', eventType: 'payment.captured', data: { jobId: 'job-1', providerId: 'p-1', amount: 120, currency: 'EUR' } },
  ]
}

before(async () => {
  db = await createTestDatabase()
  nc = await connect({ servers: machine.natsUrl })
  // Ingestion first: it creates the streams and the consumer the worker then binds to.
  await startService('ingestion', '@sluice/ingestion/server', /ingestion listening/)
  await Promise.all([startService('worker', '@sluice/worker/server', /worker consuming/), startService('analytics', '@sluice/analytics/server', /analytics listening/)])

  const batch = events()
  const post = (body: unknown) => fetch(`${urls.ingestion}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal((await post(batch)).status, 202)
  await post(batch.slice(0, 1)) // a duplicate
  await post([{ eventId: 'bad', source: 'web' }]) // a rejection
  await waitFor(
    async () => {
      const r = await fetch(`${urls.analytics}/v1/stats/overview?from=${from.toISOString()}&to=${to.toISOString()}`)
      return r.ok && ((await r.json()) as { events: number }).events === batch.length
    },
    { timeoutMs: 30_000, what: 'the events stored and visible to analytics' },
  )
  for (const url of Object.values(urls)) {
    const text = await (await fetch(`${url}/metrics`)).text()
    for (const name of exposedNames(text)) served.add(name)
  }
})

after(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGTERM')))
  if (nc) {
    await deleteTopology(nc, topology)
    await nc.close()
  }
  await db?.drop()
})

test('the metric-name reader finds metrics, not functions, labels, variables or keywords', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (le, service) (rate(a_seconds_bucket{service=~"$service", x="b c"}[$__rate_interval]))) / on () b_total offset 5m > 1e3'),
    ['a_seconds_bucket', 'b_total'],
  )
  assert.deepEqual(metricNames('max(x) and max(deriv(y[5m])) > 0 unless absent(up{job="w"} == 1)'), ['x', 'y', 'up'])
})

test('the exporter list holds exporter metrics only', () => {
  for (const name of Object.keys(EXPORTER_METRICS)) {
    assert.match(name, /^(up|gnatsd_\w+|jetstream_\w+|pg_\w+)$/, name)
    assert.ok(!served.has(name), `${name} is served by Sluice itself`)
  }
})

test('dashboards: pipeline overview, services and business, each panel on a provisioned data source', () => {
  assert.deepEqual(dashboards.map((d) => d.uid).sort(), ['sluice-business', 'sluice-pipeline', 'sluice-services'])
  const provisioned = parseYaml(readFileSync(join(root, 'grafana/provisioning/datasources/datasources.yml'), 'utf8')) as { datasources: { uid: string; type: string }[] }
  const sources = new Map(provisioned.datasources.map((s) => [s.uid, s.type]))
  for (const d of dashboards) {
    const ps = panels(d)
    assert.ok(ps.length >= 6, `${d.title} has ${ps.length} panels`)
    for (const p of ps) {
      assert.ok(p.targets?.length, `${d.title} / ${p.title} has no query`)
      for (const t of [p.datasource, ...p.targets.map((x) => x.datasource)]) {
        assert.ok(t, `${d.title} / ${p.title}: no data source`)
        assert.equal(sources.get(t.uid), t.type, `${d.title} / ${p.title}: data source ${t.uid} is not provisioned as ${t.type}`)
      }
    }
  }
})

test('every metric in every Prometheus panel query and alert rule is served by a Sluice process or listed as an exporter’s', () => {
  const queries: { where: string; expr: string }[] = []
  for (const d of dashboards) {
    for (const p of panels(d)) for (const t of p.targets ?? []) if (t.expr !== undefined) queries.push({ where: `${d.title} / ${p.title}`, expr: t.expr })
    for (const v of d.templating.list) if (v.query?.query) queries.push({ where: `${d.title} / $${v.name}`, expr: v.query.query.replace(/^label_values\((.*), \w+\)$/, '$1') })
  }
  const rules = parseYaml(readFileSync(join(root, 'prometheus/alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
  for (const r of rules.groups.flatMap((g) => g.rules)) queries.push({ where: `alert ${r.alert}`, expr: r.expr })
  assert.ok(queries.length > 50, `${queries.length} queries`)

  const unknown: string[] = []
  const used = new Set<string>()
  for (const { where, expr } of queries) {
    const names = metricNames(expr)
    assert.ok(names.length > 0, `${where}: no metric in ${expr}`)
    for (const name of names) {
      used.add(name)
      if (!served.has(name) && !(name in EXPORTER_METRICS)) unknown.push(`${where}: ${name}`)
    }
  }
  assert.deepEqual(unknown, [], 'metrics no process serves and no exporter is known to')
  // The panels are there, on the names the code registers.
  for (const name of [
    'sluice_ingestion_events_total',
    'sluice_worker_events_inserted_total',
    'sluice_worker_events_duplicate_total',
    'sluice_worker_consumer_pending',
    'sluice_worker_end_to_end_latency_seconds_bucket',
    'sluice_worker_dead_letters_total',
    'sluice_http_requests_total',
    'sluice_http_request_duration_seconds_bucket',
    'nodejs_eventloop_lag_p99_seconds',
    'process_resident_memory_bytes',
    'sluice_pg_pool_clients',
    'sluice_worker_batch_size_bucket',
    'sluice_worker_batch_duration_seconds_bucket',
  ]) {
    assert.ok(used.has(name), `no panel shows ${name}`)
    assert.ok(served.has(name), `${name} is not served`)
  }
})

test('business panels: every analytics URL answers, with every column the panel reads', async () => {
  const business = dashboards.find((d) => d.uid === 'sluice-business')!
  let checked = 0
  for (const p of panels(business)) {
    for (const t of p.targets ?? []) {
      const url = (t.url ?? '').replace('http://analytics:3002', urls.analytics).replace('${__from:date:iso}', from.toISOString()).replace('${__to:date:iso}', to.toISOString())
      assert.ok(t.url?.startsWith('http://analytics:3002/v1/'), `${p.title}: ${t.url}`)
      assert.doesNotMatch(url, /\$\{/, `${p.title}: a Grafana variable the test does not know`)
      const res = await fetch(url)
      assert.equal(res.status, 200, `${p.title}: ${url} → ${res.status} ${await res.clone().text()}`)
      const body = (await res.json()) as Record<string, unknown>
      const rows = t.root_selector ? body[t.root_selector] : body
      const first = (Array.isArray(rows) ? rows[0] : rows) as Record<string, unknown> | undefined
      assert.ok(first, `${p.title}: no rows at "${t.root_selector}" in ${JSON.stringify(body).slice(0, 300)}`)
      assert.ok(t.columns?.length)
      for (const c of t.columns) {
        assert.ok(c.selector in first, `${p.title}: column ${c.selector} not in ${JSON.stringify(first)}`)
        if (c.type === 'number') assert.equal(typeof first[c.selector] === 'number' || first[c.selector] === null, true, `${p.title}: ${c.selector} is not a number`)
        if (c.type === 'timestamp') assert.ok(!Number.isNaN(Date.parse(String(first[c.selector]))), `${p.title}: ${c.selector} is not a time`)
      }
      checked++
    }
  }
  assert.ok(checked >= 8, `${checked} business queries`)
})

test('every Prometheus panel query parses as PromQL (promtool check rules, Grafana variables filled in)', () => {
  const exprs = dashboards.flatMap((d) => panels(d).flatMap((p) => (p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [t.expr]))))
  const filled = exprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*').replaceAll('$instance', '.*'))
  for (const e of filled) assert.doesNotMatch(e, /\$/, `a Grafana variable the test does not fill in: ${e}`)
  // As recording rules, each expression goes through Prometheus's own parser.
  const rules = { groups: [{ name: 'dashboards', rules: filled.map((expr, i) => ({ record: `dashboard:query:${i}`, expr })) }] }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-promql-'))
  try {
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules))
    const { status, stdout, stderr } = run('promtool', ['check', 'rules', join(dir, 'rules.json')])
    assert.equal(status, 0, stdout + stderr)
    assert.match(stdout, new RegExp(`SUCCESS: ${filled.length} rules found`))
  } finally {
    rmSync(dir, { recursive: true })
  }
})
