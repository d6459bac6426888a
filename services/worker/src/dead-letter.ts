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
} as const

/** Header of a replayed message on EVENTS: the dead letter it came from. */
export const REPLAY_HEADER = 'Sluice-Replay-Of'

export function deadLetterOf(msg: JsMsg, reason: DeadLetterReason, error: string, envelope?: Partial<Envelope>): DeadLetter {
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
    payload: msg.data,
  }
}

const headerValue = (s: string) => s.replace(/[\r\n\0]+/g, ' ').slice(0, 1_000)

/** The last tokens of the original subject (`events.<source>` → `<source>`). */
function sourceToken(t: Topology, subject: string): string {
  const prefix = `${t.eventsSubjectPrefix}.`
  return subject.startsWith(prefix) && subject.length > prefix.length ? subject.slice(prefix.length) : 'unknown'
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
      // The id dedupes a re-publish after a crash between the commit and the ack.
      return js.publish(dlqSubject(t, sourceToken(t, letter.subject)), letter.payload, { msgID: `dead-letter:${ids[i]}`, headers: h })
    }),
  )
}
