// Stats and directory entries shaped like Node's (and lightning-fs's): what isomorphic-git and
// other fs users read — size, mode, times, ino, and the type predicates.
import type { FsStat } from '../core/fs-request.js';
import type { EntryKind } from '../core/ports.js';

/** The type bits of `mode` (S_IFREG, S_IFDIR, S_IFLNK); the owner keeps the permission bits. */
const TYPE_BITS: Readonly<Record<EntryKind, number>> = { file: 0o100000, directory: 0o040000, symlink: 0o120000 };

/** lightning-fs's names for the kinds (Stats.type). */
const TYPE_NAMES = { file: 'file', directory: 'dir', symlink: 'symlink' } as const;

export class Stats {
  readonly dev = 1;
  readonly ino: number;
  readonly mode: number;
  readonly nlink = 1;
  readonly uid = 1;
  readonly gid = 1;
  readonly rdev = 0;
  readonly size: number;
  readonly blksize = 4096;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  /** lightning-fs's name for the kind. */
  readonly type: 'file' | 'dir' | 'symlink';

  constructor(stat: FsStat, path: string) {
    this.type = TYPE_NAMES[stat.kind];
    this.mode = TYPE_BITS[stat.kind] | stat.mode;
    this.size = stat.size;
    this.blocks = Math.ceil(stat.size / 512);
    this.ino = inodeOf(path);
    this.atimeMs = stat.atimeMs;
    this.mtimeMs = stat.mtimeMs;
    this.ctimeMs = stat.mtimeMs;
    this.birthtimeMs = stat.mtimeMs;
  }

  get atime(): Date {
    return new Date(this.atimeMs);
  }

  get mtime(): Date {
    return new Date(this.mtimeMs);
  }

  get ctime(): Date {
    return new Date(this.ctimeMs);
  }

  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }

  isFile(): boolean {
    return this.type === 'file';
  }

  isDirectory(): boolean {
    return this.type === 'dir';
  }

  isSymbolicLink(): boolean {
    return this.type === 'symlink';
  }

  isBlockDevice(): boolean {
    return false;
  }

  isCharacterDevice(): boolean {
    return false;
  }

  isFIFO(): boolean {
    return false;
  }

  isSocket(): boolean {
    return false;
  }
}

export class Dirent {
  readonly name: string;
  readonly parentPath: string;
  readonly #kind: EntryKind;

  constructor(name: string, kind: EntryKind, parentPath: string) {
    this.name = name;
    this.#kind = kind;
    this.parentPath = parentPath;
  }

  /** Node's older name for parentPath. */
  get path(): string {
    return this.parentPath;
  }

  isFile(): boolean {
    return this.#kind === 'file';
  }

  isDirectory(): boolean {
    return this.#kind === 'directory';
  }

  isSymbolicLink(): boolean {
    return this.#kind === 'symlink';
  }
}

/**
 * An inode number for a path: stable while the entry stays at its path (a rename looks like a new
 * file, which only makes a checker such as isomorphic-git's status look at the file's bytes).
 * FNV-1a, kept below 2^31 like lightning-fs's.
 */
function inodeOf(path: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  return (hash >>> 1) || 1;
}
