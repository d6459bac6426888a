import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './ports.js'

/**
 * A nats-server of the test's own, on a free loopback port with its own storage
 * directory, so a test can stop, kill and restart it without touching the machine's
 * shared server. Several of them form a cluster when given each other's routes.
 */

export interface PrivateNats {
  url: string
  port: number
  clusterPort: number | undefined
  dir: string
  name: string
  running(): boolean
  start(): Promise<void>
  /** SIGTERM and wait (a clean shutdown). */
  stop(): Promise<void>
  /** SIGKILL and wait. */
  kill(): Promise<void>
  destroy(): Promise<void>
}

export interface PrivateNatsOptions {
  name?: string
  /** Cluster settings: the cluster's name and the route URLs of the other members. */
  cluster?: { name: string; port: number; routes: string[] }
  maxMemoryStore?: string
  maxFileStore?: string
  binary?: string
}

export async function startPrivateNats(options: PrivateNatsOptions = {}): Promise<PrivateNats> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-'))
  const name = options.name ?? `n${port}`
  let child: ChildProcess | undefined

  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js'), '-n', name]
  if (options.cluster) {
    args.push('--cluster_name', options.cluster.name, '--cluster', `nats://127.0.0.1:${options.cluster.port}`)
    if (options.cluster.routes.length) args.push('--routes', options.cluster.routes.join(','))
  }
  const limits: string[] = []
  if (options.maxMemoryStore) limits.push(`max_memory_store: ${options.maxMemoryStore}`)
  if (options.maxFileStore) limits.push(`max_file_store: ${options.maxFileStore}`)

  const exited = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
    })

  const handle: PrivateNats = {
    url: `nats://127.0.0.1:${port}`,
    port,
    clusterPort: options.cluster?.port,
    dir,
    name,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    async start() {
      if (handle.running()) return
      child = spawn(options.binary ?? 'nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
      child.stderr?.resume()
      await waitForPort(port, 15_000)
    },
    async stop() {
      if (!handle.running()) return
      const done = exited()
      child?.kill('SIGTERM')
      await done
    },
    async kill() {
      if (!handle.running()) return
      const done = exited()
      child?.kill('SIGKILL')
      await done
    },
    async destroy() {
      await handle.kill()
      await rm(dir, { recursive: true, force: true })
    },
  }
  if (limits.length) {
    // JetStream limits only come from a config file on the command line of 2.9.
    const { writeFile } = await import('node:fs/promises')
    const conf = join(dir, 'nats.conf')
    await writeFile(conf, `jetstream {\n  store_dir: "${join(dir, 'js')}"\n  ${limits.join('\n  ')}\n}\n`)
    args.push('-c', conf)
  }
  await handle.start()
  return handle
}

/** Three (or n) servers routed to each other, JetStream clustered. */
export async function startPrivateCluster(n = 3): Promise<PrivateNats[]> {
  const clusterPorts = await Promise.all(Array.from({ length: n }, () => freePort()))
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`)
  return Promise.all(
    clusterPorts.map((port, i) =>
      startPrivateNats({ name: `s${i + 1}`, cluster: { name: 'sluice', port, routes: routes.filter((_, j) => j !== i) } }),
    ),
  )
}
