import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import type { Envelope } from '@sluice/contracts/envelope'
import { dlqSubject, type Topology } from '@sluice/contracts/topology'

/**
 * A dead letter: a message that can never be stored, kept whole with why. It goes to the
 * `dead_letters` table (in the batch's transaction) and to stream EVENTS_DLQ (after the
 * commit), and only then is the original acked.
 */

export const DEAD_LETTER_REASONS = ['invalid_json', 'invalid_envelope', 'rejected_by_database', 'max_deliver'] as const
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number]

export interface DeadLetter {
  reason: DeadLetterReason
  error: string
  subject: string
  stream: string
  streamSeq: number
  publishedAt: Date
  deliveryCount: number
  source?: string
  eventId?: string
  /** The line of a multi-envelope (import) message this is; absent for a whole message. */
  rowIndex?: number
  /** The whole message, or the one line `rowIndex` of it. */
  payload: Uint8Array
}

/** Headers of a message on EVENTS_DLQ (its body is the original message, byte for byte). */
export const DLQ_HEADER = {
  id: 'Sluice-Dead-Letter-Id',
  reason: 'Sluice-Reason',
  error: 'Sluice-Error',
  subject: 'Sluice-Subject',
  streamSeq: 'Sluice-Stream-Seq',
  deliveryCount: 'Sluice-Delivery-Count',
  rowIndex: 'Sluice-Row-Index',
} as const

/** Header of a replayed message on EVENTS: the dead letter it came from. */
export const REPLAY_HEADER = 'Sluice-Replay-Of'

/** One line of a multi-envelope message, dead-lettered alone. */
export interface MessageRow {
  index: number
  bytes: Uint8Array
}

export function deadLetterOf(msg: JsMsg, reason: DeadLetterReason, error: string, envelope?: Partial<Envelope>, row?: MessageRow): DeadLetter {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined)
  const source = text(envelope?.source)
  const eventId = text(envelope?.event_id)
  return {
    reason,
    error,
    subject: msg.subject,
    stream: msg.info.stream,
    streamSeq: msg.seq,
    publishedAt: msg.time,
    deliveryCount: msg.info.deliveryCount,
    ...(source !== undefined ? { source } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
    ...(row ? { rowIndex: row.index } : {}),
    payload: row ? row.bytes : msg.data,
  }
}

const headerValue = (s: string) => s.replace(/[\r\n\0]+/g, ' ').slice(0, 1_000)

/** The last tokens of the original subject (`events.<source>` or `import.<source>` → `<source>`). */
function sourceToken(t: Topology, subject: string): string {
  for (const prefix of [`${t.eventsSubjectPrefix}.`, `${t.importSubjectPrefix}.`]) {
    if (subject.startsWith(prefix) && subject.length > prefix.length) return subject.slice(prefix.length)
  }
  return 'unknown'
}

/** Publishes dead letters to EVENTS_DLQ and waits for JetStream to store every one. */
export async function publishDeadLetters(js: JetStreamClient, t: Topology, letters: DeadLetter[], ids: number[]): Promise<void> {
  await Promise.all(
    letters.map((letter, i) => {
      const h = headers()
      h.set(DLQ_HEADER.id, String(ids[i]))
      h.set(DLQ_HEADER.reason, letter.reason)
      h.set(DLQ_HEADER.error, headerValue(letter.error))
      h.set(DLQ_HEADER.subject, letter.subject)
      h.set(DLQ_HEADER.streamSeq, String(letter.streamSeq))
      h.set(DLQ_HEADER.deliveryCount, String(letter.deliveryCount))
      if (letter.rowIndex !== undefined) h.set(DLQ_HEADER.rowIndex, String(letter.rowIndex))
      // The id dedupes a re-publish after a crash between the commit and the ack.
      return js.publish(dlqSubject(t, sourceToken(t, letter.subject)), letter.payload, { msgID: `dead-letter:${ids[i]}`, headers: h })
    }),
  )
}
