/**
 * Request bodies whose ids are made unique per request without re-serialising: a body is
 * serialised once with a placeholder in every id, split on it, and joined with a fresh
 * prefix for each request. Repeats inside one body keep the same id (they stay
 * duplicates), while two requests never share one.
 */

export const PLACEHOLDER = '\u0001ID\u0001'

export interface Template {
  parts: string[]
  /** Events in the body (for events/s). */
  events: number
}

export function template(body: unknown, events: number): Template {
  return { parts: JSON.stringify(body).split(JSON.stringify(PLACEHOLDER).slice(1, -1)), events }
}

let counter = 0

/** The body with a prefix no earlier call used. */
export function render(t: Template): string {
  return t.parts.join(`r${process.pid}x${(counter++).toString(36)}`)
}
