import type { FastifyInstance } from 'fastify'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Envelope } from '@sluice/contracts/envelope'
import { createRegistry } from '@sluice/kit/metrics'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import { createLogger, type Logger } from '@sluice/kit/logger'
import type { Topology } from '@sluice/contracts/topology'
import { machine, testLogger } from '@sluice/testkit/env'
import { deleteTopology, testStreamLimits, testTopology } from '@sluice/testkit/topology'
import { loadIngestionConfig } from '../src/config.js'
import { buildIngestion } from '../src/app.js'

export interface StoredMessage {
  envelope: Envelope
  headers: Record<string, string>
  /** Sequence of the JetStream message that holds the event (a pack holds several). */
  seq: number
}

export interface IngestionHarness {
  app: FastifyInstance
  nc: NatsConnection
  topology: Topology
  /** Messages now in the test's EVENTS stream. */
  streamMessages(): Promise<number>
  /** Every event in the test's EVENTS stream (each line of a pack), oldest first. */
  stored(): Promise<StoredMessage[]>
  /** Listens on a free loopback port; returns the base URL. */
  listen(): Promise<string>
  close(): Promise<void>
}

export interface HarnessOptions {
  env?: Record<string, string>
  natsUrl?: string
  log?: Logger
}

/** The ingestion app on the machine's NATS (or a private one), with streams of its own. */
export async function ingestionHarness({ env = {}, natsUrl = machine.natsUrl, log = testLogger('ingestion') }: HarnessOptions = {}): Promise<IngestionHarness> {
  const t = testTopology()
  const config = loadIngestionConfig({ env: { ...testStreamLimits, NATS_URL: natsUrl, STREAM_NAMESPACE: t.namespace, ...env } })
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 200 })
  await setupJetStream(nc, t, config, log)
  const app = await buildIngestion(config, log, createRegistry('ingestion', { defaults: false }))
  await app.ready()
  const jsm = await jetstreamManager(nc)
  const harness: IngestionHarness = {
    app,
    nc,
    topology: t,
    streamMessages: async () => (await jsm.streams.info(t.eventsStream)).state.messages,
    async stored() {
      // A work-queue stream takes no second consumer beside the worker's: read by sequence.
      const { state } = await jsm.streams.info(t.eventsStream)
      const out: StoredMessage[] = []
      for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(t.eventsStream, { seq }).catch(() => null)
        if (!m) continue
        const headers: Record<string, string> = {}
        for (const [k, v] of m.header ?? []) headers[k] = v[0] ?? ''
        for (const line of m.string().split('\n')) out.push({ envelope: JSON.parse(line) as Envelope, headers, seq })
      }
      return out
    },
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (!address || typeof address === 'string') throw new Error('no address')
      return `http://127.0.0.1:${address.port}`
    },
    async close() {
      await app.close()
      await deleteTopology(nc, t).catch(() => undefined)
      await nc.close()
    },
  }
  return harness
}

export function nativeEvent(overrides: Record<string, unknown> = {}) {
  return {
    eventId: `e-${Math.random().toString(36).slice(2)}`,
    timestamp: '2026-11-21T10:00:00.000Z',
    source: 'web',
    eventType: 'page_view',
    userId: 'u1',
    data: { path: '/' },
    ...overrides,
  }
}

/** A logger that keeps every line, to assert what was (not) logged. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const log = createLogger({ service: 'ingestion', level: 'debug', stream: { write: (line: string) => void lines.push(line) } })
  return { log, lines }
}
