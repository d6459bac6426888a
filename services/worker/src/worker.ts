import type { Consumer, JsMsg } from '@nats-io/jetstream'
import { isConnectionError, withClient } from '@sluice/kit/pg'
import { CopyMode, deliveryGroups, storeGroup, type BatchDeps } from './handle-batch.js'
import { describeError } from './pg-errors.js'
import type { StoringActivity } from './fold-loop.js'
import { BatchPump } from './pump.js'
import { probeStorage } from './store.js'

/**
 * Glossary
 * - stream: the JetStream log of accepted events (EVENTS): one message per event, or
 *   one per pack of up to PUBLISH_PACK_EVENTS events (one per line) for large requests.
 * - lane: live events (EVENTS) and bulk imports (EVENTS_IMPORT, ~100 envelopes per
 *   message, one per line) have a stream and consumer each; a worker runs this loop once
 *   per lane and pulls imports only while its live loop is not backed up (live first),
 *   and its live batches leave rollup folds to the import's while one runs.
 * - consumer: the durable cursor all worker replicas share; JetStream hands each
 *   message to one replica and redelivers it if that replica does not ack in time.
 * - batch: the messages stored in one transaction, acked only after it commits.
 * - dedupe key: (source, event_id); a redelivered or re-sent event hits the primary
 *   key and is dropped by ON CONFLICT DO NOTHING, so it is stored once.
 * - dead letter: a message that can never be stored (bad JSON, envelope violation, a
 *   value PostgreSQL rejects, too many deliveries); it goes to table dead_letters and
 *   stream EVENTS_DLQ, then is acked, so it neither blocks its batch nor is lost.
 *
 * The loop: a pump (pump.ts) pulls batches closed by size or time; up to
 * `batchesInFlight` are stored at once. A batch that fails because PostgreSQL cannot take it (down, timing
 * out, schema missing) is naked with a delay growing with its delivery count, and the
 * worker stops fetching — so an outage does not spend the deliveries of the whole
 * backlog — until a probe of the storage path succeeds. Deadlocks are retried in place.
 */

export interface WorkerOptions extends BatchDeps {
  consumer: Consumer
  /** A batch closes at `batchSize` messages or this many bytes of them, whichever comes first. */
  batchMaxBytes: number
  batchMaxWaitMs: number
  batchesInFlight: number
  ackWaitMs: number
  retryDelayMs: number
  retryDelayMaxMs: number
  /** How long a pull request waits on the server; a stopping worker waits for its open ones. */
  pullExpiresMs?: number
  /** Pull only while this says yes: the import lane's worker pulls while the live one is idle. */
  gate?: () => boolean
}

export interface StorageHealth {
  storing: boolean
  error?: string
  since?: Date
}

export interface RunningWorker {
  /** Stops fetching, stores what it holds, acks it, and resolves when the loop has ended. */
  stop(): Promise<void>
  done: Promise<void>
  /** False (with the last error) while batches cannot be stored and fetching is paused. */
  health(): StorageHealth
  /** Messages wait to be stored: a batch formed and not yet taken, or a full batch's worth in hand. */
  backedUp(): boolean
  /** Is storing a batch, or stored (or tried to store) one within the last `ms`. */
  busyWithin(ms: number): boolean
  /** Whether a batch is being stored, and when one last started or finished. */
  activity(): StoringActivity
}

class Stopped extends Error {}

const PROBE_DELAY_MAX_MS = 5_000

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped())
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new Stopped())
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { consumer, pool, log, metrics, batchSize, batchMaxBytes, batchMaxWaitMs, batchesInFlight, ackWaitMs, retryDelayMs, retryDelayMaxMs, pullExpiresMs = 2_000, gate } = options
  const stopController = new AbortController()
  const deps = { ...options, copyMode: new CopyMode() }
  let current: BatchPump | undefined
  let failing: { error: string; since: Date } | undefined
  let consecutiveFailures = 0
  let storing = 0
  let lastActivityAt = -Infinity

  const delayFor = (attempt: number) => Math.min(retryDelayMaxMs, retryDelayMs * 2 ** Math.max(0, attempt))

  /** Hands messages back for redelivery: at once when shutting down (another replica takes them), later after a failure. */
  function nak(msgs: JsMsg[], cause: string): void {
    for (const msg of msgs) msg.nak(cause === 'shutdown' ? 0 : delayFor(msg.info.deliveryCount - 1))
    metrics.naks.inc({ cause }, msgs.length)
  }

  interface Paused {
    error: unknown
    serverDown: boolean
    /** Not stored: to be naked once the pump's pull requests have ended. */
    msgs: JsMsg[]
  }

  /** Stores a batch group by group; returns what must pause fetching, if anything. */
  async function runBatch(batch: JsMsg[]): Promise<Paused | undefined> {
    const started = performance.now()
    lastActivityAt = started
    storing++
    // A batch held longer than the ack wait (a slow lock, a long retry) must not be
    // redelivered to another replica meanwhile.
    const heartbeat = setInterval(() => {
      for (const msg of batch) msg.working()
    }, Math.max(1_000, ackWaitMs / 3))
    heartbeat.unref()
    let paused: Paused | undefined
    try {
      for (const group of deliveryGroups(batch, batchSize, options.maxDeliver)) {
        if (paused && paused.serverDown) {
          paused.msgs.push(...group)
          continue
        }
        let result
        try {
          result = await storeGroup(deps, group)
        } catch (err) {
          // A bug, not an outcome: hand the messages back rather than leave them hanging.
          log.error({ err }, 'unexpected failure storing a batch')
          result = { inserted: 0, duplicates: 0, deadLettered: 0, retry: { msgs: group, cause: 'unavailable' as const, error: err } }
        }
        if (result.retry?.cause === 'unavailable') {
          // With the server down, the other groups would fail the same way. Otherwise
          // (a timeout, a rejected batch) they may well go through: the groups exist to
          // keep a culprit's batch-mates out of its failures.
          const serverDown = result.retry.error instanceof Error && isConnectionError(result.retry.error)
          if (paused) paused.msgs.push(...result.retry.msgs)
          else paused = { error: result.retry.error, msgs: [...result.retry.msgs], serverDown }
          paused.serverDown ||= serverDown
        } else if (result.retry) {
          nak(result.retry.msgs, result.retry.cause)
          log.warn({ err: result.retry.error, size: result.retry.msgs.length }, 'batch kept conflicting with other transactions; naked for redelivery')
        } else {
          consecutiveFailures = 0
          log.debug({ size: group.length, inserted: result.inserted, duplicates: result.duplicates, deadLettered: result.deadLettered }, 'batch stored')
        }
      }
    } finally {
      clearInterval(heartbeat)
      storing--
      lastActivityAt = performance.now()
      metrics.batchDuration.observe((lastActivityAt - started) / 1000)
    }
    return paused
  }

  /** Stores batches from one pump until it is stopped; returns the failure that stopped it, if any. */
  async function drain(pump: BatchPump): Promise<unknown> {
    let failure: unknown
    let failed = false
    const inFlight = new Set<Promise<void>>()
    for (;;) {
      const batch = await pump.next()
      if (!batch) break
      metrics.fetched.inc(batch.length)
      if (failed) {
        // Fetched before the pause took effect: hand back without trying.
        pump.setAside(batch)
        pump.release(batch)
        continue
      }
      const task: Promise<void> = runBatch(batch).then((paused) => {
        if (paused) {
          if (!failed) {
            failed = true
            failure = paused.error
            pump.stop((msgs) => nak(msgs, 'unavailable'))
          }
          pump.setAside(paused.msgs)
        }
        pump.release(batch)
      })
      inFlight.add(task)
      void task.finally(() => inFlight.delete(task))
      if (inFlight.size >= batchesInFlight) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    return failed ? failure : undefined
  }

  /** Waits, with growing delays, until a probe of the storage path succeeds. */
  async function recover(failure: unknown): Promise<void> {
    failing = { error: describeError(failure), since: new Date() }
    metrics.paused.set(1)
    log.warn({ err: failure }, 'cannot store batches; paused fetching until PostgreSQL takes them again')
    for (;;) {
      // Probes are cheap: retry them sooner than redeliveries.
      await sleep(Math.min(PROBE_DELAY_MAX_MS, delayFor(consecutiveFailures++)), stopController.signal)
      try {
        await withClient(pool, probeStorage)
        break
      } catch (err) {
        failing.error = describeError(err)
        log.warn({ err, retryInMs: Math.min(PROBE_DELAY_MAX_MS, delayFor(consecutiveFailures)) }, 'storage still unavailable')
      }
    }
    log.info({ pausedMs: Date.now() - failing.since.getTime() }, 'storage available again; fetching')
    failing = undefined
    metrics.paused.set(0)
  }

  const done = (async () => {
    while (!stopController.signal.aborted) {
      current = new BatchPump(consumer, {
        batchSize,
        batchBytes: batchMaxBytes,
        maxWaitMs: batchMaxWaitMs,
        maxHeld: batchSize * (batchesInFlight + 1),
        maxHeldBytes: batchMaxBytes * (batchesInFlight + 1),
        expiresMs: pullExpiresMs,
        log,
        ...(gate ? { gate } : {}),
      })
      const failure = await drain(current)
      current = undefined
      if (stopController.signal.aborted) break
      try {
        await recover(failure)
      } catch (err) {
        if (err instanceof Stopped) break
        throw err
      }
    }
  })()

  return {
    done,
    health: () => (failing ? { storing: false, error: failing.error, since: failing.since } : { storing: true }),
    backedUp: () => current?.backedUp() ?? false,
    busyWithin: (ms) => storing > 0 || performance.now() - lastActivityAt < ms,
    activity: () => ({ storing: storing > 0, lastAt: lastActivityAt }),
    async stop() {
      stopController.abort()
      // The loop stores what was already fetched, then ends.
      current?.stop((msgs) => nak(msgs, 'shutdown'))
      await done
    },
  }
}
