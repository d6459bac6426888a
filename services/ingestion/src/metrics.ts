import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/**
 * What ingestion counts, beyond the HTTP metrics every service has: requests and events
 * by route, source and outcome (events rejected also by reason), publish latency,
 * messages in flight and payload sizes. Source labels are bounded: a source outside the
 * known list (and those write keys name) is counted as "other".
 */

export type RequestOutcome = 'accepted' | 'rejected' | 'unauthorized' | 'rate_limited' | 'too_large' | 'unavailable' | 'error'
export type EventOutcome = 'accepted' | 'duplicate' | 'rejected' | 'unavailable'

/** A write request's outcome, from its status code. */
export function requestOutcome(status: number): RequestOutcome {
  if (status < 300) return 'accepted'
  switch (status) {
    case 401:
    case 403:
      return 'unauthorized'
    case 413:
      return 'too_large'
    case 429:
      return 'rate_limited'
    case 503:
      return 'unavailable'
    default:
      return status < 500 ? 'rejected' : 'error'
  }
}

const KNOWN_SOURCES = ['facebook', 'tiktok', 'web', 'ios', 'android', 'server', 'amplitude', 'segment', 'marketplace']

export class IngestionMetrics {
  private readonly requests: Counter<'route' | 'outcome'>
  private readonly events: Counter<'route' | 'source' | 'outcome' | 'reason'>
  readonly publishDuration: Histogram
  readonly bodyBytes: Histogram<'route'>
  readonly eventsPerRequest: Histogram<'route'>
  private readonly sources: Set<string>

  constructor(registry: Registry, inFlight: () => number, extraSources: string[] = []) {
    this.sources = new Set([...KNOWN_SOURCES, ...extraSources])
    this.requests = new Counter({
      name: 'sluice_ingestion_requests_total',
      help: 'Write requests by route and outcome',
      labelNames: ['route', 'outcome'],
      registers: [registry],
    })
    this.events = new Counter({
      name: 'sluice_ingestion_events_total',
      help: 'Events by route, source and outcome (accepted, duplicate, rejected by reason, unavailable)',
      labelNames: ['route', 'source', 'outcome', 'reason'],
      registers: [registry],
    })
    this.publishDuration = new Histogram({
      name: 'sluice_ingestion_publish_duration_seconds',
      help: 'Time from publishing a request’s events to the last JetStream ack',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    new Gauge({
      name: 'sluice_ingestion_publish_in_flight',
      help: 'Messages published to JetStream and not yet acknowledged',
      registers: [registry],
      collect() {
        this.set(inFlight())
      },
    })
    this.bodyBytes = new Histogram({
      name: 'sluice_ingestion_request_body_bytes',
      help: 'Request body sizes after decompression',
      labelNames: ['route'],
      buckets: [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864],
      registers: [registry],
    })
    this.eventsPerRequest = new Histogram({
      name: 'sluice_ingestion_request_events',
      help: 'Events per write request',
      labelNames: ['route'],
      buckets: [1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000],
      registers: [registry],
    })
  }

  sourceLabel(source: unknown): string {
    return typeof source === 'string' && this.sources.has(source) ? source : typeof source === 'string' ? 'other' : 'unknown'
  }

  request(route: string, outcome: RequestOutcome): void {
    this.requests.inc({ route, outcome })
  }

  /** Adds a request's event counts (a tally keeps label work to one call per distinct label set). */
  countEvents(route: string, tally: Tally): void {
    for (const [key, n] of tally.counts) {
      const [source, outcome, reason] = key.split('\u0001') as [string, string, string]
      this.events.inc({ route, source, outcome, reason }, n)
    }
  }
}

/** Event counts of one request by source, outcome and reason. */
export class Tally {
  readonly counts = new Map<string, number>()

  add(source: string, outcome: EventOutcome, reason = '', n = 1): void {
    const key = `${source}\u0001${outcome}\u0001${reason}`
    this.counts.set(key, (this.counts.get(key) ?? 0) + n)
  }
}
