import type { FieldError } from './mapped.js'

/** The part of a TypeBox validation error this module reads. */
interface ValidationError {
  keyword: string
  instancePath: string
  message: string
  params: unknown
}

interface Validator {
  Errors(value: unknown): Iterable<ValidationError>
}

const MAX_ERRORS = 10

/**
 * A compiled schema's errors as `{path, message}` a client can act on: one error per
 * missing property, enums listed, and the alternatives of a union ("must be string or
 * null") folded into one message instead of one line per branch.
 */
export function schemaErrors(validator: Validator, value: unknown, prefix = ''): FieldError[] {
  const byPath = new Map<string, string[]>()
  const unions = new Set<string>()
  let count = 0
  for (const e of validator.Errors(value)) {
    if (e.keyword === 'boolean') continue
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      unions.add(e.instancePath)
      continue
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? []
      for (const property of missing) add(byPath, `${e.instancePath}/${property}`, 'is required')
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? []
      add(byPath, e.instancePath, `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`)
    } else if (e.keyword === 'const') {
      add(byPath, e.instancePath, `must be ${JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue)}`)
    } else {
      add(byPath, e.instancePath, e.message)
    }
    if (++count > 50) break
  }
  const errors: FieldError[] = []
  for (const [path, messages] of byPath) {
    const message = unions.has(path) ? `${messages.map((m) => m.replace(/^must be /, '')).join(' or ').replace(/^/, 'must be ')}` : messages.join('; ')
    errors.push({ path: `${prefix}${path}` || '/', message })
    if (errors.length === MAX_ERRORS) break
  }
  if (errors.length === 0) errors.push({ path: prefix || '/', message: 'does not match the schema' })
  return errors
}

function add(map: Map<string, string[]>, path: string, message: string): void {
  const list = map.get(path)
  if (!list) map.set(path, [message])
  else if (!list.includes(message)) list.push(message)
}
