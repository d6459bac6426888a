import { createHash } from 'node:crypto'
import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import { createGunzip } from 'node:zlib'
import { importSubject, type Topology } from '@sluice/contracts/topology'
import { mapAmplitudeExportRow } from '@sluice/formats/amplitude'
import { PublishUnavailable, type JetStreamPublisher, type OutMessage } from '@sluice/kit/jetstream-publisher'
import { openArchive } from './archive-files.js'
import { lines } from './lines.js'

/**
 * Streams an Amplitude export into the import lane: file by file in natural order,
 * gunzipped and split into lines as it is read; each line is mapped by the same
 * Amplitude mapping `/2/httpapi` uses, and up to ROWS_PER_MESSAGE envelopes travel in one
 * message (one JSON line each) to `import.<source>`. Memory stays flat: one partial line,
 * one message being filled and at most MESSAGES_IN_FLIGHT unacknowledged messages.
 *
 * Exactly once: a message's id is a digest of its events' keys, so a re-run (or a restart
 * after Ctrl-C or kill -9) inside JetStream's dedupe window is dropped there, and the
 * (source, event_id) key drops in PostgreSQL whatever gets past it. Re-running is always
 * safe and is how an interrupted import is completed.
 */

/** Envelopes per message: per-message costs (publish, ack, delivery) dominate below this. */
export const ROWS_PER_MESSAGE = 100
/** A message is closed earlier when this big (the NATS server's default max_payload is 1 MiB). */
const MESSAGE_BYTES = 512 * 1024
/** A row whose envelope is bigger than this is rejected (ingestion's MAX_EVENT_BYTES default). */
const MAX_ROW_BYTES = 64 * 1024
const MESSAGES_IN_FLIGHT = 64
/** The import gives up when JetStream accepted nothing for this long (re-run to go on). */
const STALL_MS = 120_000

export interface ImportOptions {
  path: string
  source: string
  dryRun: boolean
  /** Where rejected lines go (JSON lines: file, line, reason); created at the first one. */
  rejectsPath: string
  /** Not needed for a dry run. */
  publisher?: JetStreamPublisher
  topology: Topology
  /** Stops reading; what was read is published and acknowledged before the import returns. */
  signal?: AbortSignal
  onProgress?: (p: ImportProgress) => void
  progressEveryMs?: number
}

export interface ImportProgress {
  files: number
  filesDone: number
  /** Lines read, blank ones excepted. */
  rowsRead: number
  /** Rows JetStream acknowledged (new or duplicate). */
  published: number
  /** Rows in messages JetStream already had (a re-run inside its dedupe window). */
  duplicates: number
  invalid: number
  /** Bytes of the archive's files read so far, and in all. */
  bytesRead: number
  totalBytes: number
  elapsedMs: number
}

export interface ImportSummary extends ImportProgress {
  interrupted: boolean
  rejectsPath: string | undefined
  messages: number
}

export interface Reject {
  file: string
  line: number
  reason: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class Rejects {
  private out: WriteStream | undefined
  constructor(private readonly path: string) {}
  write(reject: Reject): void {
    this.out ??= createWriteStream(this.path)
    this.out.write(`${JSON.stringify(reject)}\n`)
  }
  get written(): boolean {
    return this.out !== undefined
  }
  async close(): Promise<void> {
    if (!this.out) return
    this.out.end()
    await once(this.out, 'close')
  }
}

/** The rows of the message being filled. */
class Pending {
  texts: string[] = []
  ids: string[] = []
  bytes = 0
  clear(): void {
    this.texts = []
    this.ids = []
    this.bytes = 0
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export async function importAmplitude(options: ImportOptions): Promise<ImportSummary> {
  const { source, dryRun, publisher, topology, signal, onProgress, progressEveryMs = 250 } = options
  if (!dryRun && !publisher) throw new Error('a publisher is needed unless --dry-run')
  const archive = await openArchive(options.path)
  const started = performance.now()
  const rejects = new Rejects(options.rejectsPath)
  const subject = importSubject(topology, source)
  const receivedAt = new Date().toISOString()
  const ctx = { receivedAt, requestId: `import-${Date.now().toString(36)}` }
  const p: ImportProgress = { files: archive.files.length, filesDone: 0, rowsRead: 0, published: 0, duplicates: 0, invalid: 0, bytesRead: 0, totalBytes: archive.totalBytes, elapsedMs: 0 }
  let messages = 0
  let lastAckAt = performance.now()
  let failure: Error | undefined
  const inFlight = new Set<Promise<void>>()

  const progress = () => {
    p.elapsedMs = performance.now() - started
    onProgress?.({ ...p })
  }
  const ticker = onProgress ? setInterval(progress, progressEveryMs) : undefined
  ticker?.unref()

  /** Publishes one message until JetStream takes it; a stall past STALL_MS fails the import. */
  async function publishOne(message: OutMessage, rows: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await publisher!.publish([message], ctx.requestId)
        lastAckAt = performance.now()
        p.published += rows
        if (outcome.duplicates > 0) p.duplicates += rows
        return
      } catch (err) {
        if (!(err instanceof PublishUnavailable)) throw err
        if (performance.now() - lastAckAt > STALL_MS) throw new Error(`JetStream accepted nothing for ${STALL_MS / 1000} s (${err.message}); re-run the import to go on`, { cause: err })
        // A full stream (workers behind) or NATS away: wait and send the same message again (same id).
        await sleep(Math.min(1_000, 50 * 2 ** attempt))
      }
    }
  }

  async function send(pending: Pending): Promise<void> {
    if (pending.texts.length === 0) return
    const rows = pending.texts.length
    const payload = Buffer.from(pending.texts.join('\n'))
    const digest = createHash('sha256').update(source).update('\0').update(pending.ids.join('\0')).digest('base64url')
    pending.clear()
    messages++
    if (dryRun) return
    const task = publishOne({ subject, msgId: `import:${digest}`, payload }, rows).catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(describe(err))
    })
    inFlight.add(task)
    void task.finally(() => inFlight.delete(task))
    while (inFlight.size >= MESSAGES_IN_FLIGHT) await Promise.race(inFlight)
    if (failure) throw failure
  }

  let interrupted: boolean
  try {
    const pending = new Pending()
    for (const file of archive.files) {
      if (signal?.aborted) break
      const raw = await file.open()
      raw.on('data', (chunk: Buffer) => (p.bytesRead += chunk.length))
      const gunzip = file.gzipped ? createGunzip() : undefined
      const content = gunzip ? raw.pipe(gunzip) : raw
      // A corrupt gzip surfaces on the gunzip stream; a failed read on the raw one.
      if (gunzip) raw.once('error', (err) => gunzip.destroy(err))
      let line = 0
      try {
        for await (const text of lines(content)) {
          line++
          if (text.trim() === '') continue
          p.rowsRead++
          const reject = (reason: string) => {
            p.invalid++
            rejects.write({ file: file.name, line, reason })
          }
          let value: unknown
          try {
            value = JSON.parse(text)
          } catch (err) {
            reject(`broken JSON: ${describe(err)}`)
            continue
          }
          const mapped = mapAmplitudeExportRow(value, ctx)
          if (!mapped.ok) {
            reject(mapped.errors.map((e) => `${e.path} ${e.message}`).join('; '))
            continue
          }
          const envelope = mapped.envelope
          envelope.source = source
          const json = JSON.stringify(envelope)
          const bytes = Buffer.byteLength(json)
          if (bytes > MAX_ROW_BYTES) {
            reject(`too large: the event is ${bytes} bytes (at most ${MAX_ROW_BYTES})`)
            continue
          }
          if (pending.bytes + bytes > MESSAGE_BYTES) await send(pending)
          pending.texts.push(json)
          pending.ids.push(envelope.event_id)
          pending.bytes += bytes + 1
          if (pending.texts.length >= ROWS_PER_MESSAGE) await send(pending)
          if (signal?.aborted) break
        }
      } catch (err) {
        // A damaged file (bad gzip, truncated entry) is reported and the import goes on.
        p.invalid++
        rejects.write({ file: file.name, line: line + 1, reason: `unreadable file: ${describe(err)}` })
      }
      // Messages never span files, so the same file always makes the same messages (and ids).
      await send(pending)
      if (signal?.aborted) break
      p.filesDone++
    }
    interrupted = signal?.aborted ?? false
    await Promise.all(inFlight)
    if (failure) throw failure
  } finally {
    if (ticker) clearInterval(ticker)
    archive.close()
    await rejects.close()
  }
  p.elapsedMs = performance.now() - started
  onProgress?.({ ...p })
  return { ...p, interrupted, messages, rejectsPath: rejects.written ? options.rejectsPath : undefined }
}
