/**
 * Money as clients send it — numbers, or strings like "19.99", "1,234.50", "€12.00",
 * "12.00 EUR" — to a number (and a currency when the string names one).
 */

export interface Money {
  amount: number
  currency?: string
}

const MONEY = /^\s*([$€£¥])?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*([A-Z]{3})?\s*$/
const SYMBOLS: Record<string, string> = { '€': 'EUR', '£': 'GBP' }

/** A pattern for schemas: what `parseMoney` accepts as a string. */
export const MONEY_PATTERN = MONEY.source

/** Non-negative money, or undefined when the value is not money. */
export function parseMoney(value: unknown): Money | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? { amount: value } : undefined
  if (typeof value !== 'string' || value.length > 64) return undefined
  const m = MONEY.exec(value)
  if (!m) return undefined
  const amount = Number(`${m[2]!.replace(/,/g, '')}${m[3] ?? ''}`)
  if (!Number.isFinite(amount)) return undefined
  const currency = m[4] ?? (m[1] ? SYMBOLS[m[1]] : undefined)
  return currency ? { amount, currency } : { amount }
}
