import { ENVELOPE_COLUMNS, type Envelope } from '@sluice/contracts/envelope'

/**
 * Encodes envelopes as COPY text-format rows (tab-separated, `\N` for null, backslash
 * escapes), in the column order of ENVELOPE_COLUMNS.
 */

const NEEDS_ESCAPE = /[\\\n\r\t]/
const ESCAPES = /[\\\n\r\t]/g
const REPLACEMENT: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

export function copyText(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (ch) => REPLACEMENT[ch]!) : value
}

export function copyRow(e: Envelope): string {
  let row = ''
  for (let i = 0; i < ENVELOPE_COLUMNS.length; i++) {
    const column = ENVELOPE_COLUMNS[i]!
    const value = column === 'data' ? JSON.stringify(e.data) : e[column]
    if (i > 0) row += '\t'
    row += value === undefined || value === null ? '\\N' : copyText(String(value))
  }
  return row + '\n'
}
