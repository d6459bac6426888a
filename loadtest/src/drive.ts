import autocannon from 'autocannon'
import type { RequestRecord } from './audit.js'
import { nextPrefix, renderWith, type Template } from './templates.js'

/**
 * Drives one scenario with autocannon and keeps, per request, what the end-to-end
 * benchmark's audit needs: the id prefix the body carried, the status, and the counts
 * the answer gave. Sampled events (the templates' samples) are handed to `onSample` with
 * the time their POST was sent, for POST → stored latency.
 */

export interface Workload {
  name: string
  path: string
  templates: Template[]
  connections: number
  /** Requests per second over all connections (autocannon's overallRate); none = as fast as answered. */
  requestsPerSecond?: number
}

export interface DriveOptions {
  url: string
  seconds: number
  /** Called for each sampled event as its request is sent. */
  onSample?: (sample: { source: string; eventId: string; prefix: string; sentAt: number; last?: boolean }) => void
  /** Called with the number of events of each request as it is sent. */
  onSend?: (events: number) => void
  /** Called with each answer (for the live line and to drop samples of refused requests). */
  onAnswer?: (record: RequestRecord) => void
  /** Samples at most this often per second in all (every request of a slow scenario is sampled). */
  samplesPerSecond?: number
}

export interface DriveResult {
  records: RequestRecord[]
  seconds: number
  startedAt: number
  endedAt: number
  requestsPerSecond: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
  errors: number
  timeouts: number
  non2xx: number
}

interface Context {
  record?: RequestRecord
}

/** The counts of an answer: native routes say accepted/duplicates/rejected, Amplitude's events_ingested. */
export function answerCounts(status: number, body: string): { accepted: number; duplicates: number; rejected: number } {
  try {
    const b = JSON.parse(body) as { accepted?: number; duplicates?: number; rejected?: unknown[]; events_ingested?: number; code?: number }
    const ok = status >= 200 && status < 300
    return {
      accepted: ok ? (b.accepted ?? b.events_ingested ?? 0) : 0,
      duplicates: ok ? (b.duplicates ?? 0) : 0,
      rejected: Array.isArray(b.rejected) ? b.rejected.length : 0,
    }
  } catch {
    return { accepted: 0, duplicates: 0, rejected: 0 }
  }
}

export async function drive(w: Workload, o: DriveOptions): Promise<DriveResult> {
  const records: RequestRecord[] = []
  let next = 0
  let lastSample = 0
  const sampleGapMs = 1000 / (o.samplesPerSecond ?? 200)
  const startedAt = Date.now()
  const result = await autocannon({
    url: o.url,
    connections: w.connections,
    duration: o.seconds,
    timeout: 30,
    ...(w.requestsPerSecond ? { overallRate: w.requestsPerSecond } : {}),
    requests: [
      {
        method: 'POST',
        path: w.path,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context: Context) => {
          const t = w.templates[next++ % w.templates.length]!
          const prefix = nextPrefix()
          const record: RequestRecord = { prefix, status: 0, events: t.events, valid: t.valid ?? t.events, accepted: 0, duplicates: 0, rejected: 0 }
          records.push(record)
          o.onSend?.(t.events)
          context.record = record
          const now = Date.now()
          if (o.onSample && t.samples && (t.events >= 1_000 || now - lastSample >= sampleGapMs)) {
            lastSample = now
            for (const s of t.samples) o.onSample({ source: s.source, eventId: prefix + s.suffix, prefix, sentAt: now, ...(s.last ? { last: true } : {}) })
          }
          return { ...req, body: renderWith(t, prefix) }
        },
        onResponse: (status, body, context: Context) => {
          const record = context.record
          if (!record) return
          context.record = undefined
          record.status = status
          Object.assign(record, answerCounts(status, body))
          o.onAnswer?.(record)
        },
      },
    ],
  })
  const endedAt = Date.now()
  return {
    records,
    seconds: result.duration,
    startedAt,
    endedAt,
    requestsPerSecond: Math.round((result['2xx'] / result.duration) * 100) / 100,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  }
}
