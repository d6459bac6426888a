/**
 * The end-to-end benchmark's accounting: every event a 2xx answer accepted must be in
 * `events` exactly once. Each request's ids carry a prefix of their own (templates.ts),
 * so the rows stored under that prefix are compared with what the answer said.
 */

export interface RequestRecord {
  prefix: string
  /** HTTP status; 0 when no answer came (a timeout, or still in flight when the run stopped). */
  status: number
  /** Events in the body. */
  events: number
  /** Distinct valid events in the body. */
  valid: number
  accepted: number
  duplicates: number
  rejected: number
}

export interface AuditInput {
  requests: RequestRecord[]
  /** Rows stored during the run, per id prefix. */
  storedByPrefix: Map<string, number>
  /** `count(*)` of events after the run minus before. */
  storedDelta: number
  deadLettersDelta: number
}

export interface Audit {
  requests: number
  answered2xx: number
  answeredOther: number
  unanswered: number
  offered: number
  accepted: number
  rejected: number
  /** Repeats of an event already accepted (inside a body or by JetStream's window), answered as duplicates. */
  duplicates: number
  stored: number
  deadLetters: number
  /** Σ over 2xx answers of (accepted − stored under its prefix) where positive: must be 0. */
  acceptedNotStored: number
  /** Σ over 2xx answers of (stored under its prefix − accepted) where positive: an answer that under-counted, or a double store. */
  storedBeyondAccepted: number
  /** Rows stored for requests without a 2xx answer (their answer was lost; fine, re-sending dedupes). */
  storedUnanswered: number
  /** Rows the run stored that no request of the run sent (another client, or a bug). */
  storedUnknown: number
  /** Valid events that a 2xx answer did not accept (wrongly rejected, or accepted as duplicates). */
  validNotAccepted: number
  /** Distinct events stored under answered prefixes = Σ accepted. */
  storedEqualsAccepted: boolean
  ok: boolean
}

export function audit({ requests, storedByPrefix, storedDelta, deadLettersDelta }: AuditInput): Audit {
  const a: Audit = {
    requests: requests.length,
    answered2xx: 0,
    answeredOther: 0,
    unanswered: 0,
    offered: 0,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    stored: storedDelta,
    deadLetters: deadLettersDelta,
    acceptedNotStored: 0,
    storedBeyondAccepted: 0,
    storedUnanswered: 0,
    storedUnknown: 0,
    validNotAccepted: 0,
    storedEqualsAccepted: false,
    ok: false,
  }
  let storedAnswered = 0
  let storedKnown = 0
  const seen = new Set<string>()
  for (const r of requests) {
    a.offered += r.events
    const stored = storedByPrefix.get(r.prefix) ?? 0
    // A prefix is used once; a second record with it would be counted twice.
    if (seen.has(r.prefix)) throw new Error(`prefix ${r.prefix} used by two requests`)
    seen.add(r.prefix)
    storedKnown += stored
    if (r.status >= 200 && r.status < 300) {
      a.answered2xx++
      a.accepted += r.accepted
      a.rejected += r.rejected
      a.duplicates += r.duplicates
      storedAnswered += stored
      if (r.accepted > stored) a.acceptedNotStored += r.accepted - stored
      if (stored > r.accepted) a.storedBeyondAccepted += stored - r.accepted
      if (r.valid > r.accepted) a.validNotAccepted += r.valid - r.accepted
    } else {
      if (r.status === 0) a.unanswered++
      else {
        a.answeredOther++
        a.rejected += r.rejected
      }
      a.storedUnanswered += stored
    }
  }
  a.storedUnknown = storedDelta - storedKnown
  a.storedEqualsAccepted = storedAnswered === a.accepted && a.acceptedNotStored === 0 && a.storedBeyondAccepted === 0
  a.ok = a.acceptedNotStored === 0 && a.storedBeyondAccepted === 0 && a.storedUnknown === 0 && a.storedEqualsAccepted
  return a
}
