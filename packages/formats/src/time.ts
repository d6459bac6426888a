/**
 * Instants as every format sends them, to the ISO-8601 UTC string the envelope holds.
 * Each returns undefined for a value that is not a real instant, never throws.
 */

const MIN_MS = Date.UTC(1970, 0, 1)
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

function fromMs(ms: number): string | undefined {
  return Number.isFinite(ms) && ms >= MIN_MS && ms <= MAX_MS ? new Date(ms).toISOString() : undefined
}

/** An ISO-8601 date-time already checked by a schema (`format: 'date-time'`). */
export function isoInstant(value: string): string | undefined {
  // Most clients already send the canonical form (what toISOString() gives): keep it as is.
  if (value.length === 24 && value.charCodeAt(23) === 90 /* Z */ && value.charCodeAt(10) === 84 /* T */ && value.charCodeAt(19) === 46 /* . */ && value >= '1970') {
    return value
  }
  return fromMs(Date.parse(value))
}

/** Milliseconds since the epoch (Amplitude's `time`). */
export function epochMsInstant(value: number): string | undefined {
  return fromMs(Math.trunc(value))
}

const AMPLITUDE_EXPORT_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * Amplitude export times: `2024-03-02 17:01:23.456000` (UTC, a space, no zone; `T` and a
 * zone are accepted too). Microseconds are cut to milliseconds.
 */
export function amplitudeExportInstant(value: string): string | undefined {
  const m = AMPLITUDE_EXPORT_TIME.exec(value)
  if (!m) return undefined
  const fraction = m[3] ? m[3].slice(0, 4).padEnd(4, '0') : ''
  return fromMs(Date.parse(`${m[1]}T${m[2]}${fraction}${m[4] ?? 'Z'}`))
}
