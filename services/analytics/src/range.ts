import Type, { type TProperties } from 'typebox'
import { SOURCE_PATTERN } from '@sluice/contracts/envelope'
import { HttpProblem } from '@sluice/kit/problem'

/**
 * The time range every endpoint takes, and how a query splits it over the rollups.
 * Buckets are UTC (db/migrations/0020): ranges that start and end on UTC midnights are
 * answered from day rows alone, other ranges add hour rows and, for the partial hours at
 * their ends, the events themselves.
 */

export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS
export const WEEK_MS = 7 * DAY_MS
/** Origin of sluice_bucket(): a Monday, so weeks start on Mondays. */
export const BUCKET_ORIGIN_MS = Date.UTC(2000, 0, 3)

export const DEFAULT_DAYS = 30

const rangeProperties = {
  from: Type.Optional(
    Type.String({ format: 'date-time', description: `Start of the range (inclusive), ISO-8601. Default: ${DEFAULT_DAYS} days before \`to\`` }),
  ),
  to: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'End of the range (exclusive), ISO-8601. Default: the next UTC midnight, so the default range is the last 30 UTC days, today included',
    }),
  ),
  source: Type.Optional(Type.String({ pattern: SOURCE_PATTERN, description: 'Only events of this source (facebook, tiktok, web, marketplace, …)' })),
}

/** A querystring schema: the range parameters plus the endpoint's own; anything else is a 400. */
export function rangeQuery<P extends TProperties>(extra: P) {
  return Type.Object({ ...rangeProperties, ...extra }, { additionalProperties: false })
}

export interface RangeParams {
  from?: string | undefined
  to?: string | undefined
  source?: string | undefined
}

export interface Range {
  from: Date
  to: Date
  source: string | null
}

export function floorTo(ms: number, unit: number): number {
  return BUCKET_ORIGIN_MS + Math.floor((ms - BUCKET_ORIGIN_MS) / unit) * unit
}

export function ceilTo(ms: number, unit: number): number {
  return BUCKET_ORIGIN_MS + Math.ceil((ms - BUCKET_ORIGIN_MS) / unit) * unit
}

export function badParameter(name: string, message: string): HttpProblem {
  return new HttpProblem(400, { kind: 'validation', detail: `${name}: ${message}`, errors: [{ path: `/querystring/${name}`, message }] })
}

export function resolveRange(q: RangeParams, now: number = Date.now()): Range {
  const to = q.to ? new Date(q.to) : new Date(floorTo(now, DAY_MS) + DAY_MS)
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_DAYS * DAY_MS)
  if (Number.isNaN(to.getTime())) throw badParameter('to', 'is not a valid date-time')
  if (Number.isNaN(from.getTime())) throw badParameter('from', 'is not a valid date-time')
  if (from.getTime() >= to.getTime()) throw badParameter('from', 'must be before to')
  return { from, to, source: q.source ?? null }
}

/**
 * [from, to) as from ≤ h1 ≤ d1 ≤ d2 ≤ h2 ≤ to: events of [from, h1) and [h2, to) are read
 * from `events`, hours [h1, d1) and [d2, h2) from hour rows, days [d1, d2) from day rows;
 * deltas not folded yet are read for every hour of [h1, h2).
 * `finest` = 'hour' leaves out day rows (hourly series), 'event' reads only events.
 */
export interface Split {
  from: Date
  h1: Date
  d1: Date
  d2: Date
  h2: Date
  to: Date
}

export function splitRange({ from, to }: { from: Date; to: Date }, finest: 'day' | 'hour' | 'event' = 'day'): Split {
  const f = from.getTime()
  const t = to.getTime()
  const h1 = ceilTo(f, HOUR_MS)
  const h2 = floorTo(t, HOUR_MS)
  if (finest === 'event' || h1 >= h2) return { from, h1: to, d1: to, d2: to, h2: to, to }
  const d1 = ceilTo(h1, DAY_MS)
  const d2 = floorTo(h2, DAY_MS)
  if (finest === 'hour' || d1 >= d2) return { from, h1: new Date(h1), d1: new Date(h2), d2: new Date(h2), h2: new Date(h2), to }
  return { from, h1: new Date(h1), d1: new Date(d1), d2: new Date(d2), h2: new Date(h2), to }
}

/**
 * Where a request over two days or more cuts its range in two parts to run at once: the
 * boundary of `unitMs` buckets at or below its middle, or null for a shorter range.
 */
export function middleCut({ from, to }: { from: Date; to: Date }, unitMs: number): Date | null {
  const f = from.getTime()
  const t = to.getTime()
  if (t - f < 2 * DAY_MS) return null
  const cut = floorTo((f + t) / 2, unitMs)
  return cut > f ? new Date(cut) : null
}

/** The parameters $1…$6 of the rollup queries. */
export function splitParams(s: Split): Date[] {
  return [s.from, s.h1, s.d1, s.d2, s.h2, s.to]
}

/** pg returns bigint and numeric as strings; the API answers JSON numbers. */
export function num(value: string | number | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value)
}

/** '' is how rollups key "none"; the API says null. */
export function dim(value: string | null | undefined): string | null {
  return value === '' || value === undefined ? null : value
}
