import type { Consumer, JsMsg } from '@nats-io/jetstream'
import { envelopeValidator, type Envelope } from '@sluice/contracts/envelope'
import type { Logger } from '@sluice/kit/logger'
import { withTransaction, type Pool } from '@sluice/kit/pg'
import { batches } from './batches.js'
import { storeBatch } from './store.js'

/**
 * Glossary
 * - stream: the JetStream log of accepted events (EVENTS), one message per event.
 * - consumer: the durable cursor all worker replicas share; JetStream hands each
 *   message to one replica and redelivers it if that replica does not ack in time.
 * - batch: the messages stored in one transaction, acked only after it commits.
 * - dedupe key: (source, event_id); a redelivered or re-sent event hits the primary
 *   key and is dropped by ON CONFLICT DO NOTHING, so it is stored once.
 */

const decoder = new TextDecoder()

export interface WorkerOptions {
  consumer: Consumer
  pool: Pool
  log: Logger
  batchSize: number
  batchMaxWaitMs: number
}

export interface BatchOutcome {
  inserted: number
  duplicates: number
  invalid: number
}

function parse(msg: JsMsg): Envelope | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(msg.data))
    return envelopeValidator.Check(value) ? value : undefined
  } catch {
    return undefined
  }
}

export async function handleBatch(pool: Pool, msgs: JsMsg[], log: Logger): Promise<BatchOutcome> {
  const envelopes: Envelope[] = []
  const valid: JsMsg[] = []
  let invalid = 0
  for (const msg of msgs) {
    const envelope = parse(msg)
    if (envelope) {
      envelopes.push(envelope)
      valid.push(msg)
    } else {
      invalid++
      log.error({ subject: msg.subject, seq: msg.seq }, 'message is not a valid envelope; terminating it')
      msg.term('invalid envelope')
    }
  }
  if (envelopes.length === 0) return { inserted: 0, duplicates: 0, invalid }
  const { inserted } = await withTransaction(pool, (client) => storeBatch(client, envelopes))
  // Only after the commit: a crash before this line redelivers, and the key dedupes.
  for (const msg of valid) msg.ack()
  return { inserted, duplicates: envelopes.length - inserted, invalid }
}

export interface RunningWorker {
  /** Stops fetching, finishes the batch in hand, and resolves when it is acked. */
  stop(): Promise<void>
  done: Promise<void>
}

export async function startWorker({ consumer, pool, log, batchSize, batchMaxWaitMs }: WorkerOptions): Promise<RunningWorker> {
  const messages = await consumer.consume({ max_messages: batchSize * 2 })
  let stopping = false
  const done = (async () => {
    let failures = 0
    for await (const batch of batches(messages, batchSize, batchMaxWaitMs)) {
      try {
        const outcome = await handleBatch(pool, batch, log)
        failures = 0
        log.debug({ size: batch.length, ...outcome }, 'batch stored')
      } catch (err) {
        failures++
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7))
        log.warn({ err, size: batch.length, retryInMs: delay }, 'batch not stored; will be redelivered')
        for (const msg of batch) msg.nak(delay)
      }
      if (stopping) break
    }
  })()
  return {
    done,
    async stop() {
      stopping = true
      await messages.close()
      await done
    },
  }
}
