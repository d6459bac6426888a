import { Readable } from 'node:stream'
import { ENVELOPE_COLUMNS, type Envelope } from '@sluice/contracts/envelope'
import { copyInto, type PoolClient } from '@sluice/kit/pg'
import { copyRow } from './copy-row.js'

const COLUMNS = ENVELOPE_COLUMNS.join(', ')

// CTAS copies the column types without NOT NULL, so a bad row fails in the INSERT, not the COPY.
const CREATE_STAGING = `CREATE TEMP TABLE IF NOT EXISTS events_staging ON COMMIT DELETE ROWS AS SELECT ${COLUMNS} FROM events WITH NO DATA`
const COPY_STAGING = `COPY events_staging (${COLUMNS}) FROM STDIN`
const INSERT_FROM_STAGING = `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM events_staging ON CONFLICT (source, event_id) DO NOTHING`

/**
 * Stores a batch in the caller's transaction: COPY into a per-connection temp table,
 * then one INSERT … ON CONFLICT DO NOTHING. Returns how many rows were new.
 */
export async function storeBatch(client: PoolClient, envelopes: Envelope[]): Promise<{ inserted: number }> {
  // Every batch: a temp table created in a transaction that rolled back is gone again.
  await client.query(CREATE_STAGING)
  let text = ''
  for (const e of envelopes) text += copyRow(e)
  await copyInto(client, COPY_STAGING, Readable.from([text]))
  const result = await client.query(INSERT_FROM_STAGING)
  return { inserted: result.rowCount ?? 0 }
}
