import type { JetStreamClient } from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import { eventSubject, type Topology } from '@sluice/contracts/topology'
import type { Pool } from '@sluice/kit/pg'
import { REPLAY_HEADER } from './dead-letter.js'
import { getDeadLetters, markReplayed } from './sql/dead-letters.js'

export interface ReplayOptions {
  pool: Pool
  js: JetStreamClient
  topology: Topology
  ids: number[]
}

export interface ReplayResult {
  replayed: { id: number; subject: string; replayCount: number }[]
  /** Ids with no dead letter. */
  missing: number[]
}

/**
 * Puts dead letters back on EVENTS, byte for byte, once their cause is fixed: the worker
 * stores them like any event, and the (source, event_id) key keeps a replayed event
 * stored once however often it is replayed. One that is still unstorable is simply
 * dead-lettered again. Each is marked replayed only after JetStream stored it.
 */
export async function replayDeadLetters({ pool, js, topology, ids }: ReplayOptions): Promise<ReplayResult> {
  const letters = await getDeadLetters(pool, ids)
  const found = new Set(letters.map((l) => l.id))
  const result: ReplayResult = { replayed: [], missing: ids.filter((id) => !found.has(id)) }
  const prefixes = [`${topology.eventsSubjectPrefix}.`, `${topology.importSubjectPrefix}.`]
  for (const letter of letters) {
    // The original subject (live or import lane), unless it belongs to another namespace or is not an event's.
    const subject = prefixes.some((p) => letter.subject.startsWith(p)) ? letter.subject : eventSubject(topology, letter.source ?? 'unknown')
    const h = headers()
    h.set(REPLAY_HEADER, String(letter.id))
    // A new id per replay: the original message id may still be in JetStream's dedupe
    // window, which would silently drop the replay; the database dedupes instead.
    await js.publish(subject, letter.payload, { msgID: `replay:${letter.id}:${letter.replay_count + 1}`, headers: h })
    const replayCount = await markReplayed(pool, letter.id)
    result.replayed.push({ id: letter.id, subject, replayCount })
  }
  return result
}
