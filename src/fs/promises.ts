// The Node `fs.promises` subset that browser apps use (isomorphic-git, and code written for
// lightning-fs), over any backend that carries changes and queries to volume owners: a tandemfs
// node in a browser, or the simulator's nodes in tests. Paths are checked and mapped here; Node's
// semantics are checked at the owner (src/core/fs-plan.ts), where the truth is.
import type { ChangeResult, FsChange, FsQuery, FsStat, QueryResult } from '../core/fs-request.js';
import { REQUEST_BYTES } from '../core/fs-request.js';
import { FsError } from '../errors.js';
import { FileHandle, parseFlags, type OpenFlags } from './file-handle.js';
import { checkLinkTarget, Mounts, type Placed } from './paths.js';
import { Dirent, Stats } from './stats.js';

/** What the fs layer needs: the node's client side (core/node.ts implements it). */
export interface FsBackend {
  change(volume: number, change: FsChange): Promise<ChangeResult>;
  query(volume: number, query: FsQuery): Promise<QueryResult>;
}

export type Encoding = 'utf8' | 'utf-8';
export type Data = string | Uint8Array | ArrayBufferView | ArrayBuffer;
type EncodingOption = Encoding | { encoding?: Encoding | null; flag?: string } | null | undefined;
type WriteOptions = Encoding | { encoding?: Encoding | null; flag?: string; mode?: number } | null | undefined;
type TimeLike = number | string | Date;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class FsPromises {
  readonly #backend: () => Promise<FsBackend>;
  readonly #mountTable: () => Mounts;
  /** The wall clock for mtimes (a test may pass its own). */
  readonly #now: () => number;

  /** `mounts`: the mount table in force (FS sets it at init). */
  constructor(backend: () => Promise<FsBackend>, mounts: () => Mounts, now: () => number = Date.now) {
    this.#backend = backend;
    this.#mountTable = mounts;
    this.#now = now;
  }

  get #mounts(): Mounts {
    return this.#mountTable();
  }

  readFile(path: string, options?: { encoding?: null; flag?: string } | null): Promise<Uint8Array>;
  readFile(path: string, options: Encoding | { encoding: Encoding; flag?: string }): Promise<string>;
  readFile(path: string, options?: EncodingOption): Promise<Uint8Array | string>;
  async readFile(path: string, options?: EncodingOption): Promise<Uint8Array | string> {
    const placed = this.#mounts.place(path, 'open');
    const bytes = await this.readAll(placed);
    return encodingOf(options) ? fromUtf8.decode(bytes) : bytes;
  }

  async writeFile(path: string, data: Data, options?: WriteOptions): Promise<void> {
    const flags = parseFlags(flagOf(options) ?? 'w', 'open');
    await this.writeAll(this.#mounts.place(path, 'open'), toBytes(data, encodingOf(options)), flags);
  }

  async appendFile(path: string, data: Data, options?: WriteOptions): Promise<void> {
    const flags = parseFlags(flagOf(options) ?? 'a', 'open');
    await this.writeAll(this.#mounts.place(path, 'open'), toBytes(data, encodingOf(options)), flags);
  }

  async open(path: string, flags: string | number = 'r', _mode?: number): Promise<FileHandle> {
    const parsed = parseFlags(flags, 'open');
    const placed = this.#mounts.place(path, 'open');
    if (parsed.create || parsed.truncate) {
      await this.#change(placed, { kind: 'write', path: placed.path, data: new Uint8Array(0), at: 0, ...createFlags(parsed), mtimeMs: this.#now() });
    } else {
      await this.#stat(placed, 'open'); // ENOENT now, as Node's open does
    }
    return new FileHandle(this, placed, parsed);
  }

  async stat(path: string): Promise<Stats> {
    const placed = this.#mounts.place(path, 'stat');
    return new Stats(await this.#stat(placed, 'stat'), placed.full);
  }

  /** stat of a symbolic link itself, not of what it leads to. */
  async lstat(path: string): Promise<Stats> {
    const placed = this.#mounts.place(path, 'lstat');
    return new Stats(await this.#stat(placed, 'lstat', false), placed.full);
  }

  async access(path: string, _mode?: number): Promise<void> {
    await this.#stat(this.#mounts.place(path, 'access'), 'access');
  }

  readdir(path: string, options?: { withFileTypes?: false; encoding?: string } | string | null): Promise<string[]>;
  readdir(path: string, options: { withFileTypes: true; encoding?: string }): Promise<Dirent[]>;
  readdir(path: string, options?: { withFileTypes?: boolean; encoding?: string } | string | null): Promise<string[] | Dirent[]>;
  async readdir(path: string, options?: { withFileTypes?: boolean; encoding?: string } | string | null): Promise<string[] | Dirent[]> {
    const placed = this.#mounts.place(path, 'scandir');
    const result = await this.#query(placed, { kind: 'readdir', path: placed.path });
    if (result.kind !== 'readdir') throw unexpected(result);
    const withFileTypes = typeof options === 'object' && options?.withFileTypes === true;
    return withFileTypes ? result.entries.map(([name, kind]) => new Dirent(name, kind, placed.full)) : result.entries.map(([name]) => name);
  }

  async mkdir(path: string, options?: { recursive?: boolean; mode?: number } | number | null): Promise<string | undefined> {
    const placed = this.#mounts.place(path, 'mkdir');
    const recursive = typeof options === 'object' && options?.recursive === true;
    const { value } = await this.#change(placed, { kind: 'mkdir', path: placed.path, recursive });
    // Node returns the first directory made (recursive only), as the user names it.
    return recursive && typeof value === 'string' ? this.#userPath(placed, value) : undefined;
  }

  async rmdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    const placed = this.#mounts.place(path, 'rmdir');
    if (options?.recursive) await this.#change(placed, { kind: 'rm', path: placed.path, recursive: true, force: false });
    else await this.#change(placed, { kind: 'rmdir', path: placed.path });
  }

  async rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
    const placed = this.#mounts.place(path, 'rm');
    await this.#change(placed, { kind: 'rm', path: placed.path, recursive: options?.recursive === true, force: options?.force === true });
  }

  async unlink(path: string): Promise<void> {
    const placed = this.#mounts.place(path, 'unlink');
    await this.#change(placed, { kind: 'unlink', path: placed.path });
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    const from = this.#mounts.place(oldPath, 'rename');
    const to = this.#mounts.place(newPath, 'rename');
    if (from.volume !== to.volume) throw new FsError('EXDEV', 'rename', from.full, to.full, 'the paths are on different volumes');
    await this.#change(from, { kind: 'rename', path: from.path, target: to.path }, to);
  }

  async truncate(path: string, length = 0): Promise<void> {
    const placed = this.#mounts.place(path, 'open');
    await this.truncateAt(placed, length);
  }

  async utimes(path: string, atime: TimeLike, mtime: TimeLike): Promise<void> {
    const placed = this.#mounts.place(path, 'utime');
    await this.#change(placed, { kind: 'utimes', path: placed.path, atimeMs: timeMs(atime, 'utime'), mtimeMs: timeMs(mtime, 'utime') });
  }

  /** Sets the permission bits (`mode & 0o7777`; a string is octal) of what `path` leads to. */
  async chmod(path: string, mode: number | string): Promise<void> {
    const placed = this.#mounts.place(path, 'chmod');
    await this.#change(placed, { kind: 'chmod', path: placed.path, mode: permissionBits(mode, placed.full) });
  }

  /**
   * Makes a symbolic link at `path` holding `target`, which is not checked for existence (it may
   * dangle). A relative target is taken from the link's directory, an absolute one from the root
   * of the link's volume. `_type` is Windows's ('file', 'dir', 'junction'): ignored, as on POSIX.
   */
  async symlink(target: string, path: string, _type?: string | null): Promise<void> {
    const placed = this.#mounts.place(path, 'symlink');
    checkLinkTarget(target, placed.full);
    try {
      await this.#change(placed, { kind: 'symlink', path: placed.path, target });
    } catch (error) {
      // Node names the target as the path and the link as the dest: "symlink 'target' -> 'path'".
      if (error instanceof FsError) throw new FsError(error.code, 'symlink', target, placed.full, detailOf(error));
      throw error;
    }
  }

  /** The target a symbolic link holds, as symlink was given it; EINVAL for anything else. */
  async readlink(path: string, _options?: unknown): Promise<string> {
    const placed = this.#mounts.place(path, 'readlink');
    const stat = await this.#stat(placed, 'readlink', false);
    if (stat.target === undefined) throw new FsError('EINVAL', 'readlink', placed.full, undefined, 'not a symbolic link');
    return stat.target;
  }

  // ------------------------------------------------------------------------------------------
  // lightning-fs's extras

  /** Every acked write is already durable (journal and mirror): nothing to wait for. */
  async flush(): Promise<void> {}

  /** Bytes held under `path`: a file's size, or the sum over a directory's tree. */
  async du(path: string): Promise<number> {
    const stats = await this.stat(path);
    if (stats.isFile()) return stats.size;
    let total = 0;
    const base = path.endsWith('/') ? path : `${path}/`;
    for (const name of (await this.readdir(path)) as string[]) total += await this.du(base + name);
    return total;
  }

  // ------------------------------------------------------------------------------------------
  // Used by FileHandle and the methods above

  /** The whole file, read REQUEST_BYTES at a time. */
  async readAll(placed: Placed): Promise<Uint8Array> {
    const first = await this.readAt(placed, 0, REQUEST_BYTES);
    if (first.data.length >= first.size || first.data.length < REQUEST_BYTES) return first.data;
    const out = new Uint8Array(first.size);
    out.set(first.data);
    let at = first.data.length;
    while (at < out.length) {
      const next = await this.readAt(placed, at, Math.min(REQUEST_BYTES, out.length - at));
      if (next.data.length === 0) break; // the file shrank meanwhile
      out.set(next.data.subarray(0, out.length - at), at);
      at += next.data.length;
    }
    return at < out.length ? out.slice(0, at) : out;
  }

  async readAt(placed: Placed, offset: number, length: number): Promise<{ data: Uint8Array; size: number }> {
    const result = await this.#query(placed, { kind: 'read', path: placed.path, offset, length });
    if (result.kind !== 'read') throw unexpected(result);
    return result;
  }

  /**
   * Writes `data` with `flags`: the first REQUEST_BYTES open the file (create, truncate, exclusive)
   * in the same change as their bytes; the rest follow at their offsets (or at the end, appending).
   * Each change is applied exactly once; a large file is not written atomically (nor is it in Node).
   */
  async writeAll(placed: Placed, data: Uint8Array, flags: OpenFlags, position?: number): Promise<number> {
    const mtimeMs = this.#now();
    const start = flags.append ? 'end' : (position ?? 0);
    const first = await this.#change(placed, {
      kind: 'write', path: placed.path, data: data.subarray(0, REQUEST_BYTES), at: start, ...createFlags(flags), mtimeMs,
    });
    const base = typeof first.value === 'number' ? first.value : 0;
    for (let offset = REQUEST_BYTES; offset < data.length; offset += REQUEST_BYTES) {
      const chunk = data.subarray(offset, offset + REQUEST_BYTES);
      const at = flags.append ? 'end' : base + offset;
      await this.#change(placed, { kind: 'write', path: placed.path, data: chunk, at, create: false, exclusive: false, truncate: false, mtimeMs });
    }
    return data.length;
  }

  async truncateAt(placed: Placed, length: number): Promise<void> {
    if (!Number.isSafeInteger(length) || length < 0) throw new FsError('EINVAL', 'ftruncate', placed.full, undefined, 'the length must be a non-negative integer');
    await this.#change(placed, { kind: 'truncate', path: placed.path, size: length, mtimeMs: this.#now() });
  }

  async statOf(placed: Placed): Promise<Stats> {
    return new Stats(await this.#stat(placed, 'fstat'), placed.full);
  }

  // ------------------------------------------------------------------------------------------

  /** `follow`: stat what a link at the path leads to (stat), or the link itself (lstat). */
  async #stat(placed: Placed, syscall: string, follow = true): Promise<FsStat> {
    const result = await this.#query(placed, { kind: 'stat', path: placed.path, follow }, syscall);
    if (result.kind !== 'stat') throw unexpected(result);
    return result.stat;
  }

  async #query(placed: Placed, query: FsQuery, syscall?: string): Promise<QueryResult> {
    const backend = await this.#backend();
    try {
      return await backend.query(placed.volume, query);
    } catch (error) {
      throw this.#relocated(error, placed, undefined, syscall);
    }
  }

  async #change(placed: Placed, change: FsChange, dest?: Placed): Promise<ChangeResult> {
    const backend = await this.#backend();
    try {
      return await backend.change(placed.volume, change);
    } catch (error) {
      throw this.#relocated(error, placed, dest);
    }
  }

  /** An owner's FsError names volume paths: name the user's instead. */
  #relocated(error: unknown, placed: Placed, dest?: Placed, syscall?: string): unknown {
    if (!(error instanceof FsError)) return error;
    const relocated = error.withPaths(placed.full, dest?.full);
    return syscall === undefined ? relocated : new FsError(relocated.code, syscall, relocated.path, relocated.dest, detailOf(relocated));
  }

  #userPath(placed: Placed, volumePath: string): string {
    const prefix = placed.path === '/' ? placed.full : placed.full.slice(0, placed.full.length - placed.path.length);
    if (prefix === '' || prefix === '/') return volumePath; // the root mount
    return volumePath === '/' ? prefix : prefix + volumePath;
  }
}

function detailOf(error: FsError): string | undefined {
  return typeof error.data.detail === 'string' ? error.data.detail : undefined;
}

function createFlags(flags: OpenFlags): { create: boolean; exclusive: boolean; truncate: boolean } {
  return { create: flags.create, exclusive: flags.exclusive, truncate: flags.truncate };
}

function unexpected(result: QueryResult): Error {
  return new Error(`tandemfs: the owner answered a ${result.kind} query out of place`);
}

function encodingOf(options: EncodingOption | WriteOptions): Encoding | undefined {
  const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
  if (encoding === undefined || encoding === null) return undefined;
  if (encoding === 'utf8' || encoding === 'utf-8') return encoding;
  throw new FsError('EINVAL', 'open', undefined, undefined, `encoding ${JSON.stringify(encoding)} is not supported (use "utf8", or none for bytes)`);
}

function flagOf(options: EncodingOption | WriteOptions): string | undefined {
  return typeof options === 'object' && options !== null ? options.flag : undefined;
}

export function toBytes(data: Data, encoding: Encoding | undefined): Uint8Array {
  if (typeof data === 'string') {
    if (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8') return utf8.encode(data);
  }
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new FsError('EINVAL', 'write', undefined, undefined, 'data must be a string, a Uint8Array, an ArrayBufferView or an ArrayBuffer');
}

/** The permission bits of a mode as Node takes it (an integer, or a string of octal digits). */
function permissionBits(mode: number | string, path: string): number {
  const value = typeof mode === 'string' && /^[0-7]+$/.test(mode) ? Number.parseInt(mode, 8) : mode;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new FsError('EINVAL', 'chmod', path, undefined, `${String(mode)} is not a mode (an integer, or octal digits)`);
  }
  return value & 0o7777;
}

function timeMs(time: TimeLike, syscall: string): number {
  // Node takes numbers as seconds since the epoch.
  const ms = time instanceof Date ? time.getTime() : typeof time === 'number' ? time * 1000 : Date.parse(time);
  if (!Number.isFinite(ms)) throw new FsError('EINVAL', syscall, undefined, undefined, `${String(time)} is not a time`);
  return ms;
}
