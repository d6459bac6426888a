/**
 * The JSON text of one top-level member of an object, as it appears in the source
 * text, so the worker can hand `data` to PostgreSQL exactly as it was sent instead of
 * re-serialising a JavaScript copy: numbers beyond a double's range or precision
 * survive, and values jsonb cannot hold (`\u0000`, a numeric overflow, a lone
 * surrogate) are rejected by PostgreSQL rather than silently changed.
 *
 * The scanner only tracks strings and nesting. When a key occurs twice the last one
 * wins, as in JSON.parse. Returns undefined when the member is absent.
 */
const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** Index just past the string that opens at `start` (native indexOf does the scanning). */
function stringEnd(json: string, start: number): number {
  let quote = json.indexOf('"', start + 1)
  for (;;) {
    if (quote === -1) return json.length
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0
    while (json.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote + 1
    quote = json.indexOf('"', quote + 1)
  }
}

function hasBackslash(json: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (json.charCodeAt(i) === BACKSLASH) return true
  return false
}

function trimmedEnd(json: string, end: number): number {
  while (end > 0 && isSpace(json.charCodeAt(end - 1))) end--
  return end
}

function parseKey(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string
  } catch {
    return undefined
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

export function rawMember(json: string, key: string): string | undefined {
  const span = memberSpan(json, key)
  return span && json.slice(span[0], span[1])
}

/**
 * Where the value of a top-level member starts and ends in `json` ([start, end)).
 * Malformed text never makes it loop or throw; it may give a span that is not a JSON
 * value, which whoever uses the span must then check.
 */
export function memberSpan(json: string, key: string): [number, number] | undefined {
  const n = json.length
  let depth = 0
  let expectKey = false
  let capturing = false
  let valueStart = -1
  let found: [number, number] | undefined
  let i = 0
  while (i < n) {
    const c = json.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      i = stringEnd(json, i)
      if (depth === 1 && expectKey) {
        expectKey = false
        const matches = hasBackslash(json, start + 1, i - 1) ? parseKey(json.slice(start, i)) === key : i - start - 2 === key.length && json.startsWith(key, start + 1)
        while (isSpace(json.charCodeAt(i))) i++
        i++ // past the colon that always follows a key
        if (matches) {
          while (isSpace(json.charCodeAt(i))) i++
          valueStart = i
          capturing = true
        }
      }
      continue
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++
      if (depth === 1) expectKey = c === OPEN_BRACE
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 1 && capturing) {
        found = [valueStart, trimmedEnd(json, i)]
        capturing = false
      }
      depth--
    } else if (c === COMMA && depth === 1) {
      if (capturing) {
        found = [valueStart, trimmedEnd(json, i)]
        capturing = false
      }
      expectKey = true
    }
    i++
  }
  return found
}
