// The owner's view of a volume's tree: the medium plus every op the owner accepted and has not yet
// flushed. Names, kinds, sizes, modes, link targets and times only — file bytes stay in the
// medium and the journal. It is what Node's error semantics are checked against (fs-plan.ts),
// what symbolic links are resolved against (the medium never follows one), and what stat and
// readdir answer from.
//
// Loaded lazily, a directory or a file size at a time, so that the work per op does not grow
// with the number of files in the volume. That is sound because the owner is the only writer:
// an entry not loaded yet was touched by no op accepted since the owner began, so the medium
// holds it as it is now, at its path — but for one thing: a rename moves a subtree that may not
// be loaded, and until the rename is flushed the medium holds it at the old path. So a load
// first waits for the flush of the last rename (the barrier), and is discarded if another rename
// was accepted while it read.
import type { Op } from '../record/types.js';
import { DEFAULT_MODES, type DirEntry, type EntryStat } from './ports.js';

/** Most symbolic links one path resolution follows (Linux's limit): past it, ELOOP. */
export const MAX_LINKS = 40;

export interface FileEntry {
  readonly kind: 'file';
  /** Undefined until read from the medium (a file listed but not yet looked at). */
  size: number | undefined;
  /** Permission bits. */
  mode: number;
  atimeMs: number;
  mtimeMs: number;
  /** The LSN of the last op that changed the file; 0 when none since the owner began. */
  lsn: number;
}

export interface DirectoryEntry {
  readonly kind: 'directory';
  /** Undefined until listed from the medium. */
  children: Map<string, Entry> | undefined;
  mode: number;
  atimeMs: number;
  mtimeMs: number;
  lsn: number;
}

/** A symbolic link: its target is resolved here, by the owner (see resolve()). */
export interface SymlinkEntry {
  readonly kind: 'symlink';
  readonly target: string;
  atimeMs: number;
  mtimeMs: number;
  lsn: number;
}

export type Entry = FileEntry | DirectoryEntry | SymlinkEntry;

/** Where a path leads. */
export type Located =
  /** `parent` holds (or would hold) `name`; `entry` is what is there. The root has no parent. */
  | { readonly state: 'found'; readonly parent: DirectoryEntry | undefined; readonly name: string; readonly entry: Entry | undefined }
  /** A directory on the way is missing (ENOENT). `at` is its path. */
  | { readonly state: 'missing'; readonly at: string }
  /**
   * A file (or, for locate, a symbolic link: locate never follows one) stands where a directory
   * on the way should be (ENOTDIR).
   */
  | { readonly state: 'blocked'; readonly at: string };

/** Where a path leads once its symbolic links are followed. */
export type Resolved =
  /** `path`: the real path (no link on the way; a link at its end only when not followed). */
  | { readonly state: 'found'; readonly path: string }
  | Extract<Located, { state: 'missing' | 'blocked' }>
  /** More than MAX_LINKS links (ELOOP). */
  | { readonly state: 'loop' };

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
      if (next.kind !== 'directory') return { state: 'blocked', at: joinPath(names.slice(0, i + 1)) };
      directory = next;
    }
    return { state: 'found', parent: directory, name, entry: this.children(directory, names).get(name) };
  }

  /**
   * The real path `path` names: every symbolic link on the way followed, and the one at its end
   * too when `followLast` (Node's rules: stat follows it, lstat does not). A relative target is
   * taken from the link's directory, an absolute one from the volume's root; `..` at the root
   * stays there. Throws NeedsLoad when a directory on the way is not loaded yet.
   */
  resolve(path: string, followLast: boolean): Resolved {
    const pending = components(path);
    const real: DirectoryEntry[] = []; // the directories of the real path so far, below the root
    const names: string[] = [];
    let links = 0;
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      if (name === '..') {
        real.pop();
        names.pop();
      }
      if (name === '.' || name === '..') continue;
      const entry = this.children(real.at(-1) ?? this.#root, names).get(name);
      if (entry?.kind === 'symlink' && (pending.length > 0 || followLast)) {
        if (++links > MAX_LINKS) return { state: 'loop' };
        if (entry.target.startsWith('/')) {
          real.length = 0;
          names.length = 0;
        }
        pending.unshift(...components(entry.target));
        continue;
      }
      if (!entry || entry.kind !== 'directory' || pending.length === 0) return resolvedAt(names, name, entry, pending);
      real.push(entry);
      names.push(name);
    }
    return { state: 'found', path: joinPath(names) };
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

  /** What stat reports for an entry, a link itself for a link (a file's size must be loaded: see size()). */
  stat(entry: Entry, path: string): EntryStat {
    const times = { atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs };
    if (entry.kind === 'symlink') {
      return { kind: 'symlink', size: utf8.encode(entry.target).length, mode: DEFAULT_MODES.symlink, target: entry.target, ...times };
    }
    const size = entry.kind === 'file' ? this.size(entry, path) : 0;
    return { kind: entry.kind, size, mode: entry.mode, ...times };
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
        if (!slot.children.has(slot.name)) add(slot, newDirectory(lsn), undo);
        break;
      }
      case 'symlink': {
        const slot = this.#slot(op.path, lsn, undo);
        remove(slot, undo);
        add(slot, { kind: 'symlink', target: op.target, atimeMs: 0, mtimeMs: 0, lsn }, undo);
        break;
      }
      case 'chmod': {
        const slot = this.#slot(op.path);
        const entry = slot.children.get(slot.name)!;
        if (entry.kind === 'symlink') throw new Error(`namespace: chmod of the link ${op.path} (the planner should have followed it)`);
        keep(entry, undo);
        entry.mode = op.mode;
        entry.lsn = lsn;
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
      entry = { kind: 'file', size: 0, mode: DEFAULT_MODES.file, atimeMs: 0, mtimeMs: 0, lsn };
      add(slot, entry, undo);
    }
    if (entry.kind !== 'file') throw new Error(`namespace: ${path} is a ${entry.kind} (the planner should have refused the op)`);
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
        next = newDirectory(lsn);
        add({ children, name: part }, next, undo);
      }
      children = next?.kind === 'directory' ? next.children : undefined;
    }
    if (!children) throw new Error(`namespace: the parent of ${path} is not loaded (the planner should have loaded it)`);
    return { children, name };
  }
}

/**
 * Where a resolution ends at `name` (in the directory `names`): nothing below a missing entry or a
 * file can be a link, so the rest of the path is real as it stands, and locate() tells what is
 * there — unless a `..` in it would climb out of what is not a directory (ENOENT, ENOTDIR).
 */
function resolvedAt(names: readonly string[], name: string, entry: Entry | undefined, pending: readonly string[]): Resolved {
  const at = joinPath([...names, name]);
  if (pending.includes('..')) return { state: entry ? 'blocked' : 'missing', at };
  return { state: 'found', path: joinPath([...names, name, ...pending.filter((part) => part !== '.')]) };
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
  const fields = { atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs, lsn: entry.lsn };
  const kept = entry.kind === 'symlink' ? fields : entry.kind === 'file' ? { ...fields, size: entry.size, mode: entry.mode } : { ...fields, mode: entry.mode };
  undo.push(() => Object.assign(entry, kept));
}

export function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

export function joinPath(names: readonly string[]): string {
  return `/${names.join('/')}`;
}

const utf8 = new TextEncoder();

function newDirectory(lsn: number): DirectoryEntry {
  return { kind: 'directory', children: new Map(), mode: DEFAULT_MODES.directory, atimeMs: 0, mtimeMs: 0, lsn };
}

function unloadedDirectory(mode: number = DEFAULT_MODES.directory): DirectoryEntry {
  return { kind: 'directory', children: undefined, mode, atimeMs: 0, mtimeMs: 0, lsn: 0 };
}

function fill(directory: DirectoryEntry, listing: readonly DirEntry[]): boolean {
  const children = new Map<string, Entry>();
  for (const listed of listing) children.set(listed.name, listedEntry(listed));
  directory.children = children;
  return true;
}

/** An entry as a listing shows it: a file's size and a directory's children are loaded later. */
function listedEntry({ name, kind, mode, target }: DirEntry): Entry {
  switch (kind) {
    case 'file':
      return { kind, size: undefined, mode, atimeMs: 0, mtimeMs: 0, lsn: 0 };
    case 'directory':
      return unloadedDirectory(mode);
    case 'symlink':
      if (target === undefined) throw new Error(`namespace: the medium listed the link ${name} without its target`);
      return { kind, target, atimeMs: 0, mtimeMs: 0, lsn: 0 };
  }
}

function setSize(file: FileEntry, stat: EntryStat): boolean {
  file.size = stat.size;
  file.mode = stat.mode;
  file.atimeMs = stat.atimeMs;
  file.mtimeMs = stat.mtimeMs;
  return true;
}

/** What a load may fill in, to put back when the load is discarded. */
function copyForLoad(entry: Entry): Partial<Entry> {
  if (entry.kind === 'file') return { size: entry.size, mode: entry.mode, atimeMs: entry.atimeMs, mtimeMs: entry.mtimeMs };
  return entry.kind === 'directory' ? { children: entry.children } : {};
}

function restore(entry: Entry, snapshot: Partial<Entry>): void {
  Object.assign(entry, snapshot);
}

/** Ops that carry a nonzero mtime set it (as the medium does). */
function touch(entry: Entry, mtimeMs: number | undefined): void {
  if (mtimeMs) entry.mtimeMs = mtimeMs;
}
