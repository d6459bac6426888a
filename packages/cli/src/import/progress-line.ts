import type { ImportProgress, ImportSummary } from './amplitude-import.js'

const n = (v: number) => v.toLocaleString('en-US')

function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** One line: a bar of the archive's bytes read, the counters, the rate and the ETA. */
export function progressLine(p: ImportProgress, width = 24): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 0
  const filled = Math.round(fraction * width)
  const seconds = p.elapsedMs / 1000
  const rate = seconds > 0 ? p.rowsRead / seconds : 0
  const eta = fraction > 0 && fraction < 1 ? duration((p.elapsedMs / fraction) * (1 - fraction)) : '–'
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1)}%  ` +
    `read ${n(p.rowsRead)}  published ${n(p.published)}  duplicates ${n(p.duplicates)}  invalid ${n(p.invalid)}  ` +
    `${n(Math.round(rate))} rows/s  file ${p.filesDone}/${p.files}  ETA ${eta}`
  )
}

export function summaryText(s: ImportSummary, dryRun: boolean): string {
  const seconds = s.elapsedMs / 1000
  const lines = [
    s.interrupted ? 'Import interrupted: run the same command again to complete it (nothing is stored twice).' : dryRun ? 'Dry run complete (nothing published).' : 'Import complete.',
    `  files        ${s.filesDone} of ${s.files}`,
    `  rows read    ${n(s.rowsRead)}`,
    dryRun ? `  valid        ${n(s.rowsRead - s.invalid)}` : `  published    ${n(s.published)} in ${n(s.messages)} messages`,
    `  duplicates   ${n(s.duplicates)} (already on the import stream; PostgreSQL drops any others)`,
    `  invalid      ${n(s.invalid)}${s.rejectsPath ? ` (see ${s.rejectsPath})` : ''}`,
    `  time         ${duration(s.elapsedMs)} (${n(Math.round(seconds > 0 ? s.rowsRead / seconds : 0))} rows/s)`,
  ]
  return `${lines.join('\n')}\n`
}
