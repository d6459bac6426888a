import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { childEnvironment, commonSchema, loadConfigOrExit } from '@sluice/kit/config'

/**
 * `npm run bench:analytics`: runs the analytics service as its own process against the
 * seeded database (npm run seed:analytics) and times every endpoint, one request at a
 * time: a few warm-up requests, then BENCH_SAMPLES timed ones; prints p50/p95/max per
 * endpoint as a Markdown table and keeps the raw figures in loadtest/results/.
 */

const config = loadConfigOrExit({
  databaseUrl: { ...commonSchema.databaseUrl, default: 'postgres://root@127.0.0.1:5432/sluice_bench10m', env: 'BENCH_DATABASE_URL' },
  samples: { doc: 'Timed requests per endpoint', format: 'positive-int', default: 40, env: 'BENCH_SAMPLES' },
  filter: { doc: 'Only scenarios whose name contains this', format: String, default: '', env: 'BENCH_FILTER' },
})

const DAY = 86_400_000

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const db = new pg.Client({ connectionString: config.databaseUrl })
await db.connect()
const { rows } = await db.query<{ n: string; last: Date }>('SELECT count(*) AS n, max(occurred_at) AS last FROM events')
await db.end()
const events = Number(rows[0]!.n)
if (events === 0) throw new Error(`no events in ${config.databaseUrl}: run npm run seed:analytics first`)
const end = Math.ceil(rows[0]!.last.getTime() / DAY) * DAY
const iso = (ms: number) => new Date(ms).toISOString()
const days30 = `from=${iso(end - 30 * DAY)}&to=${iso(end)}`
// The same 30 days moved by 5 h 17 min: partial days and hours at both ends.
const shifted = end - (5 * 60 + 17) * 60_000
const days30Unaligned = `from=${iso(shifted - 30 * DAY)}&to=${iso(shifted)}`
const lastDay = `from=${iso(end - DAY)}&to=${iso(end)}`
const lastHour = `from=${iso(end - DAY / 24 - 7 * 60_000)}&to=${iso(end - 7 * 60_000)}`

const scenarios: [name: string, url: string][] = [
  ['overview, 30 days', `/v1/stats/overview?${days30}`],
  ['overview, 30 days, source=facebook', `/v1/stats/overview?${days30}&source=facebook`],
  ['overview, 30 days not on midnights', `/v1/stats/overview?${days30Unaligned}`],
  ['timeseries per day, 30 days', `/v1/stats/timeseries?${days30}&interval=day`],
  ['timeseries per hour, 30 days', `/v1/stats/timeseries?${days30}&interval=hour`],
  ['timeseries per day, 30 days, eventType=ad.click', `/v1/stats/timeseries?${days30}&interval=day&eventType=ad.click`],
  ['timeseries per minute, 1 hour', `/v1/stats/timeseries?${lastHour}&interval=minute`],
  ['funnel stages, 30 days', `/v1/funnel/stages?${days30}`],
  ['geo by country, 30 days', `/v1/geo?${days30}&level=country`],
  ['geo by city, 30 days', `/v1/geo?${days30}&level=city`],
  ['campaigns by revenue, 30 days', `/v1/campaigns/top?${days30}&metric=revenue&limit=20`],
  ['top users by events, 30 days', `/v1/users/top?${days30}&metric=events&limit=10`],
  ['top users by revenue, 30 days', `/v1/users/top?${days30}&metric=revenue&limit=10`],
  ['top users by events, 30 days, source=tiktok', `/v1/users/top?${days30}&source=tiktok&limit=10`],
  ['revenue by day, 30 days', `/v1/revenue?${days30}&groupBy=day`],
  ['revenue by campaign, 30 days', `/v1/revenue?${days30}&groupBy=campaign`],
  ['marketplace summary, 30 days', `/v1/marketplace/summary?${days30}`],
  ['marketplace summary, 30 days, category=plumbing', `/v1/marketplace/summary?${days30}&category=plumbing`],
  ['ranking, 30 days', `/v1/ranking/providers?${days30}&limit=50`],
  ['ranking, 30 days, category=plumbing&city=London', `/v1/ranking/providers?${days30}&category=plumbing&city=London&w.ctr=0.5`],
  ['funnel ad.view → ad.click → checkout.complete, 30 days, 7d', `/v1/funnel?${days30}&steps=ad.view,ad.click,checkout.complete&window=7d`],
  ['overview, last day', `/v1/stats/overview?${lastDay}`],
]

const port = await freePort()
const entry = fileURLToPath(import.meta.resolve('@sluice/analytics/server'))
const server = spawn(process.execPath, [...process.execArgv, entry], {
  env: childEnvironment({ DATABASE_URL: config.databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', STATEMENT_TIMEOUT_MS: '60000', PG_POOL_SIZE: '4' }),
  stdio: ['ignore', 'inherit', 'inherit'],
})
const base = `http://127.0.0.1:${port}`
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/readiness`)).ok) break
    } catch {
      // not listening yet
    }
    if (i > 100) throw new Error('analytics did not become ready')
    await new Promise((r) => setTimeout(r, 100))
  }

  const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
  const results = []
  console.log(`\n${events.toLocaleString('en')} events, 30 days = ${days30}; ${config.samples} sequential requests per endpoint after 3 warm-ups\n`)
  console.log('| endpoint | p50 ms | p95 ms | max ms | bytes |')
  console.log('|---|---:|---:|---:|---:|')
  for (const [name, url] of scenarios) {
    if (config.filter && !name.includes(config.filter)) continue
    const samples = name.startsWith('funnel ad') ? Math.min(config.samples, 15) : config.samples
    let bytes = 0
    for (let i = 0; i < 3; i++) {
      const res = await fetch(base + url)
      if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
      bytes = (await res.arrayBuffer()).byteLength
    }
    const times: number[] = []
    for (let i = 0; i < samples; i++) {
      const t = performance.now()
      const res = await fetch(base + url)
      await res.arrayBuffer()
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    const r = { name, url, samples, p50: pct(times, 50), p95: pct(times, 95), max: times[times.length - 1]!, bytes }
    results.push(r)
    console.log(`| ${name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${bytes} |`)
  }
  const dir = new URL('../results/', import.meta.url)
  await mkdir(dir, { recursive: true })
  await writeFile(new URL(`analytics-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir), JSON.stringify({ events, end: iso(end), results }, null, 2))
} finally {
  server.kill('SIGTERM')
}
