/**
 * Request bodies whose ids are made unique per request without re-serialising: a body is
 * serialised once with a placeholder in every id, split on it, and joined with a fresh
 * prefix for each request. Repeats inside one body keep the same id (they stay
 * duplicates), while two requests never share one.
 */

export const PLACEHOLDER = '\u0001ID\u0001'

/** An event of a body whose storage the end-to-end benchmark times: its source and the id after the prefix. */
export interface Sample {
  source: string
  suffix: string
  /**
   * The body's last event: timed on its own (the slowest of its body), not among the
   * samples whose percentiles weigh every event alike.
   */
  last?: boolean
}

export interface Template {
  parts: string[]
  /** Events in the body (for events/s). */
  events: number
  /** Distinct valid events in the body: what a 202 should accept and the database should end up holding. */
  valid?: number
  /** Events of the body to time from POST to stored row. */
  samples?: Sample[]
}

export function template(body: unknown, events: number, extra: Pick<Template, 'valid' | 'samples'> = {}): Template {
  return { parts: JSON.stringify(body).split(JSON.stringify(PLACEHOLDER).slice(1, -1)), events, ...extra }
}

let counter = 0

/**
 * A prefix no earlier call used, and no other process: `r<pid>x<n>`. It never holds a
 * `-`, so the prefix of a stored id is everything before its first `-`.
 */
export function nextPrefix(): string {
  return `r${process.pid}x${(counter++).toString(36)}`
}

/** The body with the given prefix in every id. */
export function renderWith(t: Template, prefix: string): string {
  return t.parts.join(prefix)
}

/** The body with a prefix no earlier call used. */
export function render(t: Template): string {
  return renderWith(t, nextPrefix())
}
