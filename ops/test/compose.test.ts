import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseYaml, root, run } from './tools.js'

// docker-compose.yml as `docker-compose config` resolves it (Debian's docker-compose 1.29,
// the same parser and schema checks as `docker-compose up`), with .env.example as the .env.

interface Service {
  container_name?: string
  ports?: unknown[]
  expose?: unknown[]
  image?: string
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  profiles?: string[]
  build?: { target?: string }
  healthcheck?: unknown
  volumes?: unknown[]
}
interface Compose {
  services: Record<string, Service>
  volumes?: Record<string, unknown>
}

// Whatever the developer's shell holds, the tests see only the env file they name.
const SECRETS = ['POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'POSTGRES_SHARED_BUFFERS', 'POSTGRES_EXPORTER_PASSWORD', 'GRAFANA_ADMIN_USER', 'GRAFANA_ADMIN_PASSWORD', 'GRAFANA_READ_TOKEN', 'WRITE_KEYS', 'READ_TOKENS', 'SLUICE_TAG', 'LOAD_SCENARIO', 'LOAD_ARGS', 'LOG_LEVEL', 'COMPOSE_PROFILES', 'COMPOSE_FILE']

function config(extra: string[] = []): Compose {
  const { status, stdout, stderr } = run('docker-compose', ['--env-file', '.env.example', ...extra, 'config'], { unset: SECRETS })
  assert.equal(status, 0, `docker-compose config failed:\n${stderr}`)
  return parseYaml(stdout) as Compose
}

function hostPorts(s: Service): string[] {
  // docker-compose 1.29 prints short syntax ("3001:3001"); newer ones the long one.
  return (s.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':')[0]! : String((p as { published?: string | number }).published)))
}

test('docker-compose config accepts the file without the load profile and with it', () => {
  const plain = config()
  const loaded = config(['--profile', 'load'])
  for (const name of ['nats', 'postgres', 'migrate', 'ingestion', 'worker', 'analytics', 'prometheus', 'grafana', 'nats-exporter', 'postgres-exporter']) {
    assert.ok(plain.services[name], `service ${name}`)
  }
  assert.deepEqual(loaded.services.load?.profiles, ['load'])
  assert.match(JSON.stringify(loaded.services.load?.entrypoint ?? ''), /npm run loadtest --/)
})

test('the worker scales: no container_name, no host port, its metrics port only exposed to the network', () => {
  const { worker } = config().services
  assert.ok(worker)
  assert.equal(worker.container_name, undefined)
  assert.equal(worker.ports, undefined, 'a published port would collide at --scale worker=2')
  assert.deepEqual(worker.expose, ['3003'])
  assert.equal(worker.environment?.PORT, '3003')
})

test('ports: ingestion 3001, analytics 3002, Prometheus 9090, Grafana 3000', () => {
  const { services } = config()
  assert.deepEqual(hostPorts(services.ingestion!), ['3001'])
  assert.deepEqual(hostPorts(services.analytics!), ['3002'])
  assert.deepEqual(hostPorts(services.prometheus!), ['9090'])
  assert.deepEqual(hostPorts(services.grafana!), ['3000'])
  const published = Object.entries(services).filter(([, s]) => s.ports).map(([n]) => n).sort()
  assert.deepEqual(published, ['analytics', 'grafana', 'ingestion', 'prometheus'])
})

test('Sluice services bind 0.0.0.0, reach the servers by service name and start after the one-shot setup succeeded', () => {
  const { services } = config()
  const migrate = services.migrate!
  assert.deepEqual(migrate.command, ['setup'])
  assert.equal(migrate.build?.target, 'cli')
  assert.equal(migrate.depends_on?.postgres?.condition, 'service_healthy')
  assert.equal(migrate.depends_on?.nats?.condition, 'service_healthy')
  for (const name of ['ingestion', 'worker', 'analytics']) {
    const s = services[name]!
    assert.equal(s.build?.target, name)
    assert.equal(s.environment?.HOST, '0.0.0.0', name)
    assert.equal(s.environment?.NATS_URL, 'nats://nats:4222', name)
    assert.match(s.environment?.DATABASE_URL ?? '', /^postgres:\/\/[^@]+@postgres:5432\//, name)
    assert.deepEqual(s.depends_on, { migrate: { condition: 'service_completed_successfully' } }, name)
  }
  assert.equal(migrate.environment?.HOST, '0.0.0.0')
})

test('PostgreSQL takes its buffer cache size from .env, 1GB when unset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-compose-'))
  try {
    const env = readFileSync(join(root, '.env.example'), 'utf8')
    writeFileSync(join(dir, 'sized.env'), env.replace(/^POSTGRES_SHARED_BUFFERS=.*$/m, 'POSTGRES_SHARED_BUFFERS=6GB'))
    writeFileSync(join(dir, 'unsized.env'), env.replace(/^POSTGRES_SHARED_BUFFERS=.*\n/m, ''))
    const sized = run('docker-compose', ['--env-file', join(dir, 'sized.env'), 'config'], { unset: SECRETS })
    assert.equal(sized.status, 0, sized.stderr)
    assert.deepEqual((parseYaml(sized.stdout) as Compose).services.postgres!.command, ['postgres', '-c', 'shared_buffers=6GB'])
    const unsized = run('docker-compose', ['--env-file', join(dir, 'unsized.env'), 'config'], { unset: SECRETS })
    assert.equal(unsized.status, 0, unsized.stderr)
    assert.deepEqual((parseYaml(unsized.stdout) as Compose).services.postgres!.command, ['postgres', '-c', 'shared_buffers=1GB'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('NATS keeps JetStream in a volume with monitoring on; PostgreSQL has a volume and a healthcheck', () => {
  const { services, volumes } = config()
  const nats = services.nats!
  const args = nats.command as string[]
  assert.ok(args.includes('-js'))
  assert.equal(args[args.indexOf('-m') + 1], '8222')
  assert.equal(args[args.indexOf('-sd') + 1], '/data')
  assert.ok(JSON.stringify(nats.volumes).includes('nats-data'))
  assert.ok(nats.healthcheck)
  assert.ok(JSON.stringify(services.postgres!.volumes).includes('postgres-data'))
  assert.ok(services.postgres!.healthcheck)
  assert.ok(volumes && 'nats-data' in volumes && 'postgres-data' in volumes)
  // A buffer cache for more than the default 128 MB of indexes, sized from .env.
  assert.deepEqual(services.postgres!.command, ['postgres', '-c', 'shared_buffers=1GB'])
  assert.match(JSON.stringify(services['nats-exporter']!.command), /http:\/\/nats:8222/)
})

test('secrets come only from .env: without them docker-compose config refuses, naming the variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-compose-'))
  let result: ReturnType<typeof run>
  try {
    writeFileSync(join(dir, 'empty.env'), '')
    result = run('docker-compose', ['--env-file', join(dir, 'empty.env'), 'config'], { unset: SECRETS })
  } finally {
    rmSync(dir, { recursive: true })
  }
  const { status, stderr } = result
  assert.notEqual(status, 0)
  assert.match(stderr, /set (POSTGRES_USER|POSTGRES_PASSWORD|POSTGRES_EXPORTER_PASSWORD|GRAFANA_ADMIN_PASSWORD) in \.env/)
  const file = readFileSync(join(root, 'docker-compose.yml'), 'utf8')
  const example = readFileSync(join(root, '.env.example'), 'utf8')
  for (const line of example.split('\n').filter((l) => /^[A-Z_]*(PASSWORD|TOKEN)[A-Z_]*=.+/.test(l))) {
    assert.ok(!file.includes(line.split('=')[1]!), `${line.split('=')[0]}'s example value is written in docker-compose.yml`)
  }
  assert.match(readFileSync(join(root, '.gitignore'), 'utf8'), /^\.env$/m)
})

test('Grafana: anonymous viewers, provisioned data sources and dashboards mounted', () => {
  const { grafana } = config().services
  assert.equal(grafana!.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true')
  assert.equal(grafana!.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer')
  const mounts = JSON.stringify(grafana!.volumes)
  assert.match(mounts, /grafana\/provisioning/)
  assert.match(mounts, /grafana\/dashboards/)
})

test('the Dockerfile: LTS Node, non-root, production dependencies only, compiled JavaScript, readiness healthcheck', () => {
  const file = readFileSync(join(root, 'Dockerfile'), 'utf8')
  assert.match(file, /^ARG NODE_IMAGE=node:(22|24)-/m)
  const runtime = file.slice(file.indexOf('AS runtime'))
  assert.match(runtime, /npm ci --omit=dev/)
  assert.match(runtime, /^USER node$/m)
  assert.match(runtime, /HEALTHCHECK[\s\S]*\/health\/readiness/)
  assert.doesNotMatch(runtime.slice(0, runtime.indexOf('# ---- loadtest')), /tsx|--conditions=source/)
  // Each target's command is the compiled form of a source file that exists.
  const entries = [...runtime.matchAll(/"node", "([\w/.-]+)\/dist\/([\w-]+)\.js"/g)]
  assert.equal(entries.length, 4, 'ingestion, worker, analytics, cli')
  for (const m of entries) assert.ok(existsSync(join(root, m[1]!, 'src', `${m[2]}.ts`)), `${m[1]}/src/${m[2]}.ts`)
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
  assert.match(ignore, /^\*\*\/node_modules$/m)
  assert.match(ignore, /^\*\*\/dist$/m)
})
