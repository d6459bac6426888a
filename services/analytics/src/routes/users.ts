import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Pool } from '@sluice/kit/pg'
import { pendingTopUsers, topUserSummaries, topUsersByEventsFromEvents, topUsersByRevenue, topUsersByRevenueRound, userTotals, type UserMetric, type UserTotalRow } from '../sql/top-users.js'
import { ceilTo, DAY_MS, floorTo, num, rangeQuery, resolveRange, WEEK_MS, type Range } from '../range.js'
import { errorResponses } from '../schemas/problem.js'
import { Limit, RangeEcho } from '../schemas/common.js'

const Query = rangeQuery({
  metric: Type.Optional(Type.Union([Type.Literal('events'), Type.Literal('revenue')], { default: 'events', description: 'Rank by events (default) or revenue' })),
  limit: Limit(10, 100),
})

export const TopUsers = Type.Object(
  {
    ...RangeEcho,
    metric: Type.String(),
    users: Type.Array(Type.Object({ userId: Type.String(), events: Type.Number(), revenue: Type.Number() }), {
      description: 'Largest first, ties by user id; for revenue, users with revenue > 0 only',
    }),
  },
  { $id: 'TopUsers' },
)

/** How many candidates per week summary to start with, and at most (the summaries hold 2,000). */
const FIRST_CANDIDATES = 32
const SUMMARY_SIZE = 2_000

export interface TopUsersResult {
  rows: UserTotalRow[]
  /** How the answer was proven: 'summaries' (by events; rounds taken), 'rollup' (by revenue; rounds taken) or 'events' (every user of the range). */
  via: 'summaries' | 'rollup' | 'events'
  rounds: number
}

/**
 * Exact top users of a range by events, without reading every user. Each week's summary
 * bounds any user's count in that week (counter + delta; delta alone for users it does
 * not hold), so a user outside the candidates has at most `bound` in the range: the sum
 * over the range's weeks of what the first user not taken could have. Candidates get
 * exact totals from `events`; once the k-th of them is above `bound` nobody else can be
 * in the top k. Otherwise take 4× more candidates, and in the end every user of the range.
 */
export async function topUsersByEvents(pool: Pool, range: Range, limit: number): Promise<TopUsersResult> {
  const weeks: Date[] = []
  for (let w = floorTo(range.from.getTime(), WEEK_MS); w < range.to.getTime(); w += WEEK_MS) weeks.push(new Date(w))
  const pending = await pendingTopUsers(pool, weeks, range.source)
  let rounds = 0
  for (let m = Math.max(FIRST_CANDIDATES, 4 * limit); ; m *= 4) {
    rounds++
    const summaries = await topUserSummaries(pool, weeks, range.source, Math.min(m, SUMMARY_SIZE))
    const candidates = new Set(pending)
    let bound = 0
    for (const s of summaries) {
      for (const u of s.users) candidates.add(u)
      bound += num(s.delta) + num(s.next)
    }
    const totals = (await userTotals(pool, [...candidates], range.from, range.to, range.source)).sort(
      (a, b) => num(b.events) - num(a.events) || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0),
    )
    const kth = totals[limit - 1]
    if (bound === 0 || (kth !== undefined && num(kth.events) > bound)) return { rows: totals.slice(0, limit), via: 'summaries', rounds }
    if (m >= SUMMARY_SIZE) break
  }
  return { rows: await topUsersByEventsFromEvents(pool, range.from, range.to, range.source, limit), via: 'events', rounds }
}

/** Candidates per week to start with for top users by revenue, and at most. */
const FIRST_REVENUE_CANDIDATES = 64
const MAX_REVENUE_CANDIDATES = 4_096
/** Shorter ranges read their few events with revenue directly. */
const REVENUE_ROLLUP_MIN_MS = 3 * DAY_MS

/**
 * Exact top users of a range by revenue, for every source together, from the revenue per
 * user and week and day (db/migrations/0064): the m largest week rows of each week the
 * range touches bound everybody else's revenue (sql/top-users.ts); once the k-th candidate
 * is above that bound nobody else can be in the top k. Otherwise 4× more candidates, and
 * in the end every event with revenue of the range.
 */
export async function topUsersByRevenueFromRollup(pool: Pool, range: Range, limit: number): Promise<TopUsersResult> {
  const f = range.from.getTime()
  const t = range.to.getTime()
  const weeks: Date[] = []
  for (let w = floorTo(f, WEEK_MS); w < t; w += WEEK_MS) weeks.push(new Date(w))
  const d1 = ceilTo(f, DAY_MS)
  const d2 = floorTo(t, DAY_MS)
  const days = d1 < d2 ? { d1: new Date(d1), d2: new Date(d2) } : { d1: range.to, d2: range.to }
  let rounds = 0
  for (let m = Math.max(FIRST_REVENUE_CANDIDATES, 4 * limit); m <= MAX_REVENUE_CANDIDATES; m *= 4) {
    rounds++
    const { rows, bound } = await topUsersByRevenueRound(pool, { from: range.from, to: range.to, ...days, weeks }, m, limit)
    const kth = rows[limit - 1]
    if (num(bound) <= 0 || (kth !== undefined && num(kth.revenue) > num(bound))) return { rows: await withEvents(pool, range, rows), via: 'rollup', rounds }
  }
  return { rows: await withEvents(pool, range, await topUsersByRevenue(pool, range.from, range.to, range.source, limit)), via: 'events', rounds }
}

async function withEvents(pool: Pool, range: Range, top: { user_id: string; revenue: string }[]): Promise<UserTotalRow[]> {
  const totals = new Map((await userTotals(pool, top.map((t) => t.user_id), range.from, range.to, range.source)).map((t) => [t.user_id, t]))
  return top.map((t) => ({ user_id: t.user_id, events: totals.get(t.user_id)?.events ?? '0', revenue: t.revenue }))
}

/**
 * Top users by revenue: from the revenue rollup for every source together and ranges of
 * a few days or more; otherwise straight from the events that carry revenue. Then their
 * event counts.
 */
export async function topUsers(pool: Pool, range: Range, metric: UserMetric, limit: number): Promise<TopUsersResult> {
  if (metric === 'events') return topUsersByEvents(pool, range, limit)
  if (range.source === null && range.to.getTime() - range.from.getTime() >= REVENUE_ROLLUP_MIN_MS) return topUsersByRevenueFromRollup(pool, range, limit)
  const top = await topUsersByRevenue(pool, range.from, range.to, range.source, limit)
  return { rows: await withEvents(pool, range, top), via: 'events', rounds: 0 }
}

export default async function usersRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/v1/users/top',
    {
      schema: {
        tags: ['users'],
        summary: 'Users with the most events or revenue',
        querystring: Query,
        response: { 200: TopUsers, ...errorResponses },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const metric = request.query.metric ?? 'events'
      const result = await topUsers(app.pg, range, metric, request.query.limit ?? 10)
      request.log.debug({ via: result.via, rounds: result.rounds }, 'top users')
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        source: range.source,
        metric,
        users: result.rows.map((r) => ({ userId: r.user_id, events: num(r.events), revenue: num(r.revenue) })),
      }
    },
  )
}
