// One volume's directory tree in memory: the simulator's medium, and the model the medium is
// checked against. Ops are applied with the replay-safe semantics documented on `Medium`
// (src/core/ports.ts). Plain TypeScript: no clocks, no browser or Node globals.
import { DEFAULT_MODES, type DirEntry, type EntryStat } from '../core/ports.js';
import type { Op } from '../record/types.js';
import { crc32c } from '../record/crc32c.js';

export type { DirEntry, EntryStat } from '../core/ports.js';

interface FileEntry {
  readonly kind: 'file';
  /** Capacity grows by doubling so that many small appends stay cheap; bytes past `size` are stale. */
  buffer: Uint8Array;
  size: number;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
}

interface DirectoryEntry {
  readonly kind: 'directory';
  readonly children: Map<string, Entry>;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
}

/** A symbolic link: only its text. The medium never follows it (the owner resolves paths). */
interface SymlinkEntry {
  readonly kind: 'symlink';
  readonly target: string;
  readonly mode: number;
  atimeMs: number;
  mtimeMs: number;
}

type Entry = FileEntry | DirectoryEntry | SymlinkEntry;

/** A directory entry and the name of one of its children (which may be missing). */
interface Slot {
  readonly parent: DirectoryEntry;
  readonly name: string;
}

/**
 * The directory tree of one volume. Paths are absolute within the volume ("/a/b.txt"; "/" is the
 * root); empty components are ignored.
 *
 * Type conflicts (a write where a directory stands, a path through a file, unlink of a directory,
 * rmdir of a file, a rename into its own subtree, a non-recursive rmdir of a non-empty directory)
 * make `apply` skip the op without changing anything and without throwing. The owner checked
 * every op against its own model when it accepted it, so the medium meets a conflict only when
 * it replays an op over state that later ops already superseded; skipping is then the least
 * destructive deterministic choice, and it leaves the later ops (replayed after it) to decide.
 */
export class MemoryFs {
  #root: DirectoryEntry = newDirectory();

  /** False when the op was skipped: a conflict, or nothing there to act on (see the class comment). */
  apply(op: Op): boolean {
    switch (op.type) {
      case 'write':
        return this.#write(op.path, op.offset, op.data, op.mtimeMs);
      case 'truncate':
        return this.#truncate(op.path, op.size, op.mtimeMs);
      case 'create':
        return this.#create(op.path, op.truncate === true, op.mtimeMs);
      case 'mkdir':
        return this.#mkdir(op.path);
      case 'rename':
        return this.#rename(op.path, op.target);
      case 'unlink':
        return this.#remove(op.path, (entry) => entry.kind !== 'directory');
      case 'rmdir':
        return this.#remove(op.path, (entry) => entry.kind === 'directory' && (op.recursive === true || entry.children.size === 0));
      case 'setTimes':
        return this.#setTimes(op.path, op.atimeMs, op.mtimeMs);
      case 'symlink':
        return this.#symlink(op.path, op.target);
      case 'chmod':
        return this.#chmod(op.path, op.mode);
    }
  }

  stat(path: string): EntryStat | undefined {
    const entry = this.#find(path);
    return entry && statOf(entry);
  }

  /** A copy of up to `length` bytes of a file from `offset`; undefined when no file is there. */
  read(path: string, offset: number, length: number): Uint8Array | undefined {
    const entry = this.#find(path);
    if (entry?.kind !== 'file') return undefined;
    const start = Math.min(offset, entry.size);
    return entry.buffer.slice(start, Math.min(start + length, entry.size));
  }

  /** A directory's entries, sorted by name in code unit order; undefined when no directory is there. */
  list(path: string): DirEntry[] | undefined {
    const entry = this.#find(path);
    if (entry?.kind !== 'directory') return undefined;
    return [...entry.children].sort(([a], [b]) => byCodeUnits(a, b)).map(([name, child]) => {
      const { kind, mode, target } = statOf(child);
      return target === undefined ? { name, kind, mode } : { name, kind, mode, target };
    });
  }

  /**
   * The whole tree as canonical text: equal trees, and (but for CRC32C collisions in a file's
   * bytes) only they, give equal snapshots. A checksum rather than the bytes themselves, as the
   * simulator compares snapshots after every batch.
   */
  snapshot(): string {
    const lines: string[] = [];
    describe(this.#root, '/', lines);
    return lines.join('\n');
  }

  /** Bytes held by all files (for quota). */
  bytes(): number {
    let total = 0;
    const visit = (directory: DirectoryEntry): void => {
      for (const child of directory.children.values()) {
        if (child.kind === 'file') total += child.size;
        else if (child.kind === 'directory') visit(child);
      }
    };
    visit(this.#root);
    return total;
  }

  equals(other: MemoryFs): boolean {
    return this.snapshot() === other.snapshot();
  }

  clone(): MemoryFs {
    const copy = new MemoryFs();
    copy.#root = copyDirectory(this.#root);
    return copy;
  }

  #write(path: string, offset: number, data: Uint8Array, mtimeMs: number | undefined): boolean {
    const file = this.#fileFor(path);
    if (!file) return false;
    // An empty write writes nothing: like pwrite(2), it does not extend the file to `offset`.
    if (data.length > 0) {
      resize(file, Math.max(file.size, offset + data.length));
      file.buffer.set(data, offset);
    }
    touch(file, mtimeMs);
    return true;
  }

  #truncate(path: string, size: number, mtimeMs: number | undefined): boolean {
    const file = this.#fileFor(path);
    if (!file) return false;
    resize(file, size);
    touch(file, mtimeMs);
    return true;
  }

  #create(path: string, truncate: boolean, mtimeMs: number | undefined): boolean {
    const file = this.#fileFor(path);
    if (!file) return false;
    if (truncate) resize(file, 0);
    touch(file, mtimeMs);
    return true;
  }

  #mkdir(path: string): boolean {
    // Parents are made even without `recursive`: the owner already refused a mkdir whose parent
    // was missing, so a missing parent here means a replay, where making it is what keeps it safe.
    const slot = this.#slot(path, true);
    if (!slot || (slot.parent.children.get(slot.name)?.kind ?? 'directory') !== 'directory') return false;
    if (!slot.parent.children.has(slot.name)) slot.parent.children.set(slot.name, newDirectory());
    return true;
  }

  #rename(path: string, target: string): boolean {
    const from = this.#slot(path, false);
    const entry = from && from.parent.children.get(from.name);
    if (!from || !entry) return false; // already moved by an earlier run of this op
    if (isPrefix(components(path), components(target))) return false; // onto itself, or into its own subtree
    // The source is not on the target's path, so making the target's parents cannot disturb it.
    const to = this.#slot(target, true);
    if (!to) return false;
    from.parent.children.delete(from.name);
    to.parent.children.set(to.name, entry);
    return true;
  }

  #remove(path: string, removable: (entry: Entry) => boolean): boolean {
    const slot = this.#slot(path, false);
    const entry = slot && slot.parent.children.get(slot.name);
    if (!slot || !entry || !removable(entry)) return false;
    slot.parent.children.delete(slot.name);
    return true;
  }

  #setTimes(path: string, atimeMs: number, mtimeMs: number): boolean {
    const entry = this.#find(path);
    if (!entry) return false;
    entry.atimeMs = atimeMs;
    entry.mtimeMs = mtimeMs;
    return true;
  }

  #symlink(path: string, target: string): boolean {
    const slot = this.#slot(path, true);
    if (!slot || (slot.parent.children.get(slot.name)?.kind ?? 'symlink') !== 'symlink') return false;
    slot.parent.children.set(slot.name, { kind: 'symlink', target, mode: DEFAULT_MODES.symlink, atimeMs: 0, mtimeMs: 0 });
    return true;
  }

  #chmod(path: string, mode: number): boolean {
    const entry = this.#find(path);
    if (!entry || entry.kind === 'symlink') return false;
    entry.mode = mode;
    return true;
  }

  /** The file at `path`, made (with its parents) if missing; undefined on a type conflict. */
  #fileFor(path: string): FileEntry | undefined {
    const slot = this.#slot(path, true);
    if (!slot) return undefined;
    const entry = slot.parent.children.get(slot.name);
    if (entry) return entry.kind === 'file' ? entry : undefined;
    const file: FileEntry = { kind: 'file', buffer: new Uint8Array(0), size: 0, mode: DEFAULT_MODES.file, atimeMs: 0, mtimeMs: 0 };
    slot.parent.children.set(slot.name, file);
    return file;
  }

  /**
   * Where `path` lives: its parent directory and its name. With `makeParents`, missing parents are
   * made — but only once the whole path is known to be free of files on the way, so a skipped op
   * leaves no directories behind. Undefined for the root, for a path through a file, and (without
   * `makeParents`) for a path whose parent is missing.
   */
  #slot(path: string, makeParents: boolean): Slot | undefined {
    const names = components(path);
    const name = names.pop();
    if (name === undefined) return undefined;
    if (makeParents && !this.#walkable(names)) return undefined;
    let parent = this.#root;
    for (const part of names) {
      let child = parent.children.get(part);
      if (!child && makeParents) {
        child = newDirectory();
        parent.children.set(part, child);
      }
      if (child?.kind !== 'directory') return undefined;
      parent = child;
    }
    return { parent, name };
  }

  /** True when no file stands on the directory path `names` (missing directories are fine). */
  #walkable(names: readonly string[]): boolean {
    let directory = this.#root;
    for (const part of names) {
      const child = directory.children.get(part);
      if (!child) return true;
      if (child.kind !== 'directory') return false;
      directory = child;
    }
    return true;
  }

  #find(path: string): Entry | undefined {
    let entry: Entry | undefined = this.#root;
    for (const part of components(path)) {
      if (entry?.kind !== 'directory') return undefined;
      entry = entry.children.get(part);
    }
    return entry;
  }
}

function statOf(entry: Entry): EntryStat {
  const times = { atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs };
  if (entry.kind === 'symlink') return { kind: 'symlink', size: utf8Length(entry.target), mode: entry.mode, target: entry.target, ...times };
  return { kind: entry.kind, size: entry.kind === 'file' ? entry.size : 0, mode: entry.mode, ...times };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

/** Compares strings by UTF-16 code unit (as `<` does), not by code point or locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPrefix(prefix: readonly string[], names: readonly string[]): boolean {
  return prefix.length <= names.length && prefix.every((part, i) => names[i] === part);
}

function newDirectory(): DirectoryEntry {
  return { kind: 'directory', children: new Map(), mode: DEFAULT_MODES.directory, atimeMs: 0, mtimeMs: 0 };
}

/** Sets the size; bytes that become part of the file read as zeros. */
function resize(file: FileEntry, size: number): void {
  if (size > file.buffer.length) {
    const buffer = new Uint8Array(Math.max(size, file.buffer.length * 2, 64));
    buffer.set(file.buffer.subarray(0, file.size));
    file.buffer = buffer;
  } else if (size > file.size) {
    file.buffer.fill(0, file.size, size); // stale bytes from before a shrink
  }
  file.size = size;
}

/** Ops that carry a nonzero mtime set it; without one, times stay as they are (no clock here). */
function touch(entry: Entry, mtimeMs: number | undefined): void {
  if (mtimeMs) entry.mtimeMs = mtimeMs;
}

function copyDirectory(directory: DirectoryEntry): DirectoryEntry {
  const children = new Map<string, Entry>();
  for (const [name, child] of directory.children) {
    children.set(name, child.kind === 'file' ? { ...child, buffer: child.buffer.slice(0, child.size) } : child.kind === 'symlink' ? { ...child } : copyDirectory(child));
  }
  return { ...directory, children };
}

/** One line per entry, depth first in sorted name order; names are JSON-quoted so any name is safe. */
function describe(entry: Entry, path: string, lines: string[]): void {
  const times = `${entry.atimeMs} ${entry.mtimeMs} ${entry.mode.toString(8)}`;
  if (entry.kind === 'symlink') {
    lines.push(`symlink ${JSON.stringify(path)} ${times} ${JSON.stringify(entry.target)}`);
    return;
  }
  if (entry.kind === 'file') {
    lines.push(`file ${JSON.stringify(path)} ${times} ${entry.size} ${crc32c(entry.buffer.subarray(0, entry.size)).toString(16)}`);
    return;
  }
  lines.push(`directory ${JSON.stringify(path)} ${times}`);
  for (const name of [...entry.children.keys()].sort()) {
    const child = entry.children.get(name);
    if (child) describe(child, path === '/' ? `/${name}` : `${path}/${name}`, lines);
  }
}

