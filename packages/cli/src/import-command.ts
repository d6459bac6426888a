import { setPriority } from 'node:os'
import { basename, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { topology } from '@sluice/contracts/topology'
import { JetStreamPublisher } from '@sluice/kit/jetstream-publisher'
import { setupJetStream } from '@sluice/kit/jetstream-setup'
import type { Logger } from '@sluice/kit/logger'
import { connectNats, drainNats } from '@sluice/kit/nats'
import type { CliConfig } from './config.js'
import { importAmplitude, type ImportProgress } from './import/amplitude-import.js'
import { progressLine, summaryText } from './import/progress-line.js'

const USAGE = `usage: sluice import amplitude <archive.zip | directory> [--source amplitude] [--dry-run] [--rejects file]

Streams an Amplitude export (a zip of gzipped JSON-lines hour files, or a directory of
.json.gz files) into Sluice through the import lane. Safe to re-run: nothing is stored twice,
and re-running completes an interrupted import.

  --source    the envelope's source (default amplitude)
  --dry-run   read and map every row, publish nothing
  --rejects   where invalid lines are listed (default ./<archive>.rejects.jsonl)
`

/** Publish acknowledgements slower than this fail a message, which is then sent again. */
const PUBLISH_TIMEOUT_MS = 30_000
const PUBLISH_MAX_IN_FLIGHT = 256
const IMPORT_NICENESS = 10

/** `sluice import amplitude …`; returns the exit code (130 when interrupted, like a shell). */
export async function importCommand(args: string[], config: CliConfig, log: Logger): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { source: { type: 'string', default: 'amplitude' }, 'dry-run': { type: 'boolean', default: false }, rejects: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [format, path] = positionals
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (format !== 'amplitude' || path === undefined || positionals.length > 2) {
    process.stderr.write(USAGE)
    return 2
  }
  const source = values.source
  if (!/^[a-z0-9_-]{1,64}$/.test(source)) {
    process.stderr.write(`--source must be 1–64 characters of a-z 0-9 _ -, got "${source}"\n`)
    return 2
  }
  const dryRun = values['dry-run']
  const rejectsPath = resolve(values.rejects ?? `${basename(path)}.rejects.jsonl`)
  const t = topology(config.streamNamespace)

  // A bulk job: on a shared machine it should yield the CPU to live traffic.
  try {
    setPriority(IMPORT_NICENESS)
  } catch {
    // not permitted here: run at normal priority
  }

  const controller = new AbortController()
  let signals = 0
  const onSignal = (name: string) => {
    // First signal: stop reading, let what was read be acknowledged. Second: exit now
    // (nothing is lost: a re-run sends again what was not acknowledged).
    if (++signals > 1) process.exit(130)
    process.stderr.write(`\n${name}: finishing the messages in flight (again to quit at once)…\n`)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const tty = process.stderr.isTTY
  let lastLine = 0
  const onProgress = (p: ImportProgress) => {
    if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`)
    else if (p.elapsedMs - lastLine >= 5_000) {
      lastLine = p.elapsedMs
      process.stderr.write(`${progressLine(p)}\n`)
    }
  }

  const nc = dryRun ? undefined : await connectNats({ url: config.natsUrl, name: 'sluice-import', log })
  try {
    let publisher: JetStreamPublisher | undefined
    if (nc) {
      await setupJetStream(nc, t, config, log)
      publisher = new JetStreamPublisher(nc, { timeoutMs: PUBLISH_TIMEOUT_MS, maxInFlight: PUBLISH_MAX_IN_FLIGHT, log, requestIdHeader: 'Sluice-Request-Id' })
    }
    try {
      const summary = await importAmplitude({ path, source, dryRun, rejectsPath, topology: t, signal: controller.signal, onProgress, ...(publisher ? { publisher } : {}) })
      if (tty) process.stderr.write('\n')
      process.stdout.write(summaryText(summary, dryRun))
      return summary.interrupted ? 130 : 0
    } finally {
      await publisher?.close()
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (nc) await drainNats(nc, log)
  }
}
