import { parseArgs } from 'node:util'
import { jetstream } from '@nats-io/jetstream'
import { topology } from '@sluice/contracts/topology'
import type { Logger } from '@sluice/kit/logger'
import { connectNats, drainNats } from '@sluice/kit/nats'
import { assertPostgresReachable, createPool, type Pool } from '@sluice/kit/pg'
import { DEAD_LETTER_REASONS } from '@sluice/worker/dead-letter'
import { replayDeadLetters } from '@sluice/worker/replay'
import { countDeadLetters, getDeadLetters, listDeadLetters, pendingDeadLetterIds, type DeadLetterRow } from '@sluice/worker/sql/dead-letters'
import type { CliConfig } from './config.js'

export const DLQ_USAGE = `usage: npm run dlq -- <command> [options]

commands:
  list                    dead letters, newest first, with a count per reason
      --reason <reason>   only this reason (${DEAD_LETTER_REASONS.join(', ')})
      --pending           only those never replayed
      --limit <n>         at most n (default 50)
  show --id <id>          one dead letter in full, with its original message
  replay --id <id> …      put these back on the EVENTS stream (repeat --id)
  replay --all            put back every dead letter never replayed (with --reason: only those)

  --json                  machine-readable output (list, show)

Replay once the cause is fixed (a schema, a trigger, a bug): the worker stores replayed
events like any other, once each however often they are replayed; a message that still
cannot be stored is dead-lettered again.
`

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      reason: { type: 'string' },
      pending: { type: 'boolean', default: false },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const ids = (values.id ?? []).map((id) => {
    if (!/^\d+$/.test(id)) throw new UsageError(`--id must be a number, got "${id}"`)
    return Number(id)
  })
  if (values.reason !== undefined && !(DEAD_LETTER_REASONS as readonly string[]).includes(values.reason)) {
    throw new UsageError(`--reason must be one of ${DEAD_LETTER_REASONS.join(', ')}`)
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer`)
  return { command: positionals[0], ids, all: values.all, reason: values.reason, pending: values.pending, limit, json: values.json, help: values.help }
}

function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ')
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

function formatRow(r: DeadLetterRow): string {
  const what = r.source || r.event_id ? `${r.source ?? '?'}/${r.event_id ?? '?'}` : '(unreadable)'
  const replayed = r.replayed_at ? `replayed ×${r.replay_count}` : 'pending'
  return `${String(r.id).padStart(6)}  ${r.dead_lettered_at.toISOString()}  ${r.reason.padEnd(20)}  ${what}  deliveries=${r.delivery_count}  ${replayed}\n        ${oneLine(r.error, 150)}`
}

async function list(pool: Pool, opts: ReturnType<typeof parse>): Promise<void> {
  const rows = await listDeadLetters(pool, { ...(opts.reason ? { reason: opts.reason } : {}), pending: opts.pending, limit: opts.limit })
  const counts = await countDeadLetters(pool)
  if (opts.json) {
    write(JSON.stringify({ counts, deadLetters: rows }, null, 2))
    return
  }
  if (counts.length === 0) {
    write('no dead letters')
    return
  }
  write(counts.map((c) => `${c.reason}: ${c.total} (${c.pending} not replayed)`).join('\n'))
  write('')
  write(rows.length ? rows.map(formatRow).join('\n') : 'none match')
}

async function show(pool: Pool, opts: ReturnType<typeof parse>): Promise<number> {
  if (opts.ids.length === 0) throw new UsageError('show needs --id <id>')
  const letters = await getDeadLetters(pool, opts.ids)
  if (letters.length === 0) {
    process.stderr.write(`no dead letter with id ${opts.ids.join(', ')}\n`)
    return 1
  }
  for (const l of letters) {
    let text: string | undefined
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(l.payload)
    } catch {
      text = undefined
    }
    const { payload, ...fields } = l
    if (opts.json) {
      write(JSON.stringify({ ...fields, payload: text ?? null, payloadBase64: payload.toString('base64') }, null, 2))
      continue
    }
    write(formatRow(l))
    write(`        subject ${l.subject}, stream ${l.stream} seq ${l.stream_seq}${l.row_index === null ? '' : ` line ${l.row_index}`}, published ${l.published_at.toISOString()}, ${l.bytes} bytes`)
    write(`        error: ${l.error}`)
    write(text !== undefined ? text : `(not UTF-8) base64: ${payload.toString('base64')}`)
  }
  return 0
}

async function replay(pool: Pool, config: CliConfig, opts: ReturnType<typeof parse>, log: Logger): Promise<number> {
  if (opts.all === (opts.ids.length > 0)) throw new UsageError('replay needs either --id <id> … or --all')
  const ids = opts.all ? await pendingDeadLetterIds(pool, opts.reason) : opts.ids
  if (ids.length === 0) {
    write('nothing to replay')
    return 0
  }
  const nc = await connectNats({ url: config.natsUrl, name: 'sluice-dlq', log })
  try {
    const { replayed, missing } = await replayDeadLetters({ pool, js: jetstream(nc), topology: topology(config.streamNamespace), ids })
    for (const r of replayed) write(`replayed ${r.id} to ${r.subject}${r.replayCount > 1 ? ` (replay ${r.replayCount})` : ''}`)
    write(`${replayed.length} dead letter${replayed.length === 1 ? '' : 's'} replayed`)
    if (missing.length) process.stderr.write(`no dead letter with id ${missing.join(', ')}\n`)
    return missing.length ? 1 : 0
  } finally {
    await drainNats(nc, log)
  }
}

/** `sluice dlq …`; returns the exit code. */
export async function dlq(argv: string[], config: CliConfig, log: Logger): Promise<number> {
  let opts: ReturnType<typeof parse>
  try {
    opts = parse(argv)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${DLQ_USAGE}`)
    return 2
  }
  if (opts.help || !opts.command) {
    process.stdout.write(DLQ_USAGE)
    return opts.help ? 0 : 2
  }
  await assertPostgresReachable(config.databaseUrl)
  const pool = createPool({ url: config.databaseUrl, log, applicationName: 'sluice-dlq', max: 2 })
  try {
    switch (opts.command) {
      case 'list':
        await list(pool, opts)
        return 0
      case 'show':
        return await show(pool, opts)
      case 'replay':
        return await replay(pool, config, opts, log)
      default:
        throw new UsageError(`unknown dlq command "${opts.command}"`)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${DLQ_USAGE}`)
      return 2
    }
    throw err
  } finally {
    await pool.end()
  }
}
