import { test } from 'node:test'
import assert from 'node:assert/strict'
import { childEnvironment, commonSchema, ConfigError, httpSchema, jetstreamSchema, loadConfig } from '../src/config.js'

const schema = { ...commonSchema, ...httpSchema(3001), ...jetstreamSchema }

test('defaults match the contract when nothing is set', () => {
  const c = loadConfig(schema, { env: {} })
  assert.equal(c.databaseUrl, 'postgres://root@127.0.0.1:5432/sluice')
  assert.equal(c.natsUrl, 'nats://127.0.0.1:4222')
  assert.equal(c.port, 3001)
  assert.equal(c.logLevel, 'info')
})

test('environment variables override defaults and are coerced', () => {
  const c = loadConfig(schema, { env: { PORT: '4001', MAX_ACK_PENDING: '1234', LOG_LEVEL: 'debug' } })
  assert.equal(c.port, 4001)
  assert.equal(c.maxAckPending, 1234)
  assert.equal(c.logLevel, 'debug')
})

const bad: [string, string][] = [
  ['PORT', 'not-a-port'],
  ['PORT', '70000'],
  ['DATABASE_URL', 'mysql://localhost/x'],
  ['DATABASE_URL', 'not a url'],
  ['NATS_URL', 'http://127.0.0.1:4222'],
  ['LOG_LEVEL', 'loud'],
  ['MAX_ACK_PENDING', '0'],
  ['MAX_ACK_PENDING', '1.5'],
  ['STREAM_NAMESPACE', 'Has Spaces'],
]

for (const [name, value] of bad) {
  test(`${name}=${value} is rejected with a message naming ${name}`, () => {
    assert.throws(
      () => loadConfig(schema, { env: { [name]: value } }),
      (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}:`),
    )
  })
}

test('a bad value stops the process with a non-zero exit naming the variable', async () => {
  const { spawnSync } = await import('node:child_process')
  const script = `import { loadConfigOrExit, commonSchema } from '@sluice/kit/config'; loadConfigOrExit(commonSchema); console.log('started')`
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
    env: childEnvironment({ NATS_URL: 'ftp://nowhere' }),
    encoding: 'utf8',
  })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /NATS_URL/)
  assert.doesNotMatch(r.stdout, /started/)
})

test('secrets in DATABASE_URL are not echoed in the error', () => {
  assert.throws(
    () => loadConfig(schema, { env: { DATABASE_URL: 'mysql://user:hunter2@db/x' } }),
    (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2'),
  )
})
