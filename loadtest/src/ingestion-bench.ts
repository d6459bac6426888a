import autocannon from 'autocannon'
import { connect } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { topology } from '@sluice/contracts/topology'
import { messageRows } from '@sluice/worker/handle-batch'
import { cpuSeconds } from './proc-cpu.js'
import { startBenchServer } from './ingestion-server.js'
import { render, type Template } from './templates.js'

/**
 * Runs autocannon against one ingestion process and reports what BENCHMARKS.md records:
 * requests/s, events/s, latency percentiles, CPU per process, and a check that every
 * event answered as accepted is in JetStream.
 */

export interface BenchOptions {
  name: string
  path: string
  templates: Template[]
  connections: number
  durationSeconds: number
  warmupSeconds: number
  nodeArgs?: string[]
  env?: Record<string, string>
}

export interface BenchResult {
  scenario: string
  connections: number
  durationSeconds: number
  requests: number
  requestsPerSecond: number
  eventsPerSecond: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
  non2xx: number
  errors: number
  timeouts: number
  /** Events the server counted as accepted during the measured run. */
  acceptedByServer: number
  /** …and since it started (warm-up included): must equal the events in the stream. */
  acceptedTotal: number
  /** Events in the stream (lines of packed messages counted one by one). */
  inStream: number
  /** Cores used on average during the run. */
  cpu: { ingestion: number; nats: number; loadGenerator: number }
  /** Ingestion CPU per accepted event and per request, in µs: comparable across busy and quiet machines. */
  ingestionCpuMicros: { perEvent: number; perRequest: number }
}

async function metric(url: string, name: string, match: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(match)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

function cannon(url: string, o: BenchOptions, seconds: number, onEvents: (n: number) => void) {
  let next = 0
  return autocannon({
    url,
    connections: o.connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: o.path,
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const t = o.templates[next++ % o.templates.length]!
          onEvents(t.events)
          return { ...req, body: render(t) }
        },
      },
    ],
  })
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const server = await startBenchServer({ nodeArgs: o.nodeArgs, env: o.env })
  try {
    if (o.warmupSeconds > 0) await cannon(server.url, o, o.warmupSeconds, () => undefined)
    const acceptedBefore = await metric(server.url, 'sluice_ingestion_events_total', 'outcome="accepted"')
    const cpu0 = { ingestion: cpuSeconds(server.ingestionPid), nats: cpuSeconds(server.natsPid), self: process.cpuUsage() }
    let sentEvents = 0
    const result = await cannon(server.url, o, o.durationSeconds, (n) => (sentEvents += n))
    const self = process.cpuUsage(cpu0.self)
    const ingestionCpu = cpuSeconds(server.ingestionPid) - cpu0.ingestion
    const elapsed = result.duration
    const acceptedTotal = await metric(server.url, 'sluice_ingestion_events_total', 'outcome="accepted"')
    const acceptedByServer = acceptedTotal - acceptedBefore
    const nc = await connect({ servers: server.nats.url })
    const inStream = await eventsInStream(jetstream(nc))
    await nc.close()
    const ok = result['2xx']
    // Events in requests that were answered 2xx: each template's count, in proportion.
    const eventsPerRequest = sentEvents / Math.max(1, result.requests.sent)
    return {
      scenario: o.name,
      connections: o.connections,
      durationSeconds: Math.round(elapsed * 10) / 10,
      requests: ok,
      requestsPerSecond: Math.round(ok / elapsed),
      eventsPerSecond: Math.round((ok * eventsPerRequest) / elapsed),
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      acceptedByServer,
      acceptedTotal,
      inStream,
      cpu: {
        ingestion: Math.round((ingestionCpu / elapsed) * 100) / 100,
        nats: Math.round(((cpuSeconds(server.natsPid) - cpu0.nats) / elapsed) * 100) / 100,
        loadGenerator: Math.round(((self.user + self.system) / 1e6 / elapsed) * 100) / 100,
      },
      ingestionCpuMicros: {
        perEvent: Math.round((ingestionCpu * 1e7) / Math.max(1, acceptedByServer)) / 10,
        perRequest: Math.round((ingestionCpu * 1e7) / Math.max(1, ok)) / 10,
      },
    }
  } finally {
    await server.stop()
  }
}

/**
 * Events in the stream: a message holds one event, or a pack of them one per line (large
 * requests), so messages are read back through the worker's consumer (nothing else reads
 * this private server's stream) and split into rows the way the worker splits them.
 */
async function eventsInStream(js: JetStreamClient): Promise<number> {
  const t = topology('')
  const consumer = await js.consumers.get(t.eventsStream, t.workerConsumer)
  let events = 0
  while ((await consumer.info()).num_pending > 0) {
    // Small pulls with time to spare: packs are up to 512 KiB, and messages still on their
    // way when a pull expires are left unacknowledged (uncounted).
    const batch = await consumer.fetch({ max_messages: 200, expires: 5_000 })
    for await (const m of batch) {
      events += messageRows(m.data)?.length ?? 1
      m.ack()
    }
  }
  return events
}
