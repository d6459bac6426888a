import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream'

const TIMEOUT = Symbol('timeout')

/**
 * Groups a consumer's messages into batches of at most `size`, closing a batch when it
 * is full or `maxWaitMs` after its first message — whichever comes first — so a quiet
 * stream adds at most `maxWaitMs` of latency and a busy one fills whole batches.
 */
export async function* batches(messages: ConsumerMessages, size: number, maxWaitMs: number): AsyncGenerator<JsMsg[]> {
  const it = messages[Symbol.asyncIterator]()
  let next = it.next()
  for (;;) {
    const first = await next
    if (first.done) return
    const batch: JsMsg[] = [first.value]
    next = it.next()
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), maxWaitMs)
    })
    try {
      while (batch.length < size) {
        const r = await Promise.race([next, expired])
        if (r === TIMEOUT) break
        if (r.done) {
          yield batch
          return
        }
        batch.push(r.value)
        next = it.next()
      }
    } finally {
      clearTimeout(timer)
    }
    yield batch
  }
}
