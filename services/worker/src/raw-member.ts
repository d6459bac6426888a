/**
 * The JSON text of one top-level member of an object, as it appears in the source
 * text, so the worker can hand `data` to PostgreSQL exactly as it was sent instead of
 * re-serialising a JavaScript copy: numbers beyond a double's range or precision
 * survive, and values jsonb cannot hold (`\u0000`, a numeric overflow, a lone
 * surrogate) are rejected by PostgreSQL rather than silently changed.
 *
 * `json` must be text JSON.parse accepted (the caller parsed it first), so the scanner
 * only tracks strings and nesting. When a key occurs twice the last one wins, as in
 * JSON.parse. Returns undefined when the member is absent.
 */
const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

export function rawMember(json: string, key: string): string | undefined {
  const n = json.length
  let depth = 0
  let expectKey = false
  let capturing = false
  let valueStart = -1
  let found: string | undefined
  let i = 0
  while (i < n) {
    const c = json.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      i++
      let escaped = false
      for (;;) {
        const d = json.charCodeAt(i)
        if (d === BACKSLASH) {
          escaped = true
          i += 2
        } else if (d === QUOTE) break
        else i++
      }
      i++
      if (depth === 1 && expectKey) {
        expectKey = false
        const name = escaped ? (JSON.parse(json.slice(start, i)) as string) : json.slice(start + 1, i - 1)
        while (isSpace(json.charCodeAt(i))) i++
        i++ // past the colon that always follows a key
        if (name === key) {
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
        found = json.slice(valueStart, i).trimEnd()
        capturing = false
      }
      depth--
    } else if (c === COMMA && depth === 1) {
      if (capturing) {
        found = json.slice(valueStart, i).trimEnd()
        capturing = false
      }
      expectKey = true
    }
    i++
  }
  return found
}
