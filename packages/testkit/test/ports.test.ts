import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort } from '../src/ports.js'

// The kernel takes source ports of outgoing connections from this range: a port a server
// is about to bind must not come from it.
const ephemeral = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])

test('freePort: ports asked for at once are distinct, below the ephemeral range, and bindable', async () => {
  const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()))
  assert.equal(new Set(ports).size, ports.length)
  for (const port of ports) assert.ok(port >= 10_000 && port < ephemeral, `${port} outside [10000, ${ephemeral})`)
  for (const port of ports.slice(0, 5)) {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise((resolve) => server.close(resolve))
  }
})
