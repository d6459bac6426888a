import type { Consumer } from '@nats-io/jetstream'
import type { Logger } from '@sluice/kit/logger'
import type { WorkerMetrics } from './metrics.js'

/** Reads the consumer's backlog into gauges every `intervalMs`; returns a stop function. */
export function pollConsumer(consumer: Consumer, metrics: WorkerMetrics, intervalMs: number, log: Logger): () => void {
  let busy = false
  const poll = async () => {
    if (busy) return
    busy = true
    try {
      const info = await consumer.info()
      metrics.pending.set(info.num_pending)
      metrics.ackPending.set(info.num_ack_pending)
      metrics.redelivered.set(info.num_redelivered)
    } catch (err) {
      log.debug({ err }, 'consumer info unavailable')
    } finally {
      busy = false
    }
  }
  void poll()
  const timer = setInterval(() => void poll(), intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
