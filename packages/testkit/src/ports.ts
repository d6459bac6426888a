import { readFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'

/** Lowest port the suite picks from; below it sit well-known and registered services. */
const LOWEST = 10_000

/** First port of the kernel's ephemeral range (Linux; 32768 elsewhere, the common default). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(first) && first > LOWEST + 1_000 ? first : 32_768
  } catch {
    return 32_768
  }
}

const handedOut = new Set<number>()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A port for a server a test starts in another process (so it is chosen before the server
 * binds it): free now, and picked at random below the kernel's ephemeral range. A port
 * from the ephemeral range (what listening on port 0 gives) can be taken, between this
 * check and the server's start, as the source port of one of the many connections the
 * suite opens at the same time, and the server then fails with EADDRINUSE (seen in CI).
 * Below that range only servers bind ports, and the suite's own pick theirs here.
 */
export async function freePort(): Promise<number> {
  const end = ephemeralStart()
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST))
    if (handedOut.has(port)) continue
    handedOut.add(port) // before the check: calls made at once never get the same port
    if (await canListen(port)) return port
    handedOut.delete(port)
  }
  throw new Error(`no free port found in [${LOWEST}, ${end})`)
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await fn()
      if (value !== undefined && value !== null && value !== false) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
