import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { createTestDatabase, type TestDatabase } from '@sluice/testkit/database'
import { connect, fold, get, holdDeltas, insertEvents, startAnalytics, type TestEvent } from './helpers.js'
import { topUsers } from '../src/routes/users.js'

/*
 * Top users by revenue from the revenue rollup (db/migrations/0064): candidates from each
 * week's largest rows, a bound for everybody else, exact totals from day rows, pending
 * deltas and the events of the partial days. Every expected figure is worked out by hand.
 *
 * The range is Wednesday 2026-11-04 06:00 – Wednesday 2026-11-18 18:00: it touches the
 * weeks of Mondays 11-02, 11-09 and 11-16, and cuts a day at each end.
 */
const FROM = '2026-11-04T06:00:00Z'
const TO = '2026-11-18T18:00:00Z'

const buy = (id: string, user: string, at: string, revenue: string, source = 'web'): TestEvent => ({
  source, id, type: 'checkout', at, user, revenue, currency: 'USD',
})

// 100 users with 10 in each week: 10 on 11-03 (outside the range), 11-10 and 11-17, so 20
// in the range. With 64 candidates a week, the 65th row of each week is one of theirs: the
// bound is 10 + 10 + 10 = 30.
const fillers: TestEvent[] = []
for (let i = 0; i < 100; i++) {
  const u = `f${String(i).padStart(3, '0')}`
  fillers.push(buy(`${u}-1`, u, '2026-11-03T12:00:00Z', '10'), buy(`${u}-2`, u, '2026-11-10T12:00:00Z', '10'), buy(`${u}-3`, u, '2026-11-17T12:00:00Z', '10'))
}

const stars: TestEvent[] = [
  // a: 100 + 50 = 150, whole days, two weeks, two sources.
  buy('a1', 'a', '2026-11-05T09:00:00Z', '100'),
  buy('a2', 'a', '2026-11-12T09:00:00Z', '50', 'tiktok'),
  // b: 120 on the partial last day (from events), 30 more after the range ends.
  buy('b1', 'b', '2026-11-18T12:00:00Z', '120'),
  buy('b2', 'b', '2026-11-18T19:00:00Z', '30'),
  // c: 500 before the range starts, 80 on the partial first day: 80.
  buy('c1', 'c', '2026-11-04T05:00:00Z', '500'),
  buy('c2', 'c', '2026-11-04T07:00:00Z', '80'),
  // r: 60 in the range and a refund of 55 earlier the same week: 5 for the week, 60 in the
  // range. Ranked by its week's net revenue it would be behind the fillers and left out.
  buy('r1', 'r', '2026-11-03T12:00:00Z', '-55'),
  buy('r2', 'r', '2026-11-06T12:00:00Z', '60'),
  // n: only a refund in the range: no revenue, not listed.
  buy('n1', 'n', '2026-11-07T12:00:00Z', '-20'),
  // Events without a user or without revenue count for nobody.
  { source: 'web', id: 'x1', type: 'checkout', at: '2026-11-08T12:00:00Z', revenue: '1000', currency: 'USD' },
  { source: 'web', id: 'v1', type: 'page_view', at: '2026-11-08T12:00:00Z', user: 'a' },
]

let db: TestDatabase
let client: pg.Client
let app: FastifyInstance

before(async () => {
  db = await createTestDatabase()
  client = await connect(db.url)
  await holdDeltas(client)
  app = await startAnalytics(db.url)
})

after(async () => {
  await app?.close()
  await client?.end()
  await db?.drop()
})

const range = { from: new Date(FROM), to: new Date(TO), source: null }

async function check(state: string) {
  const top4 = await topUsers(app.pg, range, 'revenue', 4)
  assert.deepEqual(
    top4.rows.map((r) => [r.user_id, Number(r.revenue), Number(r.events)]),
    [['a', 150, 3], ['b', 120, 1], ['c', 80, 1], ['r', 60, 1]],
    state,
  )
  const top6 = await topUsers(app.pg, range, 'revenue', 6)
  assert.deepEqual(
    top6.rows.map((r) => [r.user_id, Number(r.revenue)]),
    [['a', 150], ['b', 120], ['c', 80], ['r', 60], ['f000', 20], ['f001', 20]],
    state,
  )
  // The API answers the same, and so does `events` itself.
  const body = await get<{ users: { userId: string; revenue: number }[] }>(app, `/v1/users/top?from=${FROM}&to=${TO}&metric=revenue&limit=6`)
  assert.deepEqual(body.users.map((u) => [u.userId, u.revenue]), top6.rows.map((r) => [r.user_id, Number(r.revenue)]), state)
  const { rows } = await client.query<{ u: string; revenue: string }>(
    `SELECT user_id AS u, sum(revenue) AS revenue FROM events WHERE occurred_at >= $1 AND occurred_at < $2 AND user_id IS NOT NULL
     GROUP BY 1 HAVING sum(revenue) > 0 ORDER BY 2 DESC, user_id COLLATE "C" LIMIT 6`,
    [FROM, TO],
  )
  assert.deepEqual(rows.map((r) => [r.u, Number(r.revenue)]), top6.rows.map((r) => [r.user_id, Number(r.revenue)]), state)
  return { top4, top6 }
}

describe('top users by revenue from the revenue rollup', () => {
  test('every delta pending: every pending user is a candidate', async () => {
    await insertEvents(client, fillers)
    await insertEvents(client, stars)
    const { top4, top6 } = await check('pending')
    assert.equal(top4.via, 'rollup')
    assert.equal(top6.via, 'rollup')
  })

  test('folded: the 64 largest rows of each week and a bound of 30 prove the top 4 in one round', async () => {
    await fold(client)
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM rollup_user_revenue_pending`)
    assert.equal(Number(rows[0]!.n), 0)
    const { rows: r } = await client.query<{ revenue: string }>(`SELECT revenue FROM rollup_user_revenue WHERE level = 'w' AND user_id = 'r'`)
    assert.deepEqual(r.map((x) => Number(x.revenue)), [60], 'the week row of r holds its positive amounts')
    const { top4, top6 } = await check('folded')
    assert.deepEqual([top4.via, top4.rounds], ['rollup', 1])
    // The 5th and 6th (20 each) are not above 30: a second round with every row of each week.
    assert.deepEqual([top6.via, top6.rounds], ['rollup', 2])
  })

  test('half folded: new deltas on top of folded rows', async () => {
    await insertEvents(client, [buy('f7-late', 'f007', '2026-11-11T12:00:00Z', '45'), buy('c3', 'c', '2026-11-09T00:00:00Z', '-1')])
    const top = await topUsers(app.pg, range, 'revenue', 5)
    assert.deepEqual(
      top.rows.map((r) => [r.user_id, Number(r.revenue)]),
      [['a', 150], ['b', 120], ['c', 79], ['f007', 65], ['r', 60]],
    )
    assert.equal(top.via, 'rollup')
  })

  test('a short range or a source filter reads events', async () => {
    const short = await topUsers(app.pg, { from: new Date('2026-11-05T00:00:00Z'), to: new Date('2026-11-06T00:00:00Z'), source: null }, 'revenue', 3)
    assert.deepEqual([short.via, short.rows.map((r) => [r.user_id, Number(r.revenue)])], ['events', [['a', 100]]])
    const tiktok = await topUsers(app.pg, { ...range, source: 'tiktok' }, 'revenue', 3)
    assert.deepEqual([tiktok.via, tiktok.rows.map((r) => [r.user_id, Number(r.revenue), Number(r.events)])], ['events', [['a', 50, 1]]])
  })
})
