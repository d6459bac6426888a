import type { Pool, PoolClient } from '@sluice/kit/pg'

/** How long a request waits for its second connection before running both parts on its first. */
const SECOND_CONNECTION_WAIT_MS = 20

export interface SnapshotReaders {
  /** The connection the snapshot was taken on: for queries that both parts depend on. */
  first: PoolClient
  /** Runs `a` and `b` on two connections at once when there are two, else one after the other on `first`. */
  both<A, B>(a: (client: PoolClient) => Promise<A>, b: (client: PoolClient) => Promise<B>): Promise<[A, B]>
}

/**
 * Runs `fn` with up to two connections reading one snapshot, so that a request whose work
 * splits into two parts whose answers add up (geo users in two halves of the key space,
 * ranking over two halves of the range) can use both cores. The second connection imports
 * the snapshot the first exports: without it, a fold committed between the two parts
 * could move a row from pending deltas into a rollup and have it counted twice, or not at all.
 *
 * The second connection is taken only if the pool hands it over at once: a request that
 * held its first connection while waiting for a second could, with every connection held
 * that way by concurrent requests, wait forever. On a busy pool the parts run one after the
 * other on the first connection, in the same transaction: same answers, one core.
 */
export async function withSnapshotReaders<T>(pool: Pool, fn: (readers: SnapshotReaders) => Promise<T>): Promise<T> {
  const first = await pool.connect()
  let second: PoolClient | undefined
  try {
    await first.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { rows } = await first.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot')
    second = await connectAtOnce(pool)
    if (second) {
      await second.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      // A snapshot id is hex digits and dashes (it cannot be a bind parameter).
      await second.query(`SET TRANSACTION SNAPSHOT '${rows[0]!.snapshot.replace(/[^0-9A-Fa-f-]/g, '')}'`)
    }
    const other = second
    return await fn({
      first,
      both: async (a, b) => (other ? Promise.all([a(first), b(other)]) : [await a(first), await b(first)]),
    })
  } finally {
    // Read-only: ending either way is the same; a failed end (a broken connection) drops the client.
    for (const client of [first, second]) {
      if (!client) continue
      const ended = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      )
      client.release(!ended)
    }
  }
}

/** A connection if the pool gives one within SECOND_CONNECTION_WAIT_MS, else undefined (one that comes later goes back to the pool). */
async function connectAtOnce(pool: Pool): Promise<PoolClient | undefined> {
  const pending = pool.connect()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), SECOND_CONNECTION_WAIT_MS)))
  const client = await Promise.race([pending, late])
  clearTimeout(timer)
  if (!client) {
    pending.then(
      (c) => c.release(),
      () => undefined,
    )
  }
  return client
}
