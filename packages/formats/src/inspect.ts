import type { FieldError, RejectReason } from './mapped.js'

/**
 * Checks what schemas cannot see in a parsed event before anything copies or stores it:
 * nesting deeper than the limit, prototype-polluting keys (`__proto__`, `constructor`
 * holding `prototype`), and strings PostgreSQL cannot store (U+0000, lone surrogates).
 * Recursion stops at the depth limit, so hostile nesting cannot exhaust the stack; the
 * path of a finding is built only on the way out, so a clean event allocates nothing.
 */

export interface InspectOptions {
  maxDepth: number
  /** Look at every string; callers skip it when the raw body held no `\u0000` or `\uD8xx` escape. */
  checkStrings: boolean
}

export interface Finding {
  reason: RejectReason
  error: FieldError
}

interface Found {
  reason: RejectReason
  message: string
  /** Keys from the finding up to the event, innermost first. */
  keys: string[]
}

// ES2024, in Node since 20; the repository's lib is ES2023.
type WellFormed = string & { isWellFormed(): boolean }

function badString(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains U+0000, which cannot be stored'
  if (!(s as WellFormed).isWellFormed()) return 'contains a lone UTF-16 surrogate, which cannot be stored'
  return undefined
}

function visit(value: unknown, depth: number, options: InspectOptions): Found | undefined {
  if (typeof value === 'string') {
    const problem = options.checkStrings ? badString(value) : undefined
    return problem ? { reason: 'unstorable_string', message: problem, keys: [] } : undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  if (depth > options.maxDepth) {
    return { reason: 'too_deep', message: `nested deeper than ${options.maxDepth} levels (MAX_PROPERTY_DEPTH)`, keys: [] }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = visit(value[i], depth + 1, options)
      if (found) {
        found.keys.push(String(i))
        return found
      }
    }
    return undefined
  }
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key]
    if (key === '__proto__' || (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype'))) {
      return { reason: 'forbidden_key', message: `the key "${key}" is not allowed`, keys: [key] }
    }
    if (options.checkStrings) {
      const problem = badString(key)
      if (problem) return { reason: 'unstorable_string', message: `key ${problem}`, keys: [key] }
    }
    const found = visit(child, depth + 1, options)
    if (found) {
      found.keys.push(key)
      return found
    }
  }
  return undefined
}

export function inspectEvent(event: unknown, options: InspectOptions): Finding | undefined {
  const found = visit(event, 1, options)
  if (!found) return undefined
  const path = found.keys.reverse().map(escapePointer).join('/')
  return { reason: found.reason, error: { path: `/${path}`, message: found.message } }
}

/** RFC 6901 escaping, and a bound on what a hostile key can put into a response. */
export function escapePointer(key: string): string {
  const escaped = key.replace(/~/g, '~0').replace(/\//g, '~1')
  return escaped.length > 64 ? `${escaped.slice(0, 64)}…` : escaped
}
