import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, get, insertEvents, startAnalytics, type TestEvent } from './helpers.js'

/*
 * Funnel view → click → buy over [11-10, 11-11), by hand:
 *   a  view 10:00, click 10:10, buy 10:20                 → 3 steps (600 s, 600 s)
 *   b  click 09:00, view 10:00, buy 10:30                  → 1 (the click came before the view)
 *   c  view 10:00, click 10:30, buy 11:30                  → 2 with a 1 h window (buy too late), 3 with 2 h
 *   d  view 10:00, view 10:20, click 10:50, buy 10:55      → 3, timed from the first view (3000 s, 300 s)
 *   e  view 11-09 23:00 (before the range), view 23:30, click 11-11 00:10 (after `to`, inside the window) → 2 (2400 s)
 *   f  buy 10:00, click 10:01, view 10:02                  → 1 (wrong order)
 *   g  tiktok: view 10:00, click 10:05                     → 2, only without the source filter or with source=tiktok
 */
const day = '2026-11-10'
const ev = (user: string, type: string, at: string, source = 'web'): TestEvent => ({ source, id: `${user}-${type}-${at}`, type, at, user })
const events: TestEvent[] = [
  ev('a', 'view', `${day}T10:00:00Z`), ev('a', 'click', `${day}T10:10:00Z`), ev('a', 'buy', `${day}T10:20:00Z`),
  ev('b', 'click', `${day}T09:00:00Z`), ev('b', 'view', `${day}T10:00:00Z`), ev('b', 'buy', `${day}T10:30:00Z`),
  ev('c', 'view', `${day}T10:00:00Z`), ev('c', 'click', `${day}T10:30:00Z`), ev('c', 'buy', `${day}T11:30:00Z`),
  ev('d', 'view', `${day}T10:00:00Z`), ev('d', 'view', `${day}T10:20:00Z`), ev('d', 'click', `${day}T10:50:00Z`), ev('d', 'buy', `${day}T10:55:00Z`),
  ev('e', 'view', '2026-11-09T23:00:00Z'), ev('e', 'view', `${day}T23:30:00Z`), ev('e', 'click', '2026-11-11T00:10:00Z'),
  ev('f', 'buy', `${day}T10:00:00Z`), ev('f', 'click', `${day}T10:01:00Z`), ev('f', 'view', `${day}T10:02:00Z`),
  ev('g', 'view', `${day}T10:00:00Z`, 'tiktok'), ev('g', 'click', `${day}T10:05:00Z`, 'tiktok'),
]

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await insertEvents(client, events)
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

const range = `from=${day}T00:00:00Z&to=2026-11-11T00:00:00Z`

test('order and window decide who reaches each step', async () => {
  const body = await get(app, `/v1/funnel?${range}&steps=view,click,buy&window=1h&source=web`)
  assert.equal(body.windowSeconds, 3600)
  assert.deepEqual(body.steps, [
    { step: 1, eventType: 'view', users: 6, conversionFromFirst: 1, conversionFromPrevious: null, medianSecondsFromPrevious: null },
    { step: 2, eventType: 'click', users: 4, conversionFromFirst: 4 / 6, conversionFromPrevious: 4 / 6, medianSecondsFromPrevious: 2100 },
    { step: 3, eventType: 'buy', users: 2, conversionFromFirst: 2 / 6, conversionFromPrevious: 2 / 4, medianSecondsFromPrevious: 450 },
  ])
})

test('a longer window lets the late buyer through', async () => {
  const body = await get<{ steps: { users: number; medianSecondsFromPrevious: number | null }[] }>(app, `/v1/funnel?${range}&steps=view,click,buy&window=2h&source=web`)
  assert.deepEqual(body.steps.map((s) => s.users), [6, 4, 3])
  assert.equal(body.steps[2]!.medianSecondsFromPrevious, 600) // a 600, c 3600, d 300
})

test('without a source filter every source counts', async () => {
  const body = await get<{ steps: { users: number }[] }>(app, `/v1/funnel?${range}&steps=view,click&window=1h`)
  assert.deepEqual(body.steps.map((s) => s.users), [7, 5])
})

test('the default window is 7 days; bad steps and windows are 400s naming the parameter', async () => {
  const body = await get<{ window: string; steps: { users: number }[] }>(app, `/v1/funnel?${range}&steps=view,click,buy&source=web`)
  assert.equal(body.window, '7d')
  assert.deepEqual(body.steps.map((s) => s.users), [6, 4, 3])
  for (const [query, path] of [
    ['steps=view', '/querystring/steps'],
    ['steps=a,b,c,d,e,f,g,h,i', '/querystring/steps'],
    ['steps=view,,buy', '/querystring/steps'],
    ['steps=view,buy&window=7w', '/querystring/window'],
    ['steps=view,buy&window=400d', '/querystring/window'],
    ['window=1h', '/querystring/steps'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/v1/funnel?${range}&${query}` })
    assert.equal(res.statusCode, 400, query)
    assert.ok(res.json<{ errors: { path: string }[] }>().errors.some((e) => e.path === path), `${query}: ${res.body}`)
  }
})
