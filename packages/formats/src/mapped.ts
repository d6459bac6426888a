import type { Envelope } from '@sluice/contracts/envelope'

/** One problem with one event, addressed by a JSON pointer into that event. */
export interface FieldError {
  path: string
  message: string
}

/** Why an event was rejected, as counted in metrics (`reason` label). */
export type RejectReason = 'schema' | 'too_large' | 'too_deep' | 'forbidden_key' | 'unstorable_string' | 'source_not_allowed'

/** What every mapping needs besides the event: when and by which request it arrived. */
export interface MapContext {
  /** ISO-8601, the same for every event of a request. */
  receivedAt: string
  requestId: string
}

/** An input event mapped to the envelope, or the reasons it cannot be. Expected outcomes are values, not exceptions. */
export type Mapped = { ok: true; envelope: Envelope } | { ok: false; reason: RejectReason; errors: FieldError[] }

export function rejected(errors: FieldError[], reason: RejectReason = 'schema'): Mapped {
  return { ok: false, reason, errors }
}
