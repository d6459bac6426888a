import fp from 'fastify-plugin'
import { headers as natsHeaders } from '@nats-io/transport-node'
import { Histogram, Gauge, type Registry } from 'prom-client'
import { dedupeKey, type Envelope } from '@sluice/contracts/envelope'
import { eventSubject, type Topology } from '@sluice/contracts/topology'

/**
 * Publishes envelopes to JetStream, all of a request's events in flight at once, and
 * resolves only when every one is acknowledged (stored by JetStream) — or rejects with
 * `PublishUnavailable` so the route answers 503 and the client retries. A retry is safe:
 * the message id makes JetStream drop what it already has.
 */

export class PublishUnavailable extends Error {
  override name = 'PublishUnavailable'
}

export interface PublishResult {
  accepted: number
  duplicates: number
}

export interface Publisher {
  publish(envelopes: Envelope[], requestId: string): Promise<PublishResult>
}

declare module 'fastify' {
  interface FastifyInstance {
    publisher: Publisher
  }
}

export interface PublisherOptions {
  topology: Topology
  timeoutMs: number
  registry: Registry
}

export const REQUEST_ID_HEADER = 'Sluice-Request-Id'

export default fp<PublisherOptions>(
  async (app, { topology, timeoutMs, registry }) => {
    const latency = new Histogram({
      name: 'sluice_ingestion_publish_duration_seconds',
      help: 'Time from publishing a request’s events to the last JetStream ack',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    const inFlight = new Gauge({ name: 'sluice_ingestion_publish_in_flight', help: 'Events published and not yet acknowledged', registers: [registry] })

    const { js } = app
    const publisher: Publisher = {
      async publish(envelopes, requestId) {
        const stop = latency.startTimer()
        inFlight.inc(envelopes.length)
        try {
          const acks = await Promise.all(
            envelopes.map((e) => {
              const h = natsHeaders()
              h.set(REQUEST_ID_HEADER, requestId)
              return js.publish(eventSubject(topology, e.source), JSON.stringify(e), {
                msgID: dedupeKey(e.source, e.event_id),
                headers: h,
                timeout: timeoutMs,
              })
            }),
          )
          let duplicates = 0
          for (const ack of acks) if (ack.duplicate) duplicates++
          return { accepted: acks.length - duplicates, duplicates }
        } catch (err) {
          throw new PublishUnavailable(`JetStream did not acknowledge the events: ${(err as Error).message}`, { cause: err })
        } finally {
          inFlight.dec(envelopes.length)
          stop()
        }
      },
    }
    app.decorate('publisher', publisher)
  },
  { name: 'publisher', dependencies: ['nats'] },
)
