import type { FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Topology } from '@sluice/contracts/topology'
import { HttpProblem } from '@sluice/kit/problem'
import { PublishUnavailable, type JetStreamPublisher } from '@sluice/kit/jetstream-publisher'
import { requestOutcome, Tally, type IngestionMetrics } from './metrics.js'
import { prepare, prepareState, type PrepareOptions, type Prepared, type Rejection } from './prepare.js'
import type { Mapped } from '@sluice/formats/mapped'
import type { RateLimiter } from './rate-limiter.js'
import type { WriteKey, WriteKeys } from './write-keys.js'

/** What the write routes share; decorated on the app as `ingest`. */
export interface Ingest {
  topology: Topology
  publisher: JetStreamPublisher
  metrics: IngestionMetrics
  keys: WriteKeys
  limiter: RateLimiter
  limits: { maxEventsPerRequest: number; maxEventBytes: number; maxPropertyDepth: number; bodyLimitBytes: number; packEvents: number }
  retryAfterSeconds: number
}

declare module 'fastify' {
  interface FastifyInstance {
    ingest: Ingest
  }
  interface FastifyRequest {
    /** The verified write key (undefined when ingestion is open). */
    writeKey: WriteKey | undefined
  }
}

/** A route-level hook counting the route's requests by outcome (the route is known here, no lookup per request). */
export function countRequests(ingest: Ingest, route: string): onResponseHookHandler {
  return (_request, reply, done) => {
    ingest.metrics.request(route, requestOutcome(reply.statusCode))
    done()
  }
}

/** A write key from `Authorization: Bearer|Basic`, `X-Write-Key` or `?writeKey=`, in that order. */
export function credentialFrom(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization
  if (typeof authorization === 'string') {
    const space = authorization.indexOf(' ')
    const scheme = authorization.slice(0, space).toLowerCase()
    const value = authorization.slice(space + 1).trim()
    if (scheme === 'bearer') return value
    if (scheme === 'basic') {
      // Segment's form: base64("<writeKey>:"), the key as user name and no password.
      const decoded = Buffer.from(value, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      return colon >= 0 ? decoded.slice(0, colon) : decoded
    }
  }
  const header = request.headers['x-write-key']
  if (typeof header === 'string') return header
  const query = (request.query as Record<string, unknown> | undefined)?.writeKey
  return typeof query === 'string' ? query : undefined
}

/**
 * The write key for `candidate`, or a 401 problem. Open ingestion (no keys configured)
 * accepts anything, including no key.
 */
export function authenticate(ingest: Ingest, candidate: string | undefined): WriteKey | undefined {
  if (ingest.keys.open) return undefined
  const key = ingest.keys.verify(candidate)
  if (key) return key
  throw new HttpProblem(401, {
    kind: 'unauthorized',
    detail: candidate ? 'the write key is not valid' : 'a write key is required: Authorization: Bearer <key>, X-Write-Key, ?writeKey=, or the key in the body (Amplitude api_key, Segment writeKey)',
    headers: { 'www-authenticate': 'Bearer realm="sluice"' },
  })
}

/** 413 when a request carries more events than allowed. */
export function checkEventCount(ingest: Ingest, count: number): void {
  const max = ingest.limits.maxEventsPerRequest
  if (count > max) {
    throw new HttpProblem(413, { kind: 'too-many-events', detail: `the request holds ${count} events; at most ${max} are allowed (MAX_EVENTS_PER_REQUEST)`, extra: { limit: max } })
  }
}

export class RateLimited extends HttpProblem {
  constructor(
    readonly retryAfter: number,
    readonly eventsPerSecond: number,
  ) {
    super(429, {
      kind: 'rate-limited',
      detail: `this write key sends more than ${eventsPerSecond} events per second; retry after ${retryAfter} s`,
      headers: { 'retry-after': String(retryAfter) },
      extra: { limit: eventsPerSecond },
    })
  }
}

/** Takes `events` from the key's (or, when open, the client address's) rate bucket, or throws a 429. */
export function rateLimit(ingest: Ingest, request: FastifyRequest, key: WriteKey | undefined, events: number): void {
  const eventsPerSecond = key?.eventsPerSecond
  const wait = ingest.limiter.take(key ? `key:${key.id}` : `ip:${request.ip}`, events, eventsPerSecond)
  if (wait > 0) throw new RateLimited(wait, eventsPerSecond ?? ingest.limiter.defaultRate)
}

export class Unavailable extends HttpProblem {
  constructor(retryAfter: number, reason: string) {
    super(503, {
      kind: 'stream-unavailable',
      detail: `the event stream cannot take events right now (${reason}); retry later — re-sending is safe, event ids dedupe`,
      headers: { 'retry-after': String(retryAfter) },
    })
  }
}

export interface Published {
  accepted: number
  duplicates: number
}

/**
 * Publishes what `prepare` produced and counts every event of the request in metrics.
 * Resolves only once JetStream acknowledged every message; a failure is an `Unavailable`
 * (503) problem.
 */
export async function publishPrepared(ingest: Ingest, route: string, request: FastifyRequest, prepared: Prepared): Promise<Published> {
  const { metrics } = ingest
  const tally = new Tally()
  for (const r of prepared.rejected) tally.add(metrics.sourceLabel(r.source), 'rejected', r.reason)
  for (const s of prepared.repeats) tally.add(metrics.sourceLabel(s), 'duplicate')
  const stop = metrics.publishDuration.startTimer()
  try {
    if (prepared.messages.length === 0) return { accepted: 0, duplicates: 0 }
    const outcome = await ingest.publisher.publish(prepared.messages, request.id)
    stop()
    // Counted per source first: one label lookup per source, not per event.
    const { sources, counts: sizes } = prepared
    const counts = new Map<string, [accepted: number, duplicates: number]>()
    let accepted = 0
    let duplicates = 0
    for (let i = 0; i < sources.length; i++) {
      let c = counts.get(sources[i]!)
      if (!c) counts.set(sources[i]!, (c = [0, 0]))
      const events = sizes[i]!
      if (outcome.duplicate[i]) {
        c[1] += events
        duplicates += events
      } else {
        c[0] += events
        accepted += events
      }
    }
    for (const [source, [a, d]] of counts) {
      if (a) tally.add(metrics.sourceLabel(source), 'accepted', '', a)
      if (d) tally.add(metrics.sourceLabel(source), 'duplicate', '', d)
    }
    return { accepted, duplicates: duplicates + prepared.repeats.length }
  } catch (err) {
    if (!(err instanceof PublishUnavailable)) throw err
    prepared.sources.forEach((s, i) => tally.add(metrics.sourceLabel(s), 'unavailable', '', prepared.counts[i]))
    request.log.warn({ reason: err.message, messages: prepared.messages.length }, 'publish failed; answering 503')
    throw new Unavailable(ingest.retryAfterSeconds, err.message)
  } finally {
    metrics.countEvents(route, tally)
  }
}

export interface Ingested extends Published {
  rejected: Rejection[]
  /** Items that were valid (accepted, duplicates, repeats): 0 means the request gets a 400. */
  valid: number
}

/** Events prepared between two yields to the event loop (~10 ms of work). */
const SLICE = 1_000

/**
 * Prepares and publishes a request's items a slice at a time: a 50,000-event post does
 * not hold the event loop for the half second its preparation takes (other requests and
 * health checks run between slices), and JetStream stores the first slice while the next
 * is prepared. Resolves when every slice is acknowledged; any slice failing makes the
 * request a 503 (what was stored dedupes on retry).
 */
export async function ingestItems(
  ingest: Ingest,
  route: string,
  request: FastifyRequest,
  items: readonly unknown[],
  map: (item: unknown, index: number) => Mapped,
  eventIdOf: (item: unknown) => string | null,
  options: Omit<PrepareOptions, 'topology' | 'maxDepth' | 'maxEventBytes' | 'packEvents' | 'requestEvents'>,
): Promise<Ingested> {
  // Named one by one: built as `{ ...options, topology, … }`, this object cost ~4 µs in
  // V8 (Node 20; measured in isolation, and ~3 % of a single-event request's samples),
  // against ~30 ns for the literal.
  const prepareOptions: PrepareOptions = {
    suspectStrings: options.suspectStrings,
    key: options.key,
    topology: ingest.topology,
    maxDepth: ingest.limits.maxPropertyDepth,
    maxEventBytes: ingest.limits.maxEventBytes,
    packEvents: ingest.limits.packEvents,
    requestEvents: items.length,
  }
  const state = prepareState()
  const slices: Promise<Published>[] = []
  const rejected: Rejection[] = []
  let valid = 0
  let failed = false
  for (let start = 0; start < items.length && !failed; start += SLICE) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve))
    const prepared = prepare(items, map, eventIdOf, prepareOptions, state, start, Math.min(items.length, start + SLICE))
    for (const r of prepared.rejected) rejected.push(r)
    valid += prepared.messages.length + prepared.repeats.length
    const published = publishPrepared(ingest, route, request, prepared)
    // Observed at once, so a failure while later slices are prepared is not "unhandled".
    void published.catch(() => (failed = true))
    slices.push(published)
  }
  let accepted = 0
  let duplicates = 0
  for (const result of await Promise.allSettled(slices)) {
    if (result.status === 'rejected') throw result.reason
    accepted += result.value.accepted
    duplicates += result.value.duplicates
  }
  return { accepted, duplicates, rejected, valid }
}
