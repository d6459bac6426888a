import { gzipSync } from 'node:zlib'
import { ZipWriter } from './zip-writer.js'

/**
 * Amplitude export archives as Amplitude writes them (formats.md §3): a zip of gzipped
 * JSON-lines files named `<project>/<project>_<YYYY-MM-DD>_<H>#<n>.json.gz`, hours not
 * zero-padded. Rows carry the keys real exports have.
 */

export const PROJECT_ID = '187520'

const EVENT_TYPES = ['session_start', 'Song Played', 'Add to Cart', 'Checkout', 'page_view', 'Search']
const COUNTRIES = ['United States', 'Germany', 'France', 'United Kingdom', 'Brazil', 'Japan']
const CITIES = ['San Francisco', 'Berlin', 'Paris', 'London', 'São Paulo', 'Tokyo']

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** `2024-03-02 17:01:23.456000`, or with a `T` when `isoT`. */
export function exportTime(ms: number, isoT = false): string {
  const d = new Date(ms)
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`
  return `${date}${isoT ? 'T' : ' '}${time}`
}

/** A realistic export row; `i` makes it unique and deterministic. */
export function exportRow(i: number, at: number, options: { isoT?: boolean; idPrefix?: string } = {}): Record<string, unknown> {
  const type = EVENT_TYPES[i % EVENT_TYPES.length]!
  const place = i % COUNTRIES.length
  const user = i % 7 === 0 ? null : `user-${pad(i % 50_000, 6)}`
  const row: Record<string, unknown> = {
    $insert_id: `${options.idPrefix ?? 'ins'}-${i}`,
    uuid: `6f1c${pad(i, 8)}-8a3e-11ee-b962-0242ac120002`,
    amplitude_id: 100_000_000 + (i % 50_000),
    app: 187_520,
    event_type: type,
    event_time: exportTime(at, options.isoT),
    client_event_time: exportTime(at - 250, options.isoT),
    server_upload_time: exportTime(at + 1_200, options.isoT),
    user_id: user,
    device_id: `dev-${pad(i % 80_000, 6)}-C8F9E604`,
    session_id: at - (at % 1_800_000),
    event_properties: type === 'Checkout' ? { $price: 12.5, $quantity: 2, currency: 'USD', items: 2 } : type === 'Add to Cart' ? { $revenue: 9.99, sku: `sku-${i % 300}` } : { page: `/p/${i % 40}` },
    user_properties: { plan: i % 3 === 0 ? 'pro' : 'free', utm_campaign: i % 5 === 0 ? 'spring_sale' : null },
    country: COUNTRIES[place],
    region: 'Region',
    city: CITIES[place],
    ip_address: `10.0.${i % 256}.${(i >> 8) % 256}`,
    platform: 'Web',
    os_name: 'Chrome',
    library: 'amplitude-ts/2.5.0',
    data: { path: '/2/httpapi', group_first_event: {} },
  }
  return row
}

/** The name of an hour file: `187520/187520_2024-03-02_7#0.json.gz`. */
export function hourFileName(hourStartMs: number, part = 0, project = PROJECT_ID): string {
  const d = new Date(hourStartMs)
  return `${project}/${project}_${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}_${d.getUTCHours()}#${part}.json.gz`
}

/** Lines (JSON text or anything else, e.g. a broken line) → one gzipped JSON-lines file. */
export function gzipLines(lines: string[]): Buffer {
  return gzipSync(Buffer.from(lines.map((l) => `${l}\n`).join('')))
}

/** Writes a zip of hour files, each given as its lines, in the order given. */
export async function writeExportZip(path: string, files: { name: string; lines: string[] }[]): Promise<void> {
  const zip = await ZipWriter.create(path)
  for (const f of files) await zip.add(f.name, gzipLines(f.lines))
  await zip.close()
}
