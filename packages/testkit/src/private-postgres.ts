import { execFileSync, spawn } from 'node:child_process'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'

/**
 * A PostgreSQL cluster of the test's own (initdb + pg_ctl from the installed server),
 * on a free loopback port in a temporary directory, so a test can stop and restart it.
 * PostgreSQL refuses to run as root, so under root it runs as the `postgres` user.
 */

export interface PrivatePostgres {
  port: number
  /** URL of a database on this server (default `postgres`). */
  url(database?: string): string
  start(): Promise<void>
  /** Stops the server; `immediate` is a crash-like stop (no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  destroy(): Promise<void>
}

function binDir(): string {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

function run(cmd: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${output}`))))
  })
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir()
  const tool = (name: string) => (bin ? join(bin, name) : name)
  const user = runAs()
  const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-'))
  if (user) await chown(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const port = await freePort()
  await run(tool('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], user)
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`

  const handle: PrivatePostgres = {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: () => run(tool('pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start'], user),
    stop: (mode = 'fast') => run(tool('pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'], user),
    async destroy() {
      await handle.stop('immediate').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
  await handle.start()
  return handle
}
