import { createHash } from 'node:crypto'
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
 *
 * Each event is one JetStream message whose Nats-Msg-Id is its dedupe key, unless the
 * request is large (at least `packEvents` events): then the events of each source go
 * in packs of up to `packEvents` (one envelope per line, as the importer's messages),
 * and a pack's id is a digest of its events' keys. JetStream's work (store, deliver,
 * ack, dedupe window) is per message, so a publisher's post of 20,000 events costs it
 * ~300 messages instead of 20,000. What packing changes: JetStream recognises a re-sent
 * pack (the same request sent again) but not one event of it re-sent in another
 * request; the database key drops that one when it is stored, and the 202 counted it as
 * accepted instead of as a duplicate. Stored once either way.
 */

/** Bytes of one pack at most, well under the 1 MiB JetStream takes in one message. */
export const PACK_MAX_BYTES = 512 * 1024

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
  /** Events in each message: 1, or the size of a pack. */
  counts: number[]
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
  /** Pack the events of requests of at least this many events, this many per message; 1: never. */
  packEvents: number
  /** Events in the whole request (a slice is prepared at a time): whether it is packed. */
  requestEvents?: number
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
  const { topology, maxDepth, maxEventBytes, suspectStrings, key, packEvents } = options
  const inspect = { maxDepth, checkStrings: suspectStrings }
  const out = new Outbox(packEvents > 1 && (options.requestEvents ?? items.length) >= packEvents ? packEvents : 1)
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
    // Serialised here once: the size check needs the bytes, and they are sent as they are.
    const json = JSON.stringify(e)
    const bytes = Buffer.byteLength(json)
    if (bytes > maxEventBytes) {
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
    out.add(subject, e.source, msgId, json, bytes)
  }
  out.close()
  return { messages: out.messages, sources: out.sources, counts: out.counts, rejected, repeats }
}

interface OpenPack {
  source: string
  keys: string[]
  jsons: string[]
  bytes: number
}

/** The messages of a slice: one per event, or packs per subject. */
class Outbox {
  readonly messages: OutMessage[] = []
  readonly sources: string[] = []
  readonly counts: number[] = []
  private readonly open = new Map<string, OpenPack>()

  constructor(private readonly packEvents: number) {}

  add(subject: string, source: string, msgId: string, json: string, bytes: number): void {
    if (this.packEvents === 1) return this.push(subject, source, msgId, Buffer.from(json), 1)
    let pack = this.open.get(subject)
    if (pack && pack.bytes + 1 + bytes > PACK_MAX_BYTES) {
      this.flush(subject, pack)
      pack = undefined
    }
    if (!pack) this.open.set(subject, (pack = { source, keys: [], jsons: [], bytes: -1 }))
    pack.keys.push(msgId)
    pack.jsons.push(json)
    pack.bytes += 1 + bytes
    if (pack.jsons.length >= this.packEvents) {
      this.flush(subject, pack)
      this.open.delete(subject)
    }
  }

  close(): void {
    for (const [subject, pack] of this.open) this.flush(subject, pack)
    this.open.clear()
  }

  private flush(subject: string, pack: OpenPack): void {
    if (pack.jsons.length === 1) return this.push(subject, pack.source, pack.keys[0]!, Buffer.from(pack.jsons[0]!), 1)
    // The same events in the same order (a re-sent request) make the same pack id.
    const digest = createHash('sha256').update(JSON.stringify(pack.keys)).digest('base64url')
    this.push(subject, pack.source, `pack:${digest}`, Buffer.from(pack.jsons.join('\n')), pack.jsons.length)
  }

  private push(subject: string, source: string, msgId: string, payload: Uint8Array, count: number): void {
    this.messages.push({ subject, msgId, payload })
    this.sources.push(source)
    this.counts.push(count)
  }
}
