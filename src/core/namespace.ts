// The owner's view of a volume's tree: the medium plus every op the owner accepted and has not yet
// flushed. Names, kinds, sizes and times only — file bytes stay in the medium and the journal.
// It is what Node's error semantics are checked against (fs-plan.ts) and what stat and readdir
// answer from.
//
// Loaded lazily, a directory or a file size at a time, so that the work per op does not grow
// with the number of files in the volume. That is sound because the owner is the only writer:
// an entry not loaded yet was touched by no op accepted since the owner began, so the medium
// holds it as it is now, at its path — but for one thing: a rename moves a subtree that may not
// be loaded, and until the rename is flushed the medium holds it at the old path. So a load
// first waits for the flush of the last rename (the barrier), and is discarded if another rename
// was accepted while it read.
import type { Op } from '../record/types.js';
import type { DirEntry, EntryStat } from './ports.js';

export interface FileEntry {
  readonly kind: 'file';
  /** Undefined until read from the medium (a file listed but not yet looked at). */
  size: number | undefined;
  atimeMs: number;
  mtimeMs: number;
  /** The LSN of the last op that changed the file; 0 when none since the owner began. */
  lsn: number;
}

export interface DirectoryEntry {
  readonly kind: 'directory';
  /** Undefined until listed from the medium. */
  children: Map<string, Entry> | undefined;
  atimeMs: number;
  mtimeMs: number;
  lsn: number;
}

export type Entry = FileEntry | DirectoryEntry;

/** Where a path leads. */
export type Located =
  /** `parent` holds (or would hold) `name`; `entry` is what is there. The root has no parent. */
  | { readonly state: 'found'; readonly parent: DirectoryEntry | undefined; readonly name: string; readonly entry: Entry | undefined }
  /** A directory on the way is missing (ENOENT). `at` is its path. */
  | { readonly state: 'missing'; readonly at: string }
  /** A file stands where a directory on the way should be (ENOTDIR). */
  | { readonly state: 'blocked'; readonly at: string };

/** The medium's side of the namespace: the owner passes reads of its medium through. */
export interface NamespaceSource {
  /** Resolves once the medium holds every op through `lsn` (the owner flushes at once). */
  applied(lsn: number): Promise<void>;
  list(path: string): Promise<DirEntry[] | undefined>;
  stat(path: string): Promise<EntryStat | undefined>;
}

/** Thrown by planning when something must be loaded first; the owner awaits `load` and plans again. */
export class NeedsLoad {
  constructor(readonly load: () => Promise<void>) {}
}

export class Namespace {
  readonly #source: NamespaceSource;
  #root: DirectoryEntry = unloadedDirectory();
  /** Loads wait for the medium to hold every op through this LSN (the last rename, or a reset). */
  #barrier: number;
  /** Renames accepted: a load that saw this change while it read is discarded. */
  #renames = 0;
  readonly #loading = new Map<Entry, Promise<void>>();

  /** `applied`: the medium holds every op through it (a new owner's base). */
  constructor(source: NamespaceSource, applied: number) {
    this.#source = source;
    this.#barrier = applied;
  }

  /** Loads may not read the medium until it holds `lsn`: the barrier after a rename. */
  get barrier(): number {
    return this.#barrier;
  }

  /** Where `path` leads; throws NeedsLoad when a directory on the way is not loaded yet. */
  locate(path: string): Located {
    const names = components(path);
    const name = names.pop();
    if (name === undefined) return { state: 'found', parent: undefined, name: '', entry: this.#root };
    let directory = this.#root;
    for (let i = 0; i < names.length; i++) {
      const child = this.children(directory, names.slice(0, i));
      const next = child.get(names[i]!);
      if (!next) return { state: 'missing', at: joinPath(names.slice(0, i + 1)) };
      if (next.kind === 'file') return { state: 'blocked', at: joinPath(names.slice(0, i + 1)) };
      directory = next;
    }
    return { state: 'found', parent: directory, name, entry: this.children(directory, names).get(name) };
  }

  /** A directory's children; throws NeedsLoad when it is not listed yet. `names`: its path. */
  children(directory: DirectoryEntry, names: readonly string[]): Map<string, Entry> {
    if (directory.children) return directory.children;
    throw new NeedsLoad(() => this.#load(directory, () => this.#source.list(joinPath(names)).then((listing) => listing && fill(directory, listing))));
  }

  /** A file's size; throws NeedsLoad when it is not read yet. */
  size(file: FileEntry, path: string): number {
    if (file.size !== undefined) return file.size;
    throw new NeedsLoad(() => this.#load(file, () => this.#source.stat(path).then((stat) => stat?.kind === 'file' && setSize(file, stat))));
  }

  /** What stat reports for an entry (a file's size must be loaded: see size()). */
  stat(entry: Entry, path: string): EntryStat {
    const size = entry.kind === 'file' ? this.size(entry, path) : 0;
    return { kind: entry.kind, size, atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs };
  }

  /**
   * Runs `read` on the medium once it is safe: after the barrier, and with no rename accepted
   * meanwhile (a path read before a rename flushed can name another entry by then). `read`
   * returns false when the medium had nothing there (a rename flushed meanwhile): try again.
   */
  async #load(entry: Entry, read: () => Promise<boolean | undefined>): Promise<void> {
    const running = this.#loading.get(entry);
    if (running) return running;
    const work = (async () => {
      for (;;) {
        await this.#source.applied(this.#barrier);
        const renames = this.#renames;
        const snapshot = copyForLoad(entry);
        const found = await read();
        if (this.#renames === renames && found) return;
        restore(entry, snapshot); // discard what the read filled in: it may be stale
      }
    })().finally(() => this.#loading.delete(entry));
    this.#loading.set(entry, work);
    return work;
  }

  // ------------------------------------------------------------------------------------------
  // Effects of accepted ops. The planner (fs-plan.ts) located and loaded everything these touch.

  /**
   * Records an op accepted at `lsn`, with the medium's replay-safe semantics (ports.ts). Returns
   * what undoes it: a journal write that fails takes its ops back (newest first).
   */
  apply(op: Op, lsn: number): () => void {
    const undo: Array<() => void> = [];
    switch (op.type) {
      case 'write':
      case 'truncate':
      case 'create': {
        const file = this.#file(op.path, lsn, undo);
        if (op.type === 'write' && op.data.length > 0) file.size = Math.max(file.size ?? 0, op.offset + op.data.length);
        if (op.type === 'truncate') file.size = op.size;
        if (op.type === 'create' && op.truncate) file.size = 0;
        touch(file, op.mtimeMs);
        break;
      }
      case 'mkdir': {
        const slot = this.#slot(op.path, lsn, undo);
        if (!slot.children.has(slot.name)) add(slot, { kind: 'directory', children: new Map(), atimeMs: 0, mtimeMs: 0, lsn }, undo);
        break;
      }
      case 'rename': {
        const from = this.#slot(op.path);
        const entry = from.children.get(from.name)!;
        remove(from, undo);
        const to = this.#slot(op.target, lsn, undo);
        if (to.children.has(to.name)) remove(to, undo);
        add(to, entry, undo);
        keep(entry, undo);
        entry.lsn = lsn;
        const barrier = this.#barrier;
        undo.push(() => (this.#barrier = barrier));
        this.#barrier = lsn;
        this.#renames++;
        break;
      }
      case 'unlink':
      case 'rmdir':
        remove(this.#slot(op.path), undo);
        break;
      case 'setTimes': {
        const slot = this.#slot(op.path);
        const entry = slot.children.get(slot.name)!;
        keep(entry, undo);
        entry.atimeMs = op.atimeMs;
        entry.mtimeMs = op.mtimeMs;
        entry.lsn = lsn;
        break;
      }
    }
    return () => {
      for (const step of undo.reverse()) step();
    };
  }

  /** The file at `path`, made if missing (its parents too). */
  #file(path: string, lsn: number, undo: Array<() => void>): FileEntry {
    const slot = this.#slot(path, lsn, undo);
    let entry = slot.children.get(slot.name);
    if (!entry) {
      entry = { kind: 'file', size: 0, atimeMs: 0, mtimeMs: 0, lsn };
      add(slot, entry, undo);
    }
    if (entry.kind !== 'file') throw new Error(`namespace: ${path} is a directory (the planner should have refused the op)`);
    keep(entry, undo);
    entry.lsn = lsn;
    return entry;
  }

  /** The loaded children map that holds `path`'s last name; with `lsn`, missing parents are made. */
  #slot(path: string, lsn?: number, undo: Array<() => void> = []): Slot {
    const names = components(path);
    const name = names.pop();
    if (name === undefined) throw new Error('namespace: an op on the root (the planner should have refused it)');
    let children = this.#root.children;
    for (const part of names) {
      if (!children) break;
      let next = children.get(part);
      if (!next && lsn !== undefined) {
        next = { kind: 'directory', children: new Map(), atimeMs: 0, mtimeMs: 0, lsn };
        add({ children, name: part }, next, undo);
      }
      children = next?.kind === 'directory' ? next.children : undefined;
    }
    if (!children) throw new Error(`namespace: the parent of ${path} is not loaded (the planner should have loaded it)`);
    return { children, name };
  }
}

interface Slot {
  readonly children: Map<string, Entry>;
  readonly name: string;
}

function add(slot: Slot, entry: Entry, undo: Array<() => void>): void {
  slot.children.set(slot.name, entry);
  undo.push(() => slot.children.delete(slot.name));
}

function remove(slot: Slot, undo: Array<() => void>): void {
  const entry = slot.children.get(slot.name);
  if (!entry) return;
  slot.children.delete(slot.name);
  undo.push(() => slot.children.set(slot.name, entry));
}

/** Remembers an entry's fields, to put them back. */
function keep(entry: Entry, undo: Array<() => void>): void {
  const fields = entry.kind === 'file'
    ? { size: entry.size, atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs, lsn: entry.lsn }
    : { atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs, lsn: entry.lsn };
  undo.push(() => Object.assign(entry, fields));
}

export function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

export function joinPath(names: readonly string[]): string {
  return `/${names.join('/')}`;
}

function unloadedDirectory(): DirectoryEntry {
  return { kind: 'directory', children: undefined, atimeMs: 0, mtimeMs: 0, lsn: 0 };
}

function fill(directory: DirectoryEntry, listing: readonly DirEntry[]): boolean {
  const children = new Map<string, Entry>();
  for (const { name, kind } of listing) {
    children.set(name, kind === 'file'
      ? { kind, size: undefined, atimeMs: 0, mtimeMs: 0, lsn: 0 }
      : unloadedDirectory());
  }
  directory.children = children;
  return true;
}

function setSize(file: FileEntry, stat: EntryStat): boolean {
  file.size = stat.size;
  file.atimeMs = stat.atimeMs;
  file.mtimeMs = stat.mtimeMs;
  return true;
}

/** What a load may fill in, to put back when the load is discarded. */
function copyForLoad(entry: Entry): Partial<Entry> {
  return entry.kind === 'file' ? { size: entry.size, atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs } : { children: entry.children };
}

function restore(entry: Entry, snapshot: Partial<Entry>): void {
  Object.assign(entry, snapshot);
}

/** Ops that carry a nonzero mtime set it (as the medium does). */
function touch(entry: Entry, mtimeMs: number | undefined): void {
  if (mtimeMs) entry.mtimeMs = mtimeMs;
}
