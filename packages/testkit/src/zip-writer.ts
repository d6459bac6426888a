import { open, type FileHandle } from 'node:fs/promises'
import { crc32, deflateRawSync } from 'node:zlib'

/**
 * Writes a .zip file entry by entry (each entry's bytes in memory once, the archive
 * never): enough to build Amplitude-style export archives in tests and benchmarks. No
 * zip64, so under 4 GiB and 65,535 entries.
 */
export class ZipWriter {
  private offset = 0
  private readonly central: Buffer[] = []
  private count = 0

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<ZipWriter> {
    return new ZipWriter(await open(path, 'w'))
  }

  /** Adds a file; `deflate` compresses it (method 8), else it is stored (method 0). */
  async add(name: string, content: Buffer, { deflate = false } = {}): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8')
    const data = deflate ? deflateRawSync(content) : content
    const crc = crc32(content)
    const method = deflate ? 8 : 0
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(method, 8)
    local.writeUInt32LE(0, 10) // time, date
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(content.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    local.writeUInt16LE(0, 28)
    await this.file.write(Buffer.concat([local, nameBytes, data]))

    const entry = Buffer.alloc(46)
    entry.writeUInt32LE(0x02014b50, 0)
    entry.writeUInt16LE(20, 4) // version made by
    entry.writeUInt16LE(20, 6)
    entry.writeUInt16LE(0x0800, 8)
    entry.writeUInt16LE(method, 10)
    entry.writeUInt32LE(0, 12)
    entry.writeUInt32LE(crc, 16)
    entry.writeUInt32LE(data.length, 20)
    entry.writeUInt32LE(content.length, 24)
    entry.writeUInt16LE(nameBytes.length, 28)
    entry.writeUInt32LE(this.offset, 42)
    this.central.push(entry, nameBytes)
    this.offset += local.length + nameBytes.length + data.length
    this.count++
  }

  async close(): Promise<void> {
    const directory = Buffer.concat(this.central)
    const end = Buffer.alloc(22)
    end.writeUInt32LE(0x06054b50, 0)
    end.writeUInt16LE(this.count, 8)
    end.writeUInt16LE(this.count, 10)
    end.writeUInt32LE(directory.length, 12)
    end.writeUInt32LE(this.offset, 16)
    await this.file.write(Buffer.concat([directory, end]))
    await this.file.close()
  }
}
