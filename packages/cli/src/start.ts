import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { prettyFactory } from 'pino-pretty'
import { childEnvironment } from '@sluice/kit/config'
import type { Logger } from '@sluice/kit/logger'
import type { CliConfig } from './config.js'
import { setup } from './setup.js'

/**
 * `npm start`: set up, then run ingestion, WORKERS workers and analytics as child
 * processes with prefixed, readable logs; one line per service once it is ready;
 * Ctrl-C stops them all gracefully.
 */

interface Service {
  name: string
  entry: string
  port: number
  docs: boolean
}

interface Running extends Service {
  child: ChildProcess
  exited: Promise<number | null>
}

const COLORS = [36, 35, 33, 32, 34, 31]

function services(config: CliConfig): Service[] {
  const entry = (pkg: string) => fileURLToPath(import.meta.resolve(`@sluice/${pkg}/server`))
  const list: Service[] = [{ name: 'ingestion', entry: entry('ingestion'), port: config.ingestionPort, docs: true }]
  for (let i = 0; i < config.workers; i++) {
    list.push({ name: config.workers > 1 ? `worker-${i + 1}` : 'worker', entry: entry('worker'), port: config.workerPort + i, docs: false })
  }
  list.push({ name: 'analytics', entry: entry('analytics'), port: config.analyticsPort, docs: true })
  return list
}

function spawnService(service: Service, index: number, config: CliConfig): Running {
  const color = process.stdout.isTTY ? COLORS[index % COLORS.length] : undefined
  const prefix = color ? `\x1b[${color}m${service.name.padEnd(11)}\x1b[0m| ` : `${service.name.padEnd(11)}| `
  const pretty = prettyFactory({ colorize: !!color, ignore: 'pid,hostname,service', translateTime: 'HH:MM:ss.l' })
  // Detached: Ctrl-C reaches only this launcher, which then sends each child one SIGTERM
  // (a second signal would make a child skip its graceful shutdown).
  const child = spawn(process.execPath, [...process.execArgv, service.entry], {
    env: childEnvironment({ PORT: String(service.port), HOST: config.host }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const relay = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    if (!stream) return
    createInterface({ input: stream }).on('line', (line) => {
      let text = line
      if (line.startsWith('{')) {
        try {
          text = pretty(line).trimEnd()
        } catch {
          // not a log line: print as is
        }
      }
      out.write(`${prefix}${text}\n`)
    })
  }
  relay(child.stdout, process.stdout)
  relay(child.stderr, process.stderr)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { ...service, child, exited }
}

async function waitReady(s: Running, host: string, timeoutMs: number): Promise<boolean> {
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${s.port}/health/readiness`
  const deadline = Date.now() + timeoutMs
  let exited = false
  void s.exited.then(() => (exited = true))
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      if (res.ok) return true
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150))
  }
  return false
}

export async function start(config: CliConfig, log: Logger): Promise<number> {
  await setup(config, log)

  const running = services(config).map((s, i) => spawnService(s, i, config))
  let stopping = false
  const stopAll = async (reason: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log.info(`stopping all services (${reason})`)
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGTERM')
    const force = setTimeout(() => {
      for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL')
    }, config.shutdownTimeoutMs + 2_000)
    await Promise.all(running.map((s) => s.exited))
    clearTimeout(force)
  }

  let failed = false
  for (const s of running) {
    void s.exited.then((code) => {
      if (!stopping) {
        failed = true
        log.error(`${s.name} exited with code ${code}; stopping the others`)
        void stopAll(`${s.name} exited`)
      }
    })
  }
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL')
        return
      }
      void stopAll(signal).then(resolve)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    void Promise.all(running.map((s) => s.exited)).then(() => resolve())
  })

  const ready = await Promise.all(running.map((s) => waitReady(s, config.host, 30_000)))
  if (ready.every(Boolean)) {
    const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
    const lines = running.map((s) => {
      const url = `http://${host}:${s.port}`
      const extra = s.docs ? `  Swagger UI ${url}/api` : `  metrics ${url}/metrics`
      return `  ${s.name.padEnd(11)} ${url}${extra}`
    })
    process.stdout.write(`\nSluice is running (Ctrl-C stops it):\n${lines.join('\n')}\n\n`)
  } else if (!stopping) {
    const late = running.filter((_, i) => !ready[i]).map((s) => s.name)
    log.error(`not ready within 30 s: ${late.join(', ')}`)
    failed = true
    await stopAll('start failed')
  }
  await stopped
  return failed ? 1 : 0
}
