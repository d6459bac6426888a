import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Everything the worker counts, registered on the process's registry. */
export function workerMetrics(registry: Registry) {
  const registers = [registry]
  return {
    fetched: new Counter({ name: 'sluice_worker_messages_fetched_total', help: 'Messages taken from the consumer into a batch', registers }),
    inserted: new Counter({ name: 'sluice_worker_events_inserted_total', help: 'Events stored (new rows in events)', registers }),
    duplicates: new Counter({ name: 'sluice_worker_events_duplicate_total', help: 'Events already stored (redelivery or re-send), dropped by the (source, event_id) key', registers }),
    deadLettered: new Counter({ name: 'sluice_worker_dead_letters_total', help: 'Messages dead-lettered, by reason', labelNames: ['reason'] as const, registers }),
    naks: new Counter({ name: 'sluice_worker_naks_total', help: 'Messages handed back for redelivery, by cause', labelNames: ['cause'] as const, registers }),
    batchFailures: new Counter({ name: 'sluice_worker_batch_failures_total', help: 'Batch attempts that did not commit, by cause', labelNames: ['cause'] as const, registers }),
    batchSize: new Histogram({ name: 'sluice_worker_batch_size', help: 'Events per batch (a message holds one event or a pack of them)', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000], registers }),
    batchDuration: new Histogram({
      name: 'sluice_worker_batch_duration_seconds',
      help: 'From a batch closing to its messages being acked',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    copyDuration: new Histogram({
      name: 'sluice_worker_copy_duration_seconds',
      help: 'COPY of a batch into the staging table',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    latency: new Histogram({
      name: 'sluice_worker_end_to_end_latency_seconds',
      help: 'From ingestion accepting an event (received_at) to the commit that stored it',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    pending: new Gauge({ name: 'sluice_worker_consumer_pending', help: 'Messages in the stream not yet delivered to any worker (consumer info, polled)', registers }),
    ackPending: new Gauge({ name: 'sluice_worker_consumer_ack_pending', help: 'Messages delivered to workers and not yet acked (consumer info, polled)', registers }),
    redelivered: new Gauge({ name: 'sluice_worker_consumer_redelivered', help: 'Messages delivered more than once and not yet acked (consumer info, polled)', registers }),
    paused: new Gauge({ name: 'sluice_worker_paused', help: '1 while the worker has stopped fetching because PostgreSQL cannot store batches', registers }),
  }
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>
