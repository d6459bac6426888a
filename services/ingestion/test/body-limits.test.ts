import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'

/** Limits that protect the process itself: nesting and object-count bombs, and the shared body budget. */

let h: IngestionHarness
let base: string
before(async () => {
  h = await ingestionHarness({ env: { BODY_LIMIT_BYTES: String(60 * 1024 * 1024), BODY_BYTES_IN_FLIGHT: String(60 * 1024 * 1024), MAX_EVENTS_PER_REQUEST: '500' } })
  base = await h.listen()
})
after(async () => h.close())

test('a 50 MB nesting bomb is refused before parsing, in well under a second', async () => {
  const t0 = performance.now()
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '['.repeat(50 * 1024 * 1024) })
  assert.equal(res.statusCode, 400)
  assert.match(res.json<{ detail: string }>().detail, /deeper than 100 levels/)
  assert.ok(performance.now() - t0 < 1_500, `took ${Math.round(performance.now() - t0)} ms`)
  const amp = await h.app.inject({ method: 'POST', url: '/2/httpapi', headers: { 'content-type': 'application/json' }, payload: `{"events": ${'{"a":'.repeat(200)}` })
  assert.equal(amp.json<{ code: number }>().code, 400)
})

test('a body of millions of tiny objects is a 413 before parsing', async () => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: `[${'[],'.repeat(2_000_000)}[]]` })
  assert.equal(res.statusCode, 413)
  assert.match(res.json<{ detail: string }>().detail, /25000 objects and arrays/)
})

test('past BODY_BYTES_IN_FLIGHT, a new body gets 503 + Retry-After until the budget frees', async () => {
  // A first request sends 40 MB and holds it (its body is not finished yet).
  const held = request(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(41 * 1024 * 1024) } })
  const heldAnswer = new Promise<number>((resolve) => {
    held.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    held.on('error', () => resolve(-1))
  })
  const chunk = Buffer.alloc(1024 * 1024, ' ')
  for (let i = 0; i < 40; i++) held.write(chunk)
  await new Promise((r) => setTimeout(r, 300))

  const second = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([nativeEvent({ data: { pad: 'x'.repeat(25 * 1024 * 1024) } })]) })
  assert.equal(second.status, 503)
  assert.equal(second.headers.get('retry-after'), '1')
  assert.match(((await second.json()) as { detail: string }).detail, /BODY_BYTES_IN_FLIGHT/)

  const last = Buffer.from(JSON.stringify([nativeEvent()]))
  held.end(Buffer.concat([last, Buffer.alloc(1024 * 1024 - last.length, ' ')]))
  assert.equal(await heldAnswer, 202)
  const third = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([nativeEvent()]) })
  assert.equal(third.status, 202, 'the budget was given back')
})
