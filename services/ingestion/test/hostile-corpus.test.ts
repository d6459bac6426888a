import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { deflateSync, gzipSync, brotliCompressSync } from 'node:zlib'
import { facebookExamples } from '@sluice/formats/facebook'
import { tiktokExamples } from '@sluice/formats/tiktok'
import { ingestionHarness, type IngestionHarness } from './helpers.js'

/**
 * A generated corpus of hostile input against every write route: each field of a valid
 * payload replaced by wrong types, huge and NaN-like values, `\u0000`, lone surrogates,
 * raw literals JSON does not allow and invalid UTF-8 bytes; `__proto__`/`constructor`
 * keys at every level; the body truncated, corrupted, compressed wrongly or sent with the
 * wrong content type, and dribbled slowly. For every case: no 5xx, the process keeps
 * serving, memory stays bounded, and the events answered as accepted are exactly the
 * messages that reached the stream.
 */

let h: IngestionHarness
let base: string
before(async () => {
  h = await ingestionHarness({ env: { BODY_LIMIT_BYTES: String(16 * 1024 * 1024), STREAM_MAX_BYTES: String(256 * 1024 * 1024) } })
  base = await h.listen()
})
after(async () => h.close())

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

interface Family {
  label: string
  route: string
  /** A fresh valid event (new ids each call). */
  event: () => Record<string, Json>
  /** The request body around one event. */
  wrap: (event: Json) => Json
  /** Events the answer says were taken (accepted, not duplicates). */
  accepted: (status: number, body: Record<string, unknown>) => number
  /** Paths whose value is a dedupe key: never set to a plain valid string (two cases would collide). */
  idPaths: string[]
}

const NOW = '2026-11-21T10:00:00.000Z'
const nativeAccepted = (status: number, b: Record<string, unknown>) => (status === 202 ? Number(b.accepted) : 0)
const segmentAccepted = (status: number, b: Record<string, unknown>) => (status === 200 ? Number(b.accepted) : 0)
const amplitudeAccepted = (status: number, b: Record<string, unknown>) => (status === 200 ? Number(b.events_ingested) : 0)
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

const nativeFamily = (route: string): Family => ({
  label: route === '/v1/events' ? '/v1/events (native)' : route,
  route,
  event: () => ({ eventId: randomUUID(), timestamp: NOW, source: 'web', eventType: 'page_view', funnelStage: 'top', userId: 'u1', sessionId: 's1', data: { path: '/', n: 1, tags: ['a'] } }),
  wrap: (e) => [e],
  accepted: nativeAccepted,
  idPaths: ['eventId'],
})

const publisherFamily = (label: string, examples: { top: object; bottom: object }): Family => {
  let flip = false
  return {
    label,
    route: '/v1/events',
    event: () => {
      flip = !flip
      return { ...(clone(flip ? examples.top : examples.bottom) as Record<string, Json>), eventId: randomUUID() }
    },
    wrap: (e) => [e],
    accepted: nativeAccepted,
    idPaths: ['eventId'],
  }
}

// Amplitude events without insert_id get an id derived from their content: times differ per
// event so that two cases never derive the same one (which would rightly be a duplicate).
let clock = 1_763_719_200_000
const amplitudeFamily = (route: string): Family => ({
  label: route,
  route,
  event: () => ({ event_type: 'Song Played', user_id: 'user-12345', device_id: 'device-1', insert_id: randomUUID(), time: clock++, session_id: 1_763_719_000_000, event_properties: { genre: 'jazz', n: 2 }, revenue: 1.5, country: 'US', city: 'Boston' }),
  wrap: (e) => ({ api_key: 'hostile-key', events: [e] }),
  accepted: amplitudeAccepted,
  idPaths: ['insert_id'],
})

const segmentFamily = (type: 'batch' | 'track' | 'page' | 'screen' | 'identify'): Family => ({
  label: `/v1/${type}`,
  route: `/v1/${type}`,
  event: (): Record<string, Json> => {
    const common = { userId: 'user-42', anonymousId: 'anon-1', messageId: randomUUID(), timestamp: NOW, context: { ip: '10.0.0.1', locale: 'en-US' } }
    if (type === 'identify') return { ...common, traits: { plan: 'pro', email: 'ada@example.com' } }
    if (type === 'page' || type === 'screen') return { ...common, name: 'Pricing', properties: { path: '/pricing' } }
    return { ...common, ...(type === 'batch' ? { type: 'track' } : {}), event: 'Order Completed', properties: { revenue: 42.5, currency: 'EUR' } }
  },
  wrap: (e) => (type === 'batch' ? { batch: [e] } : e),
  accepted: segmentAccepted,
  idPaths: ['messageId'],
})

const FAMILIES: Family[] = [
  nativeFamily('/v1/events'),
  nativeFamily('/webhook/event'),
  publisherFamily('/v1/events (facebook)', facebookExamples),
  publisherFamily('/v1/events (tiktok)', tiktokExamples),
  amplitudeFamily('/2/httpapi'),
  amplitudeFamily('/batch'),
  segmentFamily('batch'),
  segmentFamily('track'),
  segmentFamily('page'),
  segmentFamily('screen'),
  segmentFamily('identify'),
]

let deepObject: Json = 1
for (let i = 0; i < 40; i++) deepObject = { a: deepObject }
/** Values that JSON can carry (the ones marked `string` are plain strings a field might validly hold). */
const VALUES: { name: string; value: Json; plainString?: boolean }[] = [
  { name: 'null', value: null },
  { name: 'true', value: true },
  { name: 'false', value: false },
  { name: '0', value: 0 },
  { name: '-1', value: -1 },
  { name: '1.5', value: 1.5 },
  { name: '1e308', value: 1e308 },
  { name: '-1e308', value: -1e308 },
  { name: '2^53', value: 2 ** 53 },
  { name: '"NaN"', value: 'NaN', plainString: true },
  { name: '"Infinity"', value: 'Infinity', plainString: true },
  { name: '"-0"', value: '-0', plainString: true },
  { name: '"1e999"', value: '1e999', plainString: true },
  { name: 'empty string', value: '' },
  { name: 'spaces', value: '   ' },
  { name: '\\u0000', value: '\u0000' },
  { name: 'a\\u0000b', value: 'a\u0000b' },
  { name: 'lone high surrogate', value: '\ud800' },
  { name: 'lone low surrogate', value: 'x\udfffx' },
  { name: '100 KB string', value: 'x'.repeat(100_000) },
  { name: 'empty array', value: [] },
  { name: 'array of mixed', value: [1, 'a', null, {}, []] },
  { name: '10,000-element array', value: new Array<Json>(10_000).fill(0) },
  { name: 'empty object', value: {} },
  { name: '40 levels deep', value: deepObject },
  { name: 'impossible date', value: '2026-13-45T99:99:99Z', plainString: true },
  { name: 'year 0', value: '0000-01-01T00:00:00Z', plainString: true },
  { name: 'SQL', value: "'; DROP TABLE events; --", plainString: true },
  { name: 'script', value: '<script>alert(1)</script>', plainString: true },
  { name: 'template', value: '${jndi:ldap://x/a}', plainString: true },
  { name: 'RTL + emoji', value: '\u202e\ud83d\udca5', plainString: true },
]
/** Raw text put where a value goes: literals JSON forbids, numbers past any range, bytes that are not UTF-8. */
const RAW: { name: string; text: string | Buffer }[] = [
  { name: 'NaN literal', text: 'NaN' },
  { name: 'Infinity literal', text: 'Infinity' },
  { name: '-Infinity literal', text: '-Infinity' },
  { name: '1e999', text: '1e999' },
  { name: '-1e999', text: '-1e999' },
  { name: '400-digit integer', text: `1${'0'.repeat(400)}` },
  { name: '400-digit fraction', text: `0.${'0'.repeat(400)}1` },
  { name: 'undefined literal', text: 'undefined' },
  { name: 'single-quoted', text: "'x'" },
  { name: 'hex', text: '0x10' },
  { name: 'leading zero', text: '01' },
  { name: 'leading plus', text: '+1' },
  { name: 'escaped \\u0000', text: '"\\u0000"' },
  { name: 'escaped lone surrogate', text: '"\\ud800"' },
  { name: 'bad escape', text: '"\\x41"' },
  { name: 'unterminated string', text: '"abc' },
  { name: 'invalid UTF-8 bytes', text: Buffer.concat([Buffer.from('"a'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"')]) },
  { name: 'overlong UTF-8', text: Buffer.concat([Buffer.from('"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"')]) },
  { name: 'UTF-8 surrogate bytes', text: Buffer.concat([Buffer.from('"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"')]) },
]
const KEYS = ['__proto__', 'constructor', 'prototype', '', '\u0000', 'k'.repeat(10_000), '$where', 'toString']

interface Case {
  name: string
  body: string | Buffer
  headers?: Record<string, string>
  slow?: boolean
}

function paths(value: Json, prefix: string[] = []): { path: string[]; isObject: boolean }[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return []
  const out: { path: string[]; isObject: boolean }[] = prefix.length === 0 ? [{ path: [], isObject: true }] : []
  for (const [k, v] of Object.entries(value)) {
    const p = [...prefix, k]
    const isObject = v !== null && typeof v === 'object' && !Array.isArray(v)
    out.push({ path: p, isObject })
    out.push(...paths(v, p).filter((x) => x.path.length > p.length))
  }
  return out
}

function setAt(root: Record<string, Json>, path: string[], value: Json | undefined): Record<string, Json> {
  const copy = clone(root)
  let node = copy
  for (const k of path.slice(0, -1)) node = node[k] as Record<string, Json>
  const last = path[path.length - 1]!
  if (value === undefined) delete node[last]
  else node[last] = value
  return copy
}

const MARK = '"@@HOSTILE@@"'

function casesFor(f: Family): Case[] {
  const out: Case[] = []
  const body = (e: Json) => JSON.stringify(f.wrap(e))
  for (const { path, isObject } of paths(f.event())) {
    const where = path.join('.') || '(event)'
    if (path.length > 0) {
      out.push({ name: `${where} missing`, body: body(setAt(f.event(), path, undefined)) })
      for (const v of VALUES) {
        // A dedupe key set to the same storable value in two cases is rightly a duplicate
        // (some inputs coerce numbers to ids): keys get only values that cannot collide.
        const collides = v.plainString || typeof v.value === 'number' || typeof v.value === 'boolean' || v.name === 'spaces'
        if (collides && f.idPaths.includes(where)) continue
        out.push({ name: `${where} = ${v.name}`, body: body(setAt(f.event(), path, v.value)) })
      }
      for (const r of RAW) {
        if (f.idPaths.includes(where) && /digit|1e999/.test(r.name)) continue
        const text = body(setAt(f.event(), path, '@@HOSTILE@@'))
        const at = text.indexOf(MARK)
        out.push({ name: `${where} = ${r.name}`, body: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(r.text), Buffer.from(text.slice(at + MARK.length))]) })
      }
    }
    if (isObject) {
      for (const key of KEYS) {
        // Built as text: an object literal's __proto__ would set the prototype, not a key.
        const text = body(path.length ? setAt(f.event(), path, { ...(getAt(f.event(), path) as object), '@@KEY@@': { polluted: true } }) : { ...f.event(), '@@KEY@@': { polluted: true } })
        out.push({ name: `key ${JSON.stringify(key.slice(0, 12))} in ${where}`, body: text.replace('"@@KEY@@"', JSON.stringify(key)) })
      }
    }
  }
  // The body as a whole.
  const valid = () => body(f.event())
  const sample = valid()
  for (const cut of [1, 2, 5, 10, 0.1, 0.25, 0.5, 0.75, 0.9, -1, -2]) {
    const at = cut >= 1 ? cut : cut < 0 ? sample.length + cut : Math.floor(sample.length * cut)
    out.push({ name: `truncated at ${at}`, body: sample.slice(0, at) })
  }
  for (const at of [0, 1, 0.5, -1]) {
    const text = valid()
    const i = at >= 0 && at < 1 ? Math.floor(text.length * at) : at === 1 ? 1 : text.length - 1
    out.push({ name: `0xff byte at ${i}`, body: Buffer.concat([Buffer.from(text.slice(0, i)), Buffer.from([0xff]), Buffer.from(text.slice(i))]) })
  }
  out.push(
    { name: 'empty body', body: '' },
    { name: 'whitespace', body: '  \n\t ' },
    { name: 'null', body: 'null' },
    { name: 'a number', body: '42' },
    { name: 'a string', body: '"x"' },
    { name: 'empty array', body: '[]' },
    { name: 'empty object', body: '{}' },
    { name: 'array of nulls', body: '[null,null,null]' },
    { name: 'nested arrays', body: '[[[[[]]]]]' },
    { name: 'trailing garbage', body: `${valid()} trailing` },
    { name: 'two documents', body: `${valid()}${valid()}` },
    { name: 'BOM', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid())]) },
    { name: 'UTF-16LE', body: Buffer.from(valid(), 'utf16le') },
    { name: '100,000 levels of nesting', body: '['.repeat(100_000) },
    { name: '1,000 events of which all are the same id', body: JSON.stringify(f.wrap(f.event())).replace(/^\[(.*)\]$/s, (_, e: string) => `[${Array(1_000).fill(e).join(',')}]`) },
    { name: 'gzip, valid', body: gzipSync(valid()), headers: { 'content-encoding': 'gzip' } },
    { name: 'deflate', body: deflateSync(valid()), headers: { 'content-encoding': 'deflate' } },
    { name: 'brotli', body: brotliCompressSync(valid()), headers: { 'content-encoding': 'br' } },
    { name: 'gzip twice declared', body: gzipSync(gzipSync(valid())), headers: { 'content-encoding': 'gzip, gzip' } },
    { name: 'identity', body: valid(), headers: { 'content-encoding': 'identity' } },
    { name: 'unknown encoding', body: valid(), headers: { 'content-encoding': 'compress' } },
    { name: 'corrupt gzip', body: Buffer.from('not gzip'), headers: { 'content-encoding': 'gzip' } },
    { name: 'truncated gzip', body: gzipSync(valid()).subarray(0, 20), headers: { 'content-encoding': 'gzip' } },
    { name: 'gzip bomb (64 MB of zeros)', body: BOMB, headers: { 'content-encoding': 'gzip' } },
    { name: 'gzip of invalid UTF-8', body: gzipSync(Buffer.from([0x7b, 0xff, 0x7d])), headers: { 'content-encoding': 'gzip' } },
    { name: 'text/plain', body: valid(), headers: { 'content-type': 'text/plain' } },
    { name: 'no content type', body: valid(), headers: { 'content-type': '' } },
    { name: 'form-urlencoded', body: `data=${encodeURIComponent(valid())}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'multipart', body: valid(), headers: { 'content-type': 'multipart/form-data; boundary=x' } },
    { name: 'xml', body: '<events><event/></events>', headers: { 'content-type': 'application/xml' } },
    { name: 'octet-stream', body: Buffer.from([0, 1, 2, 3, 255]), headers: { 'content-type': 'application/octet-stream' } },
    { name: 'charset utf-16 declared', body: valid(), headers: { 'content-type': 'application/json; charset=utf-16' } },
    { name: 'charset latin1 declared', body: Buffer.from(valid(), 'latin1'), headers: { 'content-type': 'application/json; charset=iso-8859-1' } },
    { name: 'upper-case type', body: valid(), headers: { 'content-type': 'APPLICATION/JSON' } },
    { name: 'vnd+json', body: valid(), headers: { 'content-type': 'application/vnd.api+json' } },
    { name: 'slow body, 6 chunks 150 ms apart', body: valid(), slow: true },
    { name: 'slow gzip body', body: gzipSync(valid()), headers: { 'content-encoding': 'gzip' }, slow: true },
  )
  return out
}

function getAt(root: Json, path: string[]): Json {
  let node = root
  for (const k of path) node = (node as Record<string, Json>)[k]!
  return node
}

const BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024))

/** Sends through a real socket, a chunk every 150 ms. */
function slowPost(route: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${route}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } })
    req.on('response', (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    const size = Math.ceil(body.length / 6)
    let i = 0
    const next = () => {
      if (i >= body.length) return void req.end()
      req.write(body.subarray(i, (i += size)))
      setTimeout(next, 150)
    }
    next()
  })
}

test('the hostile corpus against every write route: no 5xx, bounded memory, accepted = stored', async () => {
  const rssStart = process.memoryUsage().rss
  let rssPeak = rssStart
  let acceptedTotal = 0
  const perRoute: Record<string, { cases: number; accepted: number; statuses: Record<number, number> }> = {}
  const failures: string[] = []
  for (const f of FAMILIES) {
    const stats: { cases: number; accepted: number; statuses: Record<number, number> } = { cases: 0, accepted: 0, statuses: {} }
    perRoute[f.label] = stats
    for (const c of casesFor(f)) {
      const headers = { 'content-type': 'application/json', ...c.headers }
      let status: number
      let text: string
      if (c.slow) {
        ;({ status, body: text } = await slowPost(f.route, Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body), headers))
      } else {
        const res = await h.app.inject({ method: 'POST', url: f.route, headers, payload: c.body })
        status = res.statusCode
        text = res.body
      }
      stats.cases++
      stats.statuses[status] = (stats.statuses[status] ?? 0) + 1
      if (status >= 500) failures.push(`${f.label} ${c.name}: ${status} ${text.slice(0, 200)}`)
      let parsed: Record<string, unknown> = {}
      try {
        parsed = JSON.parse(text) as Record<string, unknown>
      } catch {
        failures.push(`${f.label} ${c.name}: a body that is not JSON: ${text.slice(0, 100)}`)
      }
      if (f.route === '/2/httpapi' || f.route === '/batch') {
        if (parsed.code !== status) failures.push(`${f.label} ${c.name}: Amplitude body code ${String(parsed.code)} for status ${status}`)
      }
      const n = f.accepted(status, parsed)
      stats.accepted += n
      acceptedTotal += n
      if (stats.cases % 25 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }
  }
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss)

  const table = Object.entries(perRoute).map(([route, s]) => `  ${route.padEnd(24)} ${String(s.cases).padStart(4)} cases, ${String(s.accepted).padStart(4)} events accepted; statuses ${JSON.stringify(s.statuses)}`)
  const total = Object.values(perRoute).reduce((n, s) => n + s.cases, 0)
  console.log(`[hostile corpus] ${total} cases, rss ${Math.round(rssStart / 2 ** 20)} → peak ${Math.round(rssPeak / 2 ** 20)} MB\n${table.join('\n')}`)

  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failures`)
  for (const [route, s] of Object.entries(perRoute)) {
    assert.ok(s.cases >= 200, `${route}: ${s.cases} cases`)
    assert.ok(s.accepted > 0, `${route}: the corpus also holds cases that are valid, and they were accepted`)
  }
  assert.ok(rssPeak - rssStart < 600 * 2 ** 20, `memory grew by ${Math.round((rssPeak - rssStart) / 2 ** 20)} MB`)
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')

  // Exactly the events answered as accepted reached the stream, and nothing unstorable.
  const stored = await h.stored()
  const bySource: Record<string, number> = {}
  for (const m of stored) bySource[m.envelope.source] = (bySource[m.envelope.source] ?? 0) + 1
  assert.equal(stored.length, acceptedTotal, `accepted = stored (stored by source ${JSON.stringify(bySource)})`)
  for (const m of stored) {
    const s = JSON.stringify(m.envelope)
    assert.ok(!s.includes('\\u0000') && !/\\ud[89ab]/i.test(s), `nothing unstorable reached the stream: ${s.slice(0, 200)}`)
  }
  const alive = await h.app.inject({ method: 'GET', url: '/health/readiness' })
  assert.equal(alive.statusCode, 200)
})
