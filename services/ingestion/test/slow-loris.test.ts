import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { ingestionHarness, nativeEvent, type IngestionHarness } from './helpers.js'

/**
 * Clients that hold a connection by dribbling bytes (slow-loris) are cut off near
 * REQUEST_TIMEOUT_MS, silent ones after HEADERS_TIMEOUT_MS, oversized headers get 431, and the service keeps
 * answering everyone else meanwhile.
 */

let h: IngestionHarness
let port: number
before(async () => {
  h = await ingestionHarness({ env: { REQUEST_TIMEOUT_MS: '2500', HEADERS_TIMEOUT_MS: '1500', STREAM_MAX_BYTES: String(64 * 1024 * 1024) } })
  port = Number(new URL(await h.listen()).port)
})
after(async () => h.close())

/** Writes `parts` one every `everyMs` until the server closes the socket; resolves with what it answered and when. */
function dribble(parts: string[], everyMs: number): Promise<{ closedAfterMs: number; answer: string; sent: number }> {
  return new Promise((resolve) => {
    const started = performance.now()
    const socket: Socket = connect(port, '127.0.0.1')
    let answer = ''
    let sent = 0
    let timer: NodeJS.Timeout | undefined
    socket.on('data', (d: Buffer) => (answer += d.toString()))
    const finish = () => {
      clearInterval(timer)
      resolve({ closedAfterMs: performance.now() - started, answer, sent })
    }
    socket.on('close', finish)
    socket.on('error', () => undefined)
    socket.on('connect', () => {
      timer = setInterval(() => {
        if (sent < parts.length && !socket.destroyed) socket.write(parts[sent++]!)
      }, everyMs)
    })
  })
}

test('headers dribbled a byte at a time are cut off near REQUEST_TIMEOUT_MS', async () => {
  const head = 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Padding: ' + 'a'.repeat(2_000)
  const result = await dribble(head.split(''), 50) // 100 s if never cut off
  assert.ok(result.closedAfterMs < 6_000, `closed after ${Math.round(result.closedAfterMs)} ms`)
  assert.ok(result.sent < head.length, 'the client never got to finish')
  assert.match(result.answer, /^HTTP\/1.1 408|^$/, result.answer.slice(0, 100))
})

test('a body dribbled a few bytes at a time is cut off near REQUEST_TIMEOUT_MS, while others are served', async () => {
  const body = JSON.stringify([nativeEvent()])
  const head = `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
  const chunks = [head, ...(body.match(/.{1,2}/g) ?? [])]
  const slow = dribble(chunks, 100)
  // Meanwhile a normal client is served at once.
  await new Promise((r) => setTimeout(r, 500))
  const t0 = performance.now()
  const normal = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nativeEvent()) })
  assert.equal(normal.status, 202)
  assert.ok(performance.now() - t0 < 2_000)
  const result = await slow
  assert.ok(result.closedAfterMs < 6_000, `closed after ${Math.round(result.closedAfterMs)} ms`)
  assert.ok(result.sent < chunks.length, 'the body never completed')
  assert.doesNotMatch(result.answer, /HTTP\/1.1 202/)
})

test('a hundred idle connections that never send anything are all closed, and the service still answers', async () => {
  const sockets = await Promise.all(
    Array.from({ length: 100 }, () => new Promise<{ closed: Promise<number> }>((resolve) => {
      const started = performance.now()
      const s = connect(port, '127.0.0.1')
      s.on('error', () => undefined)
      const closed = new Promise<number>((r) => s.on('close', () => r(performance.now() - started)))
      s.on('connect', () => resolve({ closed }))
    })),
  )
  const times = await Promise.all(sockets.map((s) => s.closed))
  assert.ok(Math.max(...times) < 5_000, `the last closed after ${Math.round(Math.max(...times))} ms`)
  const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nativeEvent()) })
  assert.equal(res.status, 202)
})

test('headers over 16 KiB answer 431 at once', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-big': 'b'.repeat(20_000) }, body: '[]' })
  assert.equal(res.status, 431)
})
