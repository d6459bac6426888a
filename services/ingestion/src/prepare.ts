import { dedupeKey } from '@sluice/contracts/envelope'
import { eventSubject, type Topology } from '@sluice/contracts/topology'
import { inspectEvent } from '@sluice/formats/inspect'
import type { FieldError, Mapped, RejectReason } from '@sluice/formats/mapped'
import type { OutMessage } from '@sluice/kit/jetstream-publisher'
import type { WriteKey } from './write-keys.js'

/**
 * The part every write route shares between parsing a body and publishing it: each item
 * is inspected (depth, prototype keys, unstorable strings), mapped to the envelope by
 * its format, checked against the write key's sources and the event size limit, and
 * serialised once. Repeats inside the request are dropped here (they count as
 * duplicates) so JetStream is not asked twice.
 */

export interface Rejection {
  index: number
  eventId: string | null
  errors: FieldError[]
  reason: RejectReason
  source: unknown
}

export interface Prepared {
  messages: OutMessage[]
  /** Source of each message (metrics). */
  sources: string[]
  rejected: Rejection[]
  /** Sources of items that repeated an earlier item of the same request. */
  repeats: string[]
}

export interface PrepareOptions {
  topology: Topology
  maxDepth: number
  maxEventBytes: number
  /** The body had escapes that may hide U+0000 or lone surrogates. */
  suspectStrings: boolean
  key: WriteKey | undefined
}

/** What slices of one request share: the ids seen so far (repeats), subjects by source. */
export interface PrepareState {
  seen: Set<string>
  subjects: Map<string, string>
}

export function prepareState(): PrepareState {
  return { seen: new Set(), subjects: new Map() }
}

const sourceOf = (item: unknown) => (item !== null && typeof item === 'object' ? (item as { source?: unknown }).source : undefined)

/** Prepares `items[start, end)` (all of them by default); indices in rejections are the items'. */
export function prepare(
  items: readonly unknown[],
  map: (item: unknown, index: number) => Mapped,
  eventIdOf: (item: unknown) => string | null,
  options: PrepareOptions,
  { seen, subjects }: PrepareState = prepareState(),
  start = 0,
  end = items.length,
): Prepared {
  const { topology, maxDepth, maxEventBytes, suspectStrings, key } = options
  const inspect = { maxDepth, checkStrings: suspectStrings }
  const messages: OutMessage[] = []
  const sources: string[] = []
  const rejected: Rejection[] = []
  const repeats: string[] = []

  for (let index = start; index < end; index++) {
    const item = items[index]
    const finding = inspectEvent(item, inspect)
    if (finding) {
      rejected.push({ index, eventId: eventIdOf(item), errors: [finding.error], reason: finding.reason, source: sourceOf(item) })
      continue
    }
    const mapped = map(item, index)
    if (!mapped.ok) {
      rejected.push({ index, eventId: eventIdOf(item), errors: mapped.errors, reason: mapped.reason, source: sourceOf(item) })
      continue
    }
    const e = mapped.envelope
    if (key?.sources && !key.sources.has(e.source)) {
      rejected.push({ index, eventId: e.event_id, errors: [{ path: '/source', message: `this write key may not send events of source "${e.source}"` }], reason: 'source_not_allowed', source: e.source })
      continue
    }
    // Encoded here once: the size check needs the bytes, and the client then sends them as they are.
    const payload = Buffer.from(JSON.stringify(e))
    if (payload.length > maxEventBytes) {
      rejected.push({ index, eventId: e.event_id, errors: [{ path: '/', message: `the event is larger than ${maxEventBytes} bytes (MAX_EVENT_BYTES)` }], reason: 'too_large', source: e.source })
      continue
    }
    const msgId = dedupeKey(e.source, e.event_id)
    if (seen.has(msgId)) {
      repeats.push(e.source)
      continue
    }
    seen.add(msgId)
    let subject = subjects.get(e.source)
    if (subject === undefined) subjects.set(e.source, (subject = eventSubject(topology, e.source)))
    messages.push({ subject, msgId, payload })
    sources.push(e.source)
  }
  return { messages, sources, rejected, repeats }
}
