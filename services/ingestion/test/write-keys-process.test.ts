import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import { machine } from '@sluice/testkit/env'
import { freePort } from '@sluice/testkit/ports'
import { spawnModule } from '@sluice/testkit/spawn'
import { deleteTopology, testTopology } from '@sluice/testkit/topology'
import { nativeEvent } from './helpers.js'

/**
 * The real process at debug level (every request logged, headers and URL included): no
 * write key reaches its output, whichever way it was sent and whatever went wrong; a key
 * limited to some sources cannot write others on any route.
 */

const OPEN_KEY = 'wk_open_4c8e1f0a9b7d'
const FB_KEY = 'wk_fbonly_7a2d9c4e1b3f'

test('keys never appear in the process output at debug level; a source-limited key cannot write other sources', async () => {
  const t = testTopology()
  const port = await freePort()
  const proc = spawnModule('@sluice/ingestion/server', {
    NATS_URL: machine.natsUrl,
    STREAM_NAMESPACE: t.namespace,
    PORT: String(port),
    LOG_LEVEL: 'debug',
    WRITE_KEYS: `${OPEN_KEY},${FB_KEY}:facebook`,
    STREAM_MAX_BYTES: String(64 * 1024 * 1024),
  })
  const nc = await connect({ servers: machine.natsUrl })
  try {
    await proc.waitFor(/ingestion listening/, 60_000)
    const base = `http://127.0.0.1:${port}`
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    const basic = (k: string) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`
    const statuses: number[] = []
    for (const key of [OPEN_KEY, FB_KEY, `${OPEN_KEY}x`]) {
      for (const res of await Promise.all([
        post('/v1/events', nativeEvent(), { authorization: `Bearer ${key}` }),
        post('/v1/events', nativeEvent(), { 'x-write-key': key }),
        post(`/v1/events?writeKey=${key}`, nativeEvent()),
        post(`/webhook/event?writeKey=${key}&x=1`, `{"broken": "${key}"`),
        post('/v1/events', [{ eventId: key }], { authorization: `Bearer ${key}` }),
        post('/v1/batch', { writeKey: key, batch: [{ type: 'track', userId: 'u1', event: 'e', messageId: `m-${key}` }] }),
        post('/v1/track', { userId: 'u1', event: 'e' }, { authorization: basic(key) }),
        post('/v1/identify', { userId: 'u1', traits: { k: key } }, { authorization: basic(key) }),
        post('/2/httpapi', { api_key: key, events: [{ event_type: 'x', user_id: 'user-1' }] }),
        post('/batch', { api_key: key, events: [{ event_type: 'x', user_id: 'user-1', insert_id: key }] }),
      ])) {
        statuses.push(res.status)
        await res.text()
      }
    }
    assert.ok(statuses.some((s) => s === 401), 'the wrong key was refused')
    assert.ok(statuses.filter((s) => s < 300).length >= 8, `some requests were accepted: ${statuses.join(' ')}`)

    // The facebook-only key: a web event, a Segment or an Amplitude event is refused.
    const web = await post('/v1/events', [nativeEvent()], { 'x-write-key': FB_KEY })
    assert.equal(web.status, 400)
    assert.match(await web.text(), /may not send events of source \\?"web\\?"/)
    assert.equal((await post('/v1/track', { userId: 'u1', event: 'e' }, { authorization: basic(FB_KEY) })).status, 403)
    const amp = await post('/2/httpapi', { api_key: FB_KEY, events: [{ event_type: 'x', user_id: 'user-1' }] })
    const ampBody = await amp.text()
    assert.ok([400, 401, 403].includes(amp.status), `amplitude with a facebook-only key: ${amp.status} ${ampBody}`)
    assert.doesNotMatch(ampBody, /"code":200/)

    await proc.kill('SIGTERM')
    const output = proc.output()
    assert.match(output, /"level":20/, 'debug lines were written')
    assert.match(output, /\[redacted\]/, 'a secret was redacted')
    for (const key of [OPEN_KEY, FB_KEY]) assert.ok(!output.includes(key), `${key.slice(0, 8)}… never logged`)
    for (const key of [OPEN_KEY, FB_KEY]) assert.ok(!output.includes(Buffer.from(`${key}:`).toString('base64')), 'nor its Basic form')
  } finally {
    await proc.kill('SIGKILL')
    await deleteTopology(nc, t).catch(() => undefined)
    await nc.close()
  }
})
