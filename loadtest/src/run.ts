import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { runBench, type BenchOptions } from './ingestion-bench.js'
import { publisherTemplates, singleEventTemplates } from './scenarios/ingestion.js'

/**
 * `npm run loadtest -- <scenario> [--duration s] [--connections n] [--profile] [--node-options '…']`
 *
 *   single      one native event per POST /v1/events
 *   publisher   publisher arrays of 1,000–50,000 Facebook/TikTok events per POST
 *
 * Wrap every run in `flock /tmp/sluice-bench.lock` on a shared machine. Results go to
 * stdout and loadtest/results/<scenario>-<time>.json; with --profile, the ingestion
 * process writes a .cpuprofile there too.
 */

const SCENARIOS: Record<string, (o: { connections?: number }) => Omit<BenchOptions, 'durationSeconds' | 'warmupSeconds' | 'nodeArgs'>> = {
  single: ({ connections = 64 }) => ({ name: 'single', path: '/v1/events', templates: singleEventTemplates(), connections }),
  publisher: ({ connections = 4 }) => ({ name: 'publisher', path: '/v1/events', templates: publisherTemplates(), connections }),
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
    /** Extra environment for the ingestion process, e.g. --env PUBLISH_MAX_IN_FLIGHT=16384 */
    env: { type: 'string', multiple: true, default: [] },
  },
})

const name = positionals[0] ?? ''
const scenario = SCENARIOS[name]
if (!scenario) {
  process.stderr.write(`usage: npm run loadtest -- <${Object.keys(SCENARIOS).join('|')}> [--duration s] [--connections n] [--profile]\n`)
  process.exit(2)
}

execFileSync('npm', ['run', 'build', '--silent'], { cwd: new URL('../..', import.meta.url), stdio: 'inherit' })

const results = new URL('../results/', import.meta.url)
await mkdir(results, { recursive: true })
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const result = await runBench({
  ...scenario({ connections: values.connections ? Number(values.connections) : undefined }),
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
