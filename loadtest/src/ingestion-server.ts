import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnvironment } from '@sluice/kit/config'
import { freePort, waitFor } from '@sluice/testkit/ports'
import { startPrivateNats, type PrivateNats } from '@sluice/testkit/private-nats'

/**
 * One ingestion process and a nats-server of its own (file storage in a temporary
 * directory), as a benchmark runs them: the shared server's disk and other users stay
 * out of the figures, and nothing is left behind.
 */

export interface BenchServer {
  url: string
  ingestionPid: number
  natsPid: number
  nats: PrivateNats
  stop(): Promise<void>
}

/** The pid of a private nats-server (found by its storage directory). */
export async function natsPid(nats: PrivateNats): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (args[0]?.endsWith('nats-server') && args.includes(join(nats.dir, 'js'))) return Number(entry)
  }
  return 0
}

export interface ServerOptions {
  /** Extra node flags for the ingestion process (e.g. --cpu-prof). */
  nodeArgs?: string[]
  env?: Record<string, string>
}

export async function startBenchServer({ nodeArgs = [], env = {} }: ServerOptions = {}): Promise<BenchServer> {
  const nats = await startPrivateNats()
  const port = await freePort()
  // The compiled service, as `npm start` runs it (run.ts builds first): no loader thread, no transpiling.
  const entry = fileURLToPath(import.meta.resolve('@sluice/ingestion/server')).replace(/\/src\/server\.ts$/, '/dist/server.js')
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, entry], {
    env: childEnvironment({ NATS_URL: nats.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', STREAM_MAX_BYTES: String(16 * 1024 ** 3), ...env }),
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(async () => (await fetch(`${url}/health/readiness`)).ok, { timeoutMs: 30_000, what: 'ingestion ready' })
  return {
    url,
    ingestionPid: child.pid!,
    natsPid: await natsPid(nats),
    nats,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      await nats.destroy()
    },
  }
}
