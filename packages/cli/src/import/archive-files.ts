import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { Readable } from 'node:stream'
import yauzl from 'yauzl'

/**
 * The files of an Amplitude export — a .zip of gzipped JSON-lines hour files, or a
 * directory of them — in natural order (hour 2 before hour 10), each opened as a stream
 * only when its turn comes. Nothing is read whole: yauzl reads the zip's central
 * directory, then inflates one entry at a time from the file.
 */

export interface ArchiveFile {
  /** The name inside the archive (or the path under the directory). */
  name: string
  /** Bytes of the file as stored (the gzip), for progress. */
  size: number
  /** Whether its content is gzip (`.gz`) or plain JSON lines. */
  gzipped: boolean
  open(): Promise<Readable>
}

export interface Archive {
  files: ArchiveFile[]
  /** Sum of the files' sizes: what progress and ETA are measured against. */
  totalBytes: number
  close(): void
}

const DATA_FILE = /\.json(l)?(\.gz)?$/i

const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true })

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip))))
}

function entries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const list: yauzl.Entry[] = []
    zip.on('entry', (entry: yauzl.Entry) => {
      list.push(entry)
      zip.readEntry()
    })
    zip.once('end', () => resolve(list))
    zip.once('error', reject)
    zip.readEntry()
  })
}

async function zipArchive(path: string): Promise<Archive> {
  const zip = await openZip(path)
  const list = (await entries(zip)).filter((e) => !e.fileName.endsWith('/') && DATA_FILE.test(e.fileName)).sort((a, b) => natural(a.fileName, b.fileName))
  const files = list.map<ArchiveFile>((entry) => ({
    name: entry.fileName,
    size: entry.uncompressedSize,
    gzipped: entry.fileName.toLowerCase().endsWith('.gz'),
    open: () => new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)))),
  }))
  return { files, totalBytes: files.reduce((sum, f) => sum + f.size, 0), close: () => zip.close() }
}

async function directoryArchive(path: string): Promise<Archive> {
  const names = (await readdir(path, { recursive: true })).filter((n) => DATA_FILE.test(n)).sort(natural)
  const files: ArchiveFile[] = []
  for (const name of names) {
    const full = join(path, name)
    const s = await stat(full)
    if (!s.isFile()) continue
    files.push({ name: relative(path, full), size: s.size, gzipped: name.toLowerCase().endsWith('.gz'), open: () => Promise.resolve(createReadStream(full)) })
  }
  return { files, totalBytes: files.reduce((sum, f) => sum + f.size, 0), close: () => undefined }
}

/** Opens a .zip export or a directory of .json.gz files. */
export async function openArchive(path: string): Promise<Archive> {
  const s = await stat(path)
  return s.isDirectory() ? directoryArchive(path) : zipArchive(path)
}
