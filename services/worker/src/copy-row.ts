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

/**
 * One row, newline-terminated. `data` is the JSON text of `e.data` — the message's own
 * text when the caller has it (see raw-member.ts) — and defaults to re-serialising it.
 */
export function copyRow(e: Envelope, data: string = JSON.stringify(e.data)): string {
  let row = ''
  for (let i = 0; i < ENVELOPE_COLUMNS.length; i++) {
    const column = ENVELOPE_COLUMNS[i]!
    const value = column === 'data' ? data : e[column]
    if (i > 0) row += '\t'
    row += value === undefined || value === null ? '\\N' : copyText(String(value))
  }
  return row + '\n'
}
