// FileHandle: Node's handle from fs.promises.open. A handle names a path, not an inode: a file
// renamed or removed while open is not followed (see docs/api.md). Every write is acked, and so
// durable, when it resolves: sync() has nothing left to do.
import { FsError } from '../errors.js';
import type { Placed } from './paths.js';
import type { FsPromises } from './promises.js';
import type { Stats } from './stats.js';

export interface OpenFlags {
  readonly read: boolean;
  readonly write: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly truncate: boolean;
  readonly append: boolean;
}

const FLAGS: Record<string, OpenFlags> = {
  r: { read: true, write: false, create: false, exclusive: false, truncate: false, append: false },
  'r+': { read: true, write: true, create: false, exclusive: false, truncate: false, append: false },
  w: { read: false, write: true, create: true, exclusive: false, truncate: true, append: false },
  wx: { read: false, write: true, create: true, exclusive: true, truncate: true, append: false },
  'w+': { read: true, write: true, create: true, exclusive: false, truncate: true, append: false },
  'wx+': { read: true, write: true, create: true, exclusive: true, truncate: true, append: false },
  a: { read: false, write: true, create: true, exclusive: false, truncate: false, append: true },
  ax: { read: false, write: true, create: true, exclusive: true, truncate: false, append: true },
  'a+': { read: true, write: true, create: true, exclusive: false, truncate: false, append: true },
  'ax+': { read: true, write: true, create: true, exclusive: true, truncate: false, append: true },
};
const ALIASES: Record<string, string> = { rs: 'r', 'rs+': 'r+', sr: 'r', 'sr+': 'r+', xw: 'wx', 'xw+': 'wx+', xa: 'ax', 'xa+': 'ax+', as: 'a', 'as+': 'a+', sa: 'a', 'sa+': 'a+' };

/** Node's string flags ('r', 'w', 'wx', 'a+', ...); numeric flags are refused with EINVAL. */
export function parseFlags(flags: string | number, syscall: string): OpenFlags {
  const parsed = typeof flags === 'string' ? FLAGS[ALIASES[flags] ?? flags] : undefined;
  if (!parsed) throw new FsError('EINVAL', syscall, undefined, undefined, `flags ${JSON.stringify(flags)} are not one of ${Object.keys(FLAGS).join(', ')}`);
  return parsed;
}

let nextFd = 3;

export class FileHandle {
  readonly fd = nextFd++;
  readonly #fs: FsPromises;
  readonly #placed: Placed;
  readonly #flags: OpenFlags;
  #position = 0;
  #closed = false;

  constructor(fs: FsPromises, placed: Placed, flags: OpenFlags) {
    this.#fs = fs;
    this.#placed = placed;
    this.#flags = flags;
  }

  /** Reads into `buffer` (a new 16 KiB one by default); `position` null reads at the handle's position and advances it. */
  async read(buffer: Uint8Array = new Uint8Array(16384), offset = 0, length = buffer.length - offset, position: number | null = null): Promise<{ bytesRead: number; buffer: Uint8Array }> {
    this.#usable('read', this.#flags.read);
    const at = position ?? this.#position;
    const { data } = await this.#fs.readAt(this.#placed, at, length);
    buffer.set(data, offset);
    if (position === null) this.#position = at + data.length;
    return { bytesRead: data.length, buffer };
  }

  /** Writes `data` at `position` (the handle's position when null; the end for 'a' flags). */
  async write(data: Uint8Array | string, offsetOrPosition?: number | null, length?: number, position?: number | null): Promise<{ bytesWritten: number; buffer: Uint8Array | string }> {
    this.#usable('write', this.#flags.write);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data.subarray(offsetOrPosition ?? 0, (offsetOrPosition ?? 0) + (length ?? data.length));
    const at = (typeof data === 'string' ? offsetOrPosition : position) ?? this.#position;
    const written = await this.#fs.writeAll(this.#placed, bytes, { ...this.#flags, create: false, exclusive: false, truncate: false }, at);
    if ((typeof data === 'string' ? offsetOrPosition : position) == null) this.#position = at + written;
    return { bytesWritten: written, buffer: data };
  }

  async readFile(options?: { encoding?: 'utf8' | 'utf-8' | null } | 'utf8' | 'utf-8'): Promise<Uint8Array | string> {
    this.#usable('read', this.#flags.read);
    const bytes = await this.#fs.readAll(this.#placed);
    const encoding = typeof options === 'string' ? options : options?.encoding;
    return encoding ? new TextDecoder().decode(bytes) : bytes;
  }

  async writeFile(data: Uint8Array | string): Promise<void> {
    this.#usable('write', this.#flags.write);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    await this.#fs.writeAll(this.#placed, bytes, { ...this.#flags, create: false, exclusive: false, truncate: !this.#flags.append });
  }

  async truncate(length = 0): Promise<void> {
    this.#usable('ftruncate', this.#flags.write);
    await this.#fs.truncateAt(this.#placed, length);
  }

  async stat(): Promise<Stats> {
    this.#usable('fstat', true);
    return this.#fs.statOf(this.#placed);
  }

  /** Every write is durable once it resolves (journal and mirror). */
  async sync(): Promise<void> {
    this.#usable('fsync', true);
  }

  async datasync(): Promise<void> {
    this.#usable('fdatasync', true);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #usable(syscall: string, allowed: boolean): void {
    if (this.#closed || !allowed) throw new FsError('EBADF', syscall, undefined, undefined, this.#closed ? 'the file handle is closed' : `the file was not opened for ${syscall}`);
  }
}
