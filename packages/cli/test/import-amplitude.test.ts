import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportRow, exportTime, gzipLines, hourFileName } from '@sluice/testkit/amplitude-export'
import { ZipWriter } from '@sluice/testkit/zip-writer'
import { BASE, HOUR, importHarness, summaryValue } from './import-harness.js'

const h = importHarness()

test('an export archive is stored once: mapping, duplicates across files, rejects, a poison line, re-runs of the zip and of a directory', async () => {
  const row = (i: number, hour: number, extra: Record<string, unknown> = {}, isoT = false) => JSON.stringify({ ...exportRow(i, BASE + hour * HOUR + i * 1000, { isoT, idPrefix: 'a' }), ...extra })
  // Hour 2 and hour 10 of one day (natural order puts 2 first), a second part of hour 10.
  const files = [
    {
      name: hourFileName(BASE + 10 * HOUR),
      lines: [
        row(1, 10),
        row(2, 10, {}, true), // a T in the time
        '{"event_type": "broken', // line 3: broken JSON
        row(3, 10, { event_type: '' }), // line 4: no event_type
        row(4, 10, { user_id: null, device_id: null }), // line 5: no identity
        row(5, 10, { event_time: '02/03/2024 10:00', client_event_time: null }), // line 6: bad time
        row(6, 10, { $insert_id: null, uuid: 'only-uuid-6' }),
        row(7, 10, { event_properties: { $price: 3, $quantity: 4 } }),
        '',
        row(8, 10, { event_type: 'bad\u0000type' }), // stored by nobody: PostgreSQL rejects NUL
      ],
    },
    { name: hourFileName(BASE + 10 * HOUR, 1), lines: [row(1, 10), row(9, 10), row(10, 10)] }, // row 1 again: a duplicate across files
    { name: hourFileName(BASE + 2 * HOUR), lines: Array.from({ length: 250 }, (_, k) => row(100 + k, 2)).concat(['not json at all']) },
  ]
  const zipPath = join(h.dir, 'export.zip')
  const zip = await ZipWriter.create(zipPath)
  for (const [k, f] of files.entries()) await zip.add(f.name, gzipLines(f.lines), { deflate: k === 1 })
  await zip.close()
  const rejectsPath = join(h.dir, 'rejects.jsonl')

  const dry = await h.run(zipPath, '--dry-run', '--rejects', join(h.dir, 'dry.jsonl'))
  assert.equal(dry.code, 0, dry.out)
  assert.match(dry.out, /Dry run complete/)
  assert.equal(await h.count('amplitude'), 0, 'a dry run publishes nothing')

  const first = await h.run(zipPath, '--rejects', rejectsPath)
  assert.equal(first.code, 0, first.out)
  assert.match(first.out, /Import complete/)
  assert.equal(summaryValue(first.out, 'rows read'), 263, first.out)
  assert.equal(summaryValue(first.out, 'invalid'), 5, first.out)
  assert.equal(summaryValue(first.out, 'published'), 258, first.out)
  assert.match(first.out, /files\s+3 of 3/)

  const rejects = (await readFile(rejectsPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { file: string; line: number; reason: string })
  assert.deepEqual(
    rejects.map((r) => [r.file, r.line]),
    [
      [files[2]!.name, 251],
      [files[0]!.name, 3],
      [files[0]!.name, 4],
      [files[0]!.name, 5],
      [files[0]!.name, 6],
    ],
    'in natural order: hour 2 before hour 10',
  )
  assert.match(rejects[0]!.reason, /broken JSON/)
  assert.match(rejects[2]!.reason, /event_type/)
  assert.match(rejects[3]!.reason, /user_id or device_id/)
  assert.match(rejects[4]!.reason, /event_time/)

  await h.drained()
  // 258 published: 1 duplicate (row 1 twice), 1 rejected by PostgreSQL.
  assert.equal(await h.count('amplitude'), 256)
  const { rows } = await h.pool.query<{ event_id: string; occurred_at: Date; user_id: string | null; device_id: string | null; country: string | null; city: string | null; revenue: string | null; data: Record<string, unknown> }>(
    `SELECT event_id, occurred_at, user_id, device_id, country, city, revenue, data FROM events WHERE event_id = ANY($1) ORDER BY event_id`,
    [['a-1', 'a-2', 'only-uuid-6', 'a-7']],
  )
  const byId = new Map(rows.map((r) => [r.event_id, r]))
  assert.equal(byId.get('a-1')!.occurred_at.toISOString(), new Date(BASE + 10 * HOUR + 1000).toISOString())
  assert.equal(exportTime(byId.get('a-2')!.occurred_at.getTime(), true), (JSON.parse(files[0]!.lines[1]!) as { event_time: string }).event_time, 'the T format')
  assert.equal(byId.get('a-1')!.country, 'DE', 'country names become ISO codes')
  assert.equal(byId.get('a-1')!.city, 'Berlin')
  assert.equal(Number(byId.get('a-7')!.revenue), 12, '$price × $quantity')
  assert.ok(byId.has('only-uuid-6'), 'uuid when there is no $insert_id')
  assert.equal(byId.get('a-1')!.data.amplitude_id, 100_000_001, 'the rest stays in data')

  const letters = await h.pool.query<{ reason: string; row_index: number; payload: Buffer }>('SELECT reason, row_index, payload FROM dead_letters')
  assert.equal(letters.rows.length, 1, 'only the poison line is dead-lettered, not its message')
  assert.equal(letters.rows[0]!.reason, 'rejected_by_database')
  assert.equal(typeof letters.rows[0]!.row_index, 'number')
  assert.equal((JSON.parse(letters.rows[0]!.payload.toString()) as { event_id: string }).event_id, 'a-8')

  // Re-running the zip, then the same files as a directory: nothing new.
  const again = await h.run(zipPath, '--rejects', rejectsPath)
  assert.equal(again.code, 0, again.out)
  assert.equal(summaryValue(again.out, 'duplicates'), 258, 'inside the dedupe window JetStream drops every message')
  const tree = join(h.dir, 'tree')
  for (const f of files) {
    await mkdir(join(tree, f.name, '..'), { recursive: true })
    await writeFile(join(tree, f.name), gzipLines(f.lines))
  }
  const fromDir = await h.run(tree, '--rejects', join(h.dir, 'rejects-dir.jsonl'))
  assert.equal(fromDir.code, 0, fromDir.out)
  assert.equal(summaryValue(fromDir.out, 'published'), 258, fromDir.out)
  await h.drained()
  assert.equal(await h.count('amplitude'), 256, 're-runs store nothing new')
  assert.equal(Number((await h.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters')).rows[0]!.n), 1, 'the poison line is recorded once')
})

