import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Logger } from './logger.js'
import { PublishHeaders, safeMsgId } from './publish-headers.js'

/**
 * Publishes messages to JetStream (ingestion's events, the importer's batches of them) and reports, per batch, when every one of them is
 * stored — or that the batch failed, so the caller answers 503 and no 202 is ever sent
 * for a message JetStream did not acknowledge.
 *
 * Why not `js.publish()` per message: each call builds a request object, a timer, a
 * promise chain and (in nats-core 3.4) an Error for every successful ack; at tens of
 * thousands of messages a second that is most of the CPU. Here every message is a plain
 * core publish with a reply subject under one inbox, acks arrive on one subscription,
 * one sweeper watches every batch for stalls, and the publishes of all requests that
 * arrived in one event-loop turn go out together, in few socket writes. The protocol is JetStream's own: the
 * reply to a publish on a stream subject is the PubAck (`{"stream","seq","duplicate"}`)
 * or an error (`{"error":{…}}`, e.g. a full stream with discard-new), and a 503 status
 * without a body when no stream listens.
 */

/** nats-server writes acks by hand: `{"stream":"EVENTS", "seq":1,"duplicate": true}`. */
const DUPLICATE = /"duplicate":\s*true/

/** Publishes go out at most this often under load (see schedulePump). */
const COALESCE_MS = 1

/** However steadily JetStream acknowledges, no request waits longer than this many timeouts. */
const HARD_CAP = 6

/** The error of a PubAck, or undefined for a successful one; never throws (this runs in the subscription's callback). */
function ackError(text: string): string | undefined {
  try {
    const ack = JSON.parse(text) as { error?: { description?: string } }
    return ack.error ? (ack.error.description ?? text) : undefined
  } catch {
    return `unreadable acknowledgement: ${text.slice(0, 200)}`
  }
}

export interface OutMessage {
  subject: string
  /** Nats-Msg-Id: JetStream drops a message whose id it saw inside its dedupe window. None: no dedupe by JetStream. */
  msgId?: string
  /** The envelope as UTF-8 JSON. */
  payload: Uint8Array
}

export interface PublishOutcome {
  /** Per message: 1 when JetStream already had it (a duplicate), else 0. */
  duplicate: Uint8Array
  duplicates: number
}

export class PublishUnavailable extends Error {
  override name = 'PublishUnavailable'
}

interface Batch {
  messages: OutMessage[]
  requestId: string
  /** Sequence number of message 0; message i replies on `<inbox>.<base + i>`. */
  base: number
  /** Next message to publish. */
  next: number
  /** Published and not yet answered. */
  outstanding: number
  remaining: number
  duplicate: Uint8Array
  duplicates: number
  startedAt: number
  resolve(outcome: PublishOutcome): void
  reject(err: Error): void
  done: boolean
}

export interface PublisherSettings {
  timeoutMs: number
  maxInFlight: number
  log: Logger
  requestIdHeader: string
}

export class JetStreamPublisher {
  private readonly inbox: string
  private readonly prefixLength: number
  private readonly sub: Subscription
  private readonly pending = new Map<number, Batch>()
  /** Batches with messages not yet published, oldest first. */
  private readonly waiting: Batch[] = []
  private seq = 0
  private pumpScheduled = false
  private lastPumpAt = 0
  /** Every batch not yet answered. */
  private readonly batches = new Set<Batch>()
  /** When JetStream last acknowledged anything (performance.now()). */
  private lastAckAt = performance.now()
  private readonly sweeper: NodeJS.Timeout
  private connected = true
  private published = 0
  /** Messages published and not yet answered. */
  inFlight = 0
  lastFailure: { at: number; reason: string } | undefined
  lastSuccessAt = 0

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: PublisherSettings,
  ) {
    this.inbox = createInbox()
    this.prefixLength = this.inbox.length + 1
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err ? undefined : this.onReply(msg)) })
    this.sweeper = setInterval(() => this.sweep(), Math.max(20, Math.min(250, settings.timeoutMs / 10)))
    this.sweeper.unref()
    void this.watch()
  }

  /**
   * Fails batches when JetStream stopped answering: no acknowledgement for
   * PUBLISH_TIMEOUT_MS since the batch started or since the last ack of any message.
   * A large batch queued behind others keeps waiting while acks flow; a hard cap of
   * HARD_CAP × the timeout bounds every request all the same.
   */
  private sweep(): void {
    if (this.batches.size === 0) return
    const now = performance.now()
    const { timeoutMs } = this.settings
    for (const batch of this.batches) {
      if (now - Math.max(batch.startedAt, this.lastAckAt) > timeoutMs) this.fail(batch, `no acknowledgement from JetStream within ${timeoutMs} ms`)
      else if (now - batch.startedAt > timeoutMs * HARD_CAP) this.fail(batch, `JetStream too slow: not every event acknowledged within ${timeoutMs * HARD_CAP} ms`)
    }
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false
        // Acks for what was in flight will not come on this connection, and what waits
        // would only fill the client's reconnect buffer: answer now, the client retries.
        for (const batch of new Set([...this.pending.values(), ...this.waiting])) this.fail(batch, 'NATS connection lost')
      } else if (s.type === 'reconnect') this.connected = true
    }
  }

  /** Why a publish would fail right now, without trying; undefined when it may succeed. */
  unavailableReason(): string | undefined {
    if (this.nc.isClosed()) return 'NATS connection closed'
    if (this.nc.isDraining()) return 'shutting down'
    if (!this.connected) return 'NATS disconnected'
    return undefined
  }

  publish(messages: OutMessage[], requestId: string): Promise<PublishOutcome> {
    const reason = this.unavailableReason()
    if (reason) {
      this.noteFailure(reason)
      return Promise.reject(new PublishUnavailable(reason))
    }
    if (messages.length === 0) return Promise.resolve({ duplicate: new Uint8Array(0), duplicates: 0 })
    return new Promise<PublishOutcome>((resolve, reject) => {
      const batch: Batch = {
        messages,
        requestId,
        base: this.seq,
        next: 0,
        outstanding: 0,
        remaining: messages.length,
        duplicate: new Uint8Array(messages.length),
        duplicates: 0,
        startedAt: performance.now(),
        resolve,
        reject,
        done: false,
      }
      this.seq += messages.length
      this.batches.add(batch)
      this.waiting.push(batch)
      this.schedulePump()
    })
  }

  /**
   * Publishes after every request that arrived in this event-loop turn has queued its
   * messages, and under load at most once a millisecond: the client then sends them in
   * one socket write. On loopback a write costs tens of µs (the kernel delivers the
   * packet to nats-server in the writer's time), so one write per single-event request
   * was a fifth of the CPU; coalesced, it is a few per cent, for ≤ 1 ms of latency.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    const wait = COALESCE_MS - (performance.now() - this.lastPumpAt)
    if (wait <= 0) setImmediate(this.runPump)
    else setTimeout(this.runPump, wait)
  }

  private readonly runPump = () => {
    this.pumpScheduled = false
    this.lastPumpAt = performance.now()
    this.pump()
  }

  /** Publishes waiting messages while the in-flight window has room. */
  private pump(): void {
    const { maxInFlight, requestIdHeader } = this.settings
    while (this.waiting.length > 0 && this.inFlight < maxInFlight) {
      const batch = this.waiting[0]!
      while (batch.next < batch.messages.length && this.inFlight < maxInFlight) {
        const i = batch.next++
        const m = batch.messages[i]!
        const seq = batch.base + i
        try {
          this.nc.publish(m.subject, m.payload, { reply: `${this.inbox}.${seq}`, headers: new PublishHeaders(m.msgId === undefined ? undefined : safeMsgId(m.msgId), requestIdHeader, batch.requestId) })
        } catch (err) {
          this.fail(batch, `publish failed: ${(err as Error).message}`)
          break
        }
        this.pending.set(seq, batch)
        batch.outstanding++
        this.inFlight++
        this.published++
      }
      // fail() already took a failed batch out of the queue.
      if (this.waiting[0] === batch && batch.next === batch.messages.length) this.waiting.shift()
    }
  }

  private onReply(msg: Msg): void {
    const seq = Number(msg.subject.slice(this.prefixLength))
    const batch = this.pending.get(seq)
    if (!batch) return // the batch already failed or timed out
    this.pending.delete(seq)
    batch.outstanding--
    this.inFlight--
    this.lastAckAt = performance.now()
    if (msg.data.length === 0) {
      // A status without a body: 503 = no responders (no stream on this subject).
      this.fail(batch, msg.headers?.code === 503 ? 'no stream answers on this subject (JetStream unavailable)' : `status ${msg.headers?.code ?? '?'}`)
    } else {
      const text = msg.string()
      const error = text.includes('"error"') ? ackError(text) : undefined
      if (error !== undefined) {
        this.fail(batch, `JetStream refused the message: ${error}`)
      } else {
        if (DUPLICATE.test(text)) {
          batch.duplicate[seq - batch.base] = 1
          batch.duplicates++
        }
        if (--batch.remaining === 0 && !batch.done) this.succeed(batch)
      }
    }
    if (this.waiting.length > 0) this.schedulePump()
  }

  private succeed(batch: Batch): void {
    batch.done = true
    this.batches.delete(batch)
    this.lastSuccessAt = Date.now()
    batch.resolve({ duplicate: batch.duplicate, duplicates: batch.duplicates })
  }

  private fail(batch: Batch, reason: string): void {
    if (batch.done) return
    batch.done = true
    this.batches.delete(batch)
    // Free the window: late acks for these messages find no batch and are ignored.
    if (batch.outstanding > 0) {
      for (let i = 0; i < batch.next; i++) {
        if (this.pending.delete(batch.base + i)) this.inFlight--
      }
      batch.outstanding = 0
    }
    const at = this.waiting.indexOf(batch)
    if (at >= 0) this.waiting.splice(at, 1)
    this.noteFailure(reason)
    batch.reject(new PublishUnavailable(reason))
    if (this.waiting.length > 0) this.schedulePump()
  }

  private noteFailure(reason: string): void {
    const now = Date.now()
    if (!this.lastFailure || now - this.lastFailure.at > 1_000) this.settings.log.warn({ reason }, 'JetStream publish failing; answering 503')
    this.lastFailure = { at: now, reason }
  }

  /** Messages published since start (for tests and metrics). */
  get publishedTotal(): number {
    return this.published
  }

  /** Lets the batches in hand finish (bounded by the timeout's cap), then stops. */
  async close(): Promise<void> {
    const deadline = performance.now() + this.settings.timeoutMs * HARD_CAP
    while (this.batches.size > 0 && performance.now() < deadline && !this.unavailableReason()) await new Promise((r) => setTimeout(r, 20))
    for (const batch of this.batches) this.fail(batch, 'shutting down')
    clearInterval(this.sweeper)
    this.sub.unsubscribe()
  }
}
