import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInstance } from '@amplitude/analytics-node'
import { seededRandom } from '../generators/random.js'
import { PLACEHOLDER, template, type Template } from '../templates.js'

/**
 * Amplitude HTTP V2 batches exactly as the official Node SDK sends them: the SDK itself
 * (`@amplitude/analytics-node`, batches of its default `flushQueueSize`, 200 events) is pointed at a local
 * server that only records the bodies; those become the templates, with the
 * placeholder in `insert_id` (the dedupe key), which the SDK passes through as given.
 */

const TYPES = ['Song Played', 'Page Viewed', 'Button Clicked', 'Search', 'Add To Cart', 'Order Completed'] as const
const PLATFORMS: [platform: string, os: string][] = [
  ['iOS', 'ios'],
  ['Android', 'android'],
  ['Web', 'Chrome'],
]
const COUNTRIES = ['United States', 'Germany', 'Canada', 'Brazil', 'India']

export async function sdkTemplates(count = 20, perBatch = 200): Promise<Template[]> {
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      bodies.push(body)
      const n = (JSON.parse(body) as { events: unknown[] }).events.length
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 200, events_ingested: n, payload_size_bytes: body.length, server_upload_time: Date.now() }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  try {
    const r = seededRandom(5)
    const client = createInstance()
    await client.init('bench_sdk_key_1', { serverUrl: `http://127.0.0.1:${port}/2/httpapi`, flushQueueSize: perBatch, flushIntervalMillis: 60_000, logLevel: 0 }).promise
    for (let b = 0; b < count; b++) {
      const tracked: Promise<unknown>[] = []
      for (let i = 0; i < perBatch; i++) {
        const user = r.int(1, 20_000)
        const [platform, os] = PLATFORMS[user % PLATFORMS.length]!
        const type = r.pick(TYPES)
        const buy = type === 'Order Completed'
        tracked.push(
          client.track(
            type,
            { screen: r.pick(['home', 'player', 'search', 'checkout']), position: r.int(1, 50), experiment: r.pick(['a', 'b']) },
            {
              user_id: `amp-user-${user}`,
              device_id: `amp-device-${user.toString(36)}-${platform.toLowerCase()}`,
              session_id: Date.UTC(2026, 10, 21, 9) + r.int(0, 3_600_000),
              insert_id: `${PLACEHOLDER}-${b.toString(36)}.${i}`,
              platform,
              os_name: os,
              app_version: '4.12.0',
              country: COUNTRIES[user % COUNTRIES.length],
              city: r.pick(['Toronto', 'Berlin', 'Austin', 'Recife', 'Pune']),
              ...(buy ? { revenue: r.int(100, 9_999) / 100, price: r.int(100, 9_999) / 100, quantity: 1, productId: `sku-${r.int(1, 300)}`, currency: 'USD' } : {}),
            },
          ).promise,
        )
      }
      // This SDK sends on its timer (flushIntervalMillis) or on flush(), in chunks of
      // flushQueueSize: a busy server's queue holds at least a chunk by then.
      await client.flush().promise
      await Promise.all(tracked)
    }
  } finally {
    server.close()
  }
  return bodies.map((body, b) => {
    const parsed = JSON.parse(body) as { events: { insert_id: string }[] }
    const t = template(parsed, parsed.events.length, { valid: parsed.events.length, samples: [{ source: 'amplitude', suffix: parsed.events[0]!.insert_id.slice(PLACEHOLDER.length) }] })
    if (t.parts.length !== parsed.events.length + 1) throw new Error(`the SDK's batch ${b} does not carry the insert_id given to track(): the SDK changed how it sends it`)
    return t
  })
}
