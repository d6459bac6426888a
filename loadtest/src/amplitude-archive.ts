import { stat } from 'node:fs/promises'
import { exportRow, gzipLines, hourFileName } from '@sluice/testkit/amplitude-export'
import { ZipWriter } from '@sluice/testkit/zip-writer'

/**
 * Writes an Amplitude export archive of `rows` realistic rows (formats.md §3): gzipped
 * JSON-lines hour files of `perFile` rows, two parts per hour when an hour holds more,
 * a few rows repeated across files (as real exports have). One file in memory at a time.
 */
export async function writeAmplitudeArchive(path: string, rows: number, perFile = 25_000): Promise<{ bytes: number; files: number }> {
  const start = Date.UTC(2024, 2, 1)
  const zip = await ZipWriter.create(path)
  let files = 0
  for (let first = 0; first < rows; first += perFile) {
    const n = Math.min(perFile, rows - first)
    const hour = Math.floor(files / 2)
    const hourStart = start + hour * 3_600_000
    const lines = new Array<string>(n)
    for (let k = 0; k < n; k++) lines[k] = JSON.stringify(exportRow(first + k, hourStart + Math.floor((k * 3_600_000) / n), { isoT: k % 10 === 0 }))
    await zip.add(hourFileName(hourStart, files % 2), gzipLines(lines))
    files++
  }
  await zip.close()
  return { bytes: (await stat(path)).size, files }
}
