import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseYaml, root, run } from './tools.js'

// promtool (Debian package `prometheus`) checks the files as the server would load them;
// the server itself is never started here.

interface Rule {
  alert: string
  expr: string
  for?: string
}
interface RuleTest {
  name: string
  alert_rule_test: { alertname: string; exp_alerts: unknown[] }[]
}

const dir = join(root, 'prometheus')
const yaml = (file: string) => parseYaml(readFileSync(join(dir, file), 'utf8'))

test('promtool check config accepts prometheus.yml and the rule file it loads', () => {
  const { status, stdout, stderr } = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')])
  assert.equal(status, 0, stdout + stderr)
  assert.match(stdout + stderr, /SUCCESS: 1 rule files found/)
})

test('promtool check rules accepts alerts.yml', () => {
  const { status, stdout, stderr } = run('promtool', ['check', 'rules', join(dir, 'alerts.yml')])
  assert.equal(status, 0, stdout + stderr)
})

test('promtool test rules: every alert fires on its synthetic series (and stays quiet on the healthy ones)', () => {
  const { status, stdout, stderr } = run('promtool', ['test', 'rules', join(dir, 'alerts.test.yml')])
  assert.equal(status, 0, stdout + stderr)
  assert.match(stdout + stderr, /SUCCESS/)

  const rules = (yaml('alerts.yml') as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)
  const tests = (yaml('alerts.test.yml') as { tests: RuleTest[] }).tests
  const firing = new Set(tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)))
  const quiet = new Set(tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)))
  for (const { alert } of rules) {
    assert.ok(firing.has(alert), `${alert} has no test that makes it fire`)
    assert.ok(quiet.has(alert), `${alert} has no test that keeps it quiet`)
  }
})

test('alerts cover consumer lag, dead letters, ingestion 5xx and 503, publish and end-to-end p99, a service down', () => {
  const rules = (yaml('alerts.yml') as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)
  const by = (pattern: RegExp) => rules.filter((r) => pattern.test(r.expr)).map((r) => r.alert)
  assert.ok(by(/deriv\(sluice_worker_consumer_pending/).length, 'consumer lag growing')
  assert.ok(by(/sluice_worker_dead_letters_total/).length, 'dead letters')
  assert.ok(by(/status_code=~"5\.\."/).length, 'ingestion 5xx')
  assert.ok(by(/outcome="unavailable"/).length, 'ingestion 503')
  assert.ok(by(/histogram_quantile\(0\.99, .*sluice_ingestion_publish_duration_seconds_bucket/).length, 'publish p99')
  assert.ok(by(/histogram_quantile\(0\.99, .*sluice_worker_end_to_end_latency_seconds_bucket/).length, 'end-to-end p99')
  assert.ok(by(/^up\{.*\} == 0$/).length, 'a service down')
})

test('every worker replica is found by DNS service discovery; ingestion, analytics and both exporters are scraped', () => {
  const config = yaml('prometheus.yml') as { scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[]; static_configs?: { targets: string[] }[] }[] }
  const jobs = new Map(config.scrape_configs.map((c) => [c.job_name, c]))
  assert.deepEqual(jobs.get('worker')?.dns_sd_configs, [{ names: ['worker'], type: 'A', port: 3003, refresh_interval: '5s' }])
  assert.deepEqual(jobs.get('ingestion')?.static_configs, [{ targets: ['ingestion:3001'] }])
  assert.deepEqual(jobs.get('analytics')?.static_configs, [{ targets: ['analytics:3002'] }])
  assert.deepEqual(jobs.get('nats')?.static_configs, [{ targets: ['nats-exporter:7777'] }])
  assert.deepEqual(jobs.get('postgres')?.static_configs, [{ targets: ['postgres-exporter:9187'] }])
})
