// The medium's file work, in a dedicated module worker: OPFS through sync access handles (the fast
// path; they exist only in dedicated workers), or through writables where those are missing.
// The page side is OpfsMedium (opfs-medium.ts), which talks to this worker with comlink.
//
// Layout under the OPFS root, for a cluster C and a volume V:
//   tandemfs/C/vV/         the volume's files and directories ("/" of the volume)
//   tandemfs/C/vV.state.a  the volume's state (epoch, applied, epochs, times set by set-times ops,
//   tandemfs/C/vV.state.b  modes and link marks, a pending directory rename, the newest op ids),
//                          in two slots: see "Volume state"
//   tandemfs/C/vV.ops/N    the op ids applied at recent LSNs, a ring in 8 segment files: see
//                          "Recently applied op ids" below
//
// Every claim and apply of a volume runs inside the Web Lock `tandemfs:medium:C:V`. Web Locks are
// origin-wide, so a claim from another tab waits for an apply in progress here, and the epoch the
// apply checked cannot change under it: that is what makes fencing hold across tabs. A context
// that dies loses its locks, and its file handles are freed some 25–65 ms later, which is why
// opening a file retries while another context still holds it.
//
// Times: OPFS cannot set a file's times, so the state keeps the times that set-times ops (utimes)
// set, by path, and carries them through renames and forgets them on removal. Nothing else puts
// times there: a write, truncate or create reports OPFS's own lastModified (when it reached the
// medium; the mtimeMs such ops carry is not used), and drops a stored mtime of the file it changes.
// So the state grows with the paths given times, not with the files written: every batch rewrites
// the whole state, and a state holding every written file's time made each batch cost more the
// more files the volume had ever had.
//
// Modes and symbolic links: OPFS has neither. The state keeps, by path, the mode of each entry a
// chmod op gave a mode other than the default (DEFAULT_MODES), and a mark on each symbolic link,
// which is an OPFS file holding its target's UTF-8: listed, moved and removed as a file is, and
// told apart by the mark. Both follow renames and are forgotten on removal, as times are, so the
// state grows with the links and the chmod'ed entries, not with the files.
import { expose, transfer } from 'comlink';
import {
  DEFAULT_MODES, RECENT_OPS, type DirEntry, type EntryStat, type EpochStart, type LsnOp, type VolumeState,
} from '../core/ports.js';
import { FencedError, MediumError, TandemError } from '../errors.js';
import type { Op } from '../record/types.js';
import { openWritable } from './opfs-writable.js';

/** How files are written: sync access handles, or the writable fallback. */
export type Access = 'sync' | 'writable';

/** What `failNext` makes the next applies fail with. */
export type FaultKind = 'io' | 'quota' | 'broken';

/**
 * Where `failNext` makes an apply fail: before it touches any file ('start'), or once its files
 * (and any op ids bound for the ring) are flushed but before its state is written ('state': a
 * batch cut short).
 */
export type FaultPoint = 'start' | 'state';

/**
 * A claim as it crosses to the page: `recent` is ClaimedState.recent flattened to
 * [opId, lsn, opId, lsn, ...], one transferable buffer rather than up to 65,536 cloned arrays.
 */
export interface WireClaim extends VolumeState {
  readonly recent: Float64Array<ArrayBuffer>;
}

/** An error as it crosses to the page: a TandemError's fields, rebuilt there as the typed error. */
export interface WireError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One open file of a volume. */
export interface FileAccess {
  /** Writes `data` at `at`, zero-filling any gap after the end of the file. */
  write(data: Uint8Array, at: number): Promise<void>;
  truncate(size: number): Promise<void>;
  /** Makes every change durable and releases the file to other contexts. */
  commit(): Promise<void>;
  /** Releases the file after a failure. */
  abandon(): Promise<void>;
  /** Makes every change durable and keeps the file open: only files that may stay open have it. */
  flush?(): Promise<void>;
}

// The sync access handle and `move()` are missing from TypeScript's DOM lib (they are in its
// WebWorker lib, which cannot share a program with the DOM lib this project compiles against).
interface SyncAccessHandle {
  write(data: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

interface WorkerFileHandle extends FileSystemFileHandle {
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
  /** Chromium moves files (replacing a file at the target) but has no move() for directories. */
  move(parent: FileSystemDirectoryHandle, name: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The worker's API

/**
 * How long a volume's files stay open after its last claim or apply (sync access handles only).
 * Opening a file costs about 1 ms of round trips (look-up, handle, close) against about 0.2 ms to
 * write 4 KiB and flush it, so an owner whose batches each opened their files again spent most of
 * its time, and most of a two-core machine's, opening files. A sync access handle is exclusive
 * across the origin, which is what makes holding them safe and what bounds it: while both state
 * slots are open here nobody else can write them, so the state read once is still the state on
 * disk; and a node taking the volume over waits (see whenFree) until they are closed — at most
 * this long after the old owner's last batch, or 25–65 ms after its tab died.
 */
const HOLD_MS = 50;

/** The most files of one volume kept open between batches; past it they are all closed. */
const MAX_HELD_FILES = 64;

/** What the worker keeps open for a volume between batches. */
interface Held {
  readonly slots: StateSlots;
  readonly ring: OpIdRing;
  readonly files: OpenFiles;
  timer?: ReturnType<typeof setTimeout>;
}

export class MediumWorker {
  #cluster = '';
  #clusterDir: FileSystemDirectoryHandle | undefined;
  #access: Access = 'sync';
  #faults: { left: number; kind: FaultKind; at: FaultPoint } = { left: 0, kind: 'io', at: 'start' };
  #held = new Map<number, Held>();

  /** Binds the worker to a cluster; 'auto' takes sync access handles where they exist. */
  open(cluster: string, access: Access | 'auto'): Promise<Access> {
    return overWire(async () => {
      const root = await navigator.storage.getDirectory();
      const tandem = await root.getDirectoryHandle('tandemfs', { create: true });
      this.#clusterDir = await tandem.getDirectoryHandle(cluster, { create: true });
      this.#cluster = cluster;
      const hasSync = 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
      this.#access = access === 'auto' ? (hasSync ? 'sync' : 'writable') : access;
      return this.#access;
    });
  }

  state(volume: number): Promise<VolumeState> {
    // No lock: a state write in progress elsewhere leaves the previous slot intact to read.
    return overWire(async () => publicState(await this.#slots(volume).read()));
  }

  claim(volume: number, epoch: number, base: number): Promise<WireClaim> {
    return overWire(() =>
      this.#locked(volume, async ({ slots, ring }) => {
        const state = await slots.read();
        if (epoch <= state.epoch) throw new FencedError(volume, epoch, state.epoch);
        await this.#finishPendingRename(volume, slots);
        // Read before the claim is written: a claim that fails leaves the epoch as it was.
        const recent = await ring.read(state.applied, slots.state.opIds ?? []);
        const next: StoredState = { ...slots.state, epoch, epochs: [...state.epochs, { epoch, base }] };
        await slots.write(next, 0); // no spare: in place, even while the origin is out of space
        return transfer({ ...publicState(next), recent }, [recent.buffer]);
      }),
    );
  }

  apply(volume: number, epoch: number, ops: readonly LsnOp[]): Promise<void> {
    return overWire(() =>
      this.#locked(volume, async ({ slots, ring, files }) => {
        const state = await slots.read();
        if (epoch !== state.epoch) throw new FencedError(volume, epoch, state.epoch);
        await this.#finishPendingRename(volume, slots);
        const fresh = ops.filter(({ lsn }) => lsn > state.applied);
        const last = fresh.at(-1);
        if (!last) return;
        this.#takeFault('start');
        const batch = new Batch(await this.#volumeRoot(volume), this.#opener(), files, pathRecordsOf(slots.state), (pending, records) =>
          slots.write({ ...slots.state, ...records, pending }),
        );
        try {
          const ops = coalesce(fresh.map((item) => item.op));
          await batch.open(ops);
          for (const op of ops) await batch.apply(op);
          await batch.commit();
        } catch (error) {
          await batch.abandon();
          throw error;
        }
        const opIds = await ring.remember(slots.state.opIds ?? [], fresh);
        this.#takeFault('state');
        // Only now, with every touched file and the op ids flushed, may the batch count as applied.
        await slots.write({ ...slots.state, applied: last.lsn, ...batch.records(), pending: undefined, opIds });
      }),
    );
  }

  // Reads take no lock (see `settled` for what they can meet).

  /** Up to `length` bytes of a file from `offset`; undefined when no file is at `path`. */
  read(volume: number, path: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return overWire(async () => {
      const bytes = await settled(() => this.#readOnce(volume, path, offset, length));
      return bytes && transfer(bytes, [bytes.buffer]);
    });
  }

  /**
   * What is at `path`. Times set by set-times ops are kept in the volume state (OPFS cannot set
   * times); a time they did not set is a file's OPFS lastModified, or 0 for a directory. Modes
   * and link marks are in the state too (see the top).
   */
  stat(volume: number, path: string): Promise<EntryStat | undefined> {
    return overWire(() => settled(() => this.#statOnce(volume, path)));
  }

  /** The entries of a directory, sorted by name (code unit order); undefined when no directory is at `path`. */
  list(volume: number, path: string): Promise<DirEntry[] | undefined> {
    return overWire(() => settled(() => this.#listOnce(volume, path)));
  }

  /**
   * Fault injection for tests: the next `count` applies that have ops to apply fail, before
   * touching any file, or (`at` 'state') just before writing the state.
   */
  failNext(count: number, kind: FaultKind, at: FaultPoint = 'start'): void {
    this.#faults = { left: count, kind, at };
  }

  #takeFault(at: FaultPoint): void {
    if (this.#faults.left === 0 || this.#faults.at !== at) return;
    this.#faults.left -= 1;
    const { kind } = this.#faults;
    if (kind === 'broken') throw new MediumError('injected fault: broken I/O', { permanent: true, injected: true });
    throw new DOMException(`injected fault: ${kind}`, kind === 'quota' ? 'QuotaExceededError' : 'UnknownError');
  }

  /**
   * Runs `work` in the volume's Web Lock, with what is held open for the volume. Held files are
   * closed HOLD_MS after the last call (at once on the writable path), and after any failure: a
   * failed batch may leave a file in any state, so the next one starts afresh.
   */
  #locked<T>(volume: number, work: (held: Held) => Promise<T>): Promise<T> {
    return navigator.locks.request(`tandemfs:medium:${this.#cluster}:${volume}`, async () => {
      const keep = this.#access === 'sync';
      let held = this.#held.get(volume);
      if (!held) {
        held = { slots: this.#slots(volume), ring: this.#ring(volume, keep), files: new OpenFiles(keep) };
        this.#held.set(volume, held);
      }
      clearTimeout(held.timer);
      try {
        if (keep) await held.slots.hold();
        return await work(held);
      } catch (error) {
        await this.#release(volume);
        throw error;
      } finally {
        if (!keep) await this.#release(volume);
        else if (this.#held.get(volume) === held) held.timer = setTimeout(() => void this.#release(volume), HOLD_MS);
      }
    });
  }

  /** Closes what is held open for the volume: other contexts may write its files again. */
  async #release(volume: number): Promise<void> {
    const held = this.#held.get(volume);
    if (!held) return;
    this.#held.delete(volume);
    clearTimeout(held.timer);
    await Promise.allSettled([held.files.close(), held.slots.release(), held.ring.release()]);
  }

  #slots(volume: number): StateSlots {
    return new StateSlots(this.#clusterRoot(), `v${volume}`, this.#opener());
  }

  #ring(volume: number, keep: boolean): OpIdRing {
    return new OpIdRing(this.#clusterRoot(), `v${volume}.ops`, this.#opener(), keep);
  }

  #clusterRoot(): FileSystemDirectoryHandle {
    if (!this.#clusterDir) throw new MediumError('the OPFS medium worker was not opened', { permanent: true });
    return this.#clusterDir;
  }

  #volumeRoot(volume: number): Promise<FileSystemDirectoryHandle> {
    return this.#clusterRoot().getDirectoryHandle(`v${volume}`, { create: true });
  }

  /** The entry at `path`; a volume's root always exists, even before its first write. */
  async #find(volume: number, path: string): Promise<FileSystemHandleUnion | undefined> {
    const names = components(path);
    const name = names.pop();
    if (name === undefined) return this.#volumeRoot(volume);
    const root = await childDirectory(this.#clusterRoot(), `v${volume}`, false);
    const parent = root && (await walk(root, names, false));
    return parent && (await entryOf(parent, name));
  }

  async #readOnce(volume: number, path: string, offset: number, length: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const entry = await this.#find(volume, path);
    if (entry?.kind !== 'file') return undefined;
    const file = await entry.getFile();
    const start = Math.min(offset, file.size);
    return new Uint8Array(await file.slice(start, Math.min(start + length, file.size)).arrayBuffer());
  }

  async #statOnce(volume: number, path: string): Promise<EntryStat | undefined> {
    const entry = await this.#find(volume, path);
    if (!entry) return undefined;
    const key = canonical(components(path));
    const state = await this.#slots(volume).read();
    const times = state.times[key];
    const { kind, mode, target } = await described(entry, state.meta?.[key]);
    if (entry.kind === 'directory') return { kind: 'directory', size: 0, mode, atimeMs: times?.atimeMs ?? 0, mtimeMs: times?.mtimeMs ?? 0 };
    const file = await entry.getFile();
    const stat = { kind, size: file.size, mode, atimeMs: times?.atimeMs ?? file.lastModified, mtimeMs: times?.mtimeMs ?? file.lastModified };
    return target === undefined ? stat : { ...stat, target };
  }

  async #listOnce(volume: number, path: string): Promise<DirEntry[] | undefined> {
    const entry = await this.#find(volume, path);
    if (entry?.kind !== 'directory') return undefined;
    const meta = (await this.#slots(volume).read()).meta ?? {};
    const names = components(path);
    const entries: DirEntry[] = [];
    for await (const [name, child] of entry.entries()) entries.push({ name, ...(await described(child, meta[canonical([...names, name])])) });
    return entries.sort((a, b) => byCodeUnits(a.name, b.name));
  }

  #opener(): (file: FileSystemFileHandle) => Promise<FileAccess> {
    return this.#access === 'sync' ? openSync : openWritable;
  }

  /**
   * Finishes a directory rename that a crash or an I/O failure cut short (its marker is in the
   * state), then clears the marker: the rename becomes whole before anything else touches the
   * volume, and a later op that makes its source path again is not swept into its target.
   */
  async #finishPendingRename(volume: number, slots: StateSlots): Promise<void> {
    const { pending } = slots.state;
    if (!pending) return;
    await moveDirectory(await this.#volumeRoot(volume), components(pending.from), components(pending.to));
    await slots.write({ ...slots.state, pending: undefined });
  }
}

type FileSystemHandleUnion = FileSystemFileHandle | FileSystemDirectoryHandle;

/** An entry's kind, mode and (a link's) target, from its handle and its record in the state. */
async function described(entry: FileSystemHandleUnion, meta: EntryMeta | undefined): Promise<Omit<DirEntry, 'name'>> {
  if (entry.kind === 'file' && meta?.link) return { kind: 'symlink', mode: DEFAULT_MODES.symlink, target: await (await entry.getFile()).text() };
  return { kind: entry.kind, mode: meta?.mode ?? DEFAULT_MODES[entry.kind] };
}

// ---------------------------------------------------------------------------------------------
// Errors across the worker boundary

/**
 * Runs one API call and turns any error into a plain WireError: comlink clones a thrown Error to
 * a bare Error (no code, no data), but passes a thrown plain object through as it is.
 */
async function overWire<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const wire: WireError = (error instanceof TandemError ? error : asMediumError(error)).toJSON();
    throw wire;
  }
}

function asMediumError(error: unknown): MediumError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'QuotaExceededError') return new MediumError(`OPFS quota exceeded: ${message}`, { permanent: false, quota: true, name });
  return new MediumError(`OPFS I/O failed: ${name}: ${message}`, { permanent: false, name });
}

/**
 * Runs a read (read, stat, list), from its look-up, until it does not meet a batch at work.
 * Reads take no lock, so one can meet a batch writing a file this instant: Chromium then fails it
 * with NotReadableError (the file changed under its snapshot), or, while a writable swaps its copy
 * in or a rename moves entries, NotFoundError. Such a read is taken again a moment later.
 */
async function settled<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      const name = nameOf(error);
      if ((name !== 'NotReadableError' && name !== 'NotFoundError') || attempt === READ_ATTEMPTS) throw error;
      await sleep(attempt * 5);
    }
  }
}

const READ_ATTEMPTS = 5;

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

// ---------------------------------------------------------------------------------------------
// File access

/** Sync access handles: writes land in the file at once; `flush()` makes them durable. */
async function openSync(file: FileSystemFileHandle): Promise<FileAccess> {
  const handle = await (file as WorkerFileHandle).createSyncAccessHandle();
  return {
    async write(data, at) {
      const written = handle.write(data, { at });
      if (written !== data.length) throw new MediumError(`short write: ${written} of ${data.length} bytes`, { permanent: false });
    },
    async truncate(size) {
      handle.truncate(size);
    },
    async commit() {
      try {
        handle.flush();
      } finally {
        handle.close(); // a handle left open would lock this worker itself out of the file
      }
    },
    async abandon() {
      handle.close();
    },
    async flush() {
      handle.flush();
    },
  };
}

const BUSY_LIMIT_MS = 2_000;

/**
 * Runs `attempt` until no other context holds the file: a sync access handle is exclusive across
 * the origin, and a crashed tab's handles are freed only 25–65 ms after its death. Past ~2 s it
 * gives up with a transient MediumError (the owner retries the flush).
 */
async function whenFree<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  const start = performance.now();
  for (let delay = 1; ; delay = Math.min(delay * 2, 128)) {
    try {
      return await attempt();
    } catch (error) {
      if (nameOf(error) !== 'NoModificationAllowedError') throw error;
      if (performance.now() - start + delay > BUSY_LIMIT_MS) {
        throw new MediumError(`${what} is held by another context`, { permanent: false, busy: true });
      }
      await sleep(delay);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Volume state

/**
 * Times a set-times op set on an entry. A write, truncate or create of the file since then drops
 * `mtimeMs` (OPFS's lastModified stands for it), and keeps `atimeMs`: none of them reads the file.
 */
interface Times {
  atimeMs?: number;
  mtimeMs?: number;
}

/**
 * What OPFS cannot hold of an entry (see the top): a mode other than its kind's default, and the
 * mark of a symbolic link (an OPFS file holding the target).
 */
interface EntryMeta {
  mode?: number;
  link?: true;
}

/** The per-path records of a volume: they follow renames and go with removals. */
interface PathRecords {
  readonly times: Readonly<Record<string, Times>>;
  readonly meta: Readonly<Record<string, EntryMeta>>;
}

/** The state's records as they are: a Batch works on copies of its own. */
function pathRecordsOf(state: StoredState): PathRecords {
  return { times: state.times, meta: state.meta ?? {} };
}

/** A directory rename under way: its target was cleared and its entries are being moved. */
interface PendingRename {
  readonly from: string;
  readonly to: string;
}

interface StoredState {
  readonly epoch: number;
  readonly applied: number;
  readonly epochs: readonly EpochStart[];
  /** Times set by set-times ops, by canonical path: never one per file written (see the top). */
  readonly times: Readonly<Record<string, Times>>;
  /** Modes and link marks, by canonical path: only entries that have one (see the top). */
  readonly meta?: Readonly<Record<string, EntryMeta>>;
  readonly pending?: PendingRename | undefined;
  /**
   * [opId, lsn, opId, lsn, ...] of the ops applied since the op-id ring last took them (at most
   * STATE_OP_IDS), newer than the ring's entries for their LSNs: see OpIdRing.
   */
  readonly opIds?: readonly number[];
}

const FRESH: StoredState = { epoch: 0, applied: 0, epochs: [], times: {} };

function publicState({ epoch, applied, epochs }: StoredState): VolumeState {
  return { epoch, applied, epochs };
}

// A slot: magic u32 | version u32 | sequence u64 | body length u32 | CRC32C u32 | body (JSON),
// little-endian; the CRC32C covers the first 20 bytes and the body.
const SLOT_MAGIC = 0x5353_4654; // "TFSS"
const SLOT_VERSION = 1;
const SLOT_HEADER = 24;
/**
 * Both slot files have one size, a whole number of these, and never shrink: a state rewritten
 * within it needs no new quota (OPFS charges a write only for the bytes it adds to a file), so
 * that a claim (the fence) still succeeds while the origin is out of space. An owner whose
 * journal fails for quota raises its epoch that way before it reports the failure.
 */
const SLOT_BLOCK = 64 * 1024;
/**
 * Room a write other than a claim leaves free in the slots, growing them when it would not: a
 * claim adds some 30 bytes (its epoch's start), so ~130 claims in a row fit without new quota.
 */
const SLOT_SPARE = 4 * 1024;
const SLOT_NAMES = ['a', 'b'] as const;
type SlotName = (typeof SLOT_NAMES)[number];

/** A slot's content; `slot` is undefined for a volume without a state yet. */
interface Slot {
  readonly slot: SlotName | undefined;
  readonly sequence: number;
  readonly state: StoredState;
}

const NO_SLOT: Slot = { slot: undefined, sequence: 0, state: FRESH };

/**
 * A volume's state in two slots, each with a sequence number and a CRC32C. A write goes to the
 * slot that does NOT hold the newest valid state, with the next sequence number, and is flushed;
 * a reader takes the valid slot with the highest sequence. That is atomic without a rename: until
 * the new slot is complete, its CRC32C fails (or its sequence is the older one) and readers get
 * the previous state, which no write ever touches; once it is complete, they get the new one. A
 * crash mid-write therefore leaves the old state or the new one, never a mixture.
 */
class StateSlots {
  readonly #dir: FileSystemDirectoryHandle;
  readonly #prefix: string;
  readonly #open: (file: FileSystemFileHandle) => Promise<FileAccess>;
  #newest: Slot = NO_SLOT;
  /** The slot files' sizes (0: missing), as last read or written. */
  #sizes: Record<SlotName, number> = { a: 0, b: 0 };
  /** Both slots, open (see HOLD_MS): nobody else can write them meanwhile. */
  #held: Record<SlotName, FileAccess> | undefined;
  /** #newest is what the held slots hold: it was read or written while they were open. */
  #current = false;

  constructor(dir: FileSystemDirectoryHandle, prefix: string, open: (file: FileSystemFileHandle) => Promise<FileAccess>) {
    this.#dir = dir;
    this.#prefix = prefix;
    this.#open = open;
  }

  /** Opens both slots and keeps them open, so that the state read once stays current. */
  async hold(): Promise<void> {
    if (this.#held) return;
    const a = await this.#openSlot('a');
    try {
      this.#held = { a, b: await this.#openSlot('b') };
    } catch (error) {
      await a.abandon();
      throw error;
    }
    this.#current = false;
  }

  /** Closes the held slots (every write to them was flushed). */
  async release(): Promise<void> {
    const held = this.#held;
    this.#held = undefined;
    this.#current = false;
    if (held) await Promise.allSettled([held.a.abandon(), held.b.abandon()]);
  }

  async #openSlot(slot: SlotName): Promise<FileAccess> {
    const handle = await this.#dir.getFileHandle(this.#fileName(slot), { create: true });
    return whenFree(this.#fileName(slot), () => this.#open(handle));
  }

  /** The state as last read or written through this object. */
  get state(): StoredState {
    return this.#newest.state;
  }

  async read(): Promise<StoredState> {
    if (this.#held && this.#current) return this.#newest.state;
    for (let attempt = 1; ; attempt += 1) {
      const read = await Promise.all(SLOT_NAMES.map((slot) => this.#readSlot(slot)));
      const found = read.map(({ slot }) => slot);
      const valid = found.filter((slot) => typeof slot === 'object');
      this.#sizes = { a: read[0]!.size, b: read[1]!.size };
      // One damaged slot beside a missing one is a first write that never completed: no state yet.
      if (valid.length > 0 || !found.every((slot) => slot === 'damaged')) {
        this.#newest = valid.reduce<Slot>((a, b) => (b.sequence > a.sequence ? b : a), NO_SLOT);
        this.#current = this.#held !== undefined;
        return this.#newest.state;
      }
      // Both damaged. A reader without the lock (state, stat) may have met two writes in a row,
      // one in each slot: that passes, real damage does not. Starting over at epoch 0 would undo
      // fencing, so lasting damage to both slots stops the volume.
      if (attempt === 3) throw new MediumError(`both state slots of ${this.#prefix} are damaged`, { permanent: true });
      await sleep(10);
    }
  }

  /**
   * Writes the state to the older slot. `spare`: the room to leave free (SLOT_SPARE), growing both
   * slots when there is less; a claim passes 0, and so needs new quota only when it does not fit.
   */
  async write(state: StoredState, spare = SLOT_SPARE): Promise<void> {
    const slot: SlotName = this.#newest.slot === 'a' ? 'b' : 'a';
    const sequence = this.#newest.sequence + 1;
    const bytes = encodeSlot(await loadCrc32c(), sequence, state);
    const size = Math.max(this.#sizes.a, this.#sizes.b, Math.ceil((bytes.length + spare) / SLOT_BLOCK) * SLOT_BLOCK);
    // The other slot (the newest state's, if there is one) grows first, with zeros after its
    // state (the header's body length tells the state from what follows): if that fails for
    // quota, nothing has changed.
    const other: SlotName = slot === 'a' ? 'b' : 'a';
    if (this.#sizes[other] < size) await this.#change(other, size, (file) => file.truncate(size));
    await this.#change(slot, size, async (file) => {
      await file.write(bytes, 0);
      await file.truncate(size);
    });
    this.#newest = { slot, sequence, state };
  }

  /** Runs `work` on a slot's file (held, or opened for it), makes it durable; the file is `size` long then. */
  async #change(slot: SlotName, size: number, work: (file: FileAccess) => Promise<void>): Promise<void> {
    const held = this.#held?.[slot];
    const file = held ?? (await this.#openSlot(slot));
    try {
      await work(file);
    } catch (error) {
      if (!held) await file.abandon(); // a held one is closed with the rest after the failure
      throw error;
    }
    await (held ? held.flush!() : file.commit());
    this.#sizes[slot] = size;
  }

  #fileName(slot: SlotName): string {
    return `${this.#prefix}.state.${slot}`;
  }

  /** The slot's content, and the size of its file. */
  async #readSlot(slot: SlotName): Promise<{ slot: Slot | 'missing' | 'damaged'; size: number }> {
    const handle = await childFile(this.#dir, this.#fileName(slot));
    if (!handle) return { slot: 'missing', size: 0 };
    try {
      const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
      // Never written: empty (made by hold()) or zeros (grown beside the first state written).
      if (bytes.subarray(0, SLOT_HEADER).every((byte) => byte === 0)) return { slot: 'missing', size: bytes.length };
      const decoded = decodeSlot(await loadCrc32c(), bytes);
      return { slot: decoded ? { slot, ...decoded } : 'damaged', size: bytes.length };
    } catch (error) {
      if (nameOf(error) === 'NotReadableError') return { slot: 'damaged', size: 0 }; // written while we read it
      throw error;
    }
  }
}

function encodeSlot(crc32c: Crc32cFunction, sequence: number, state: StoredState): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(state));
  const bytes = new Uint8Array(SLOT_HEADER + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SLOT_MAGIC, true);
  view.setUint32(4, SLOT_VERSION, true);
  view.setBigUint64(8, BigInt(sequence), true);
  view.setUint32(16, body.length, true);
  bytes.set(body, SLOT_HEADER);
  view.setUint32(20, slotChecksum(crc32c, bytes, body.length), true);
  return bytes;
}

/** The slot's sequence and state; undefined when it is torn or damaged. */
function decodeSlot(crc32c: Crc32cFunction, bytes: Uint8Array): { sequence: number; state: StoredState } | undefined {
  if (bytes.length < SLOT_HEADER) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(16, true);
  if (view.getUint32(0, true) !== SLOT_MAGIC || view.getUint32(4, true) !== SLOT_VERSION) return undefined;
  if (SLOT_HEADER + length > bytes.length || view.getUint32(20, true) !== slotChecksum(crc32c, bytes, length)) return undefined;
  const body = new TextDecoder().decode(bytes.subarray(SLOT_HEADER, SLOT_HEADER + length));
  return { sequence: Number(view.getBigUint64(8, true)), state: withoutWriteTimes(JSON.parse(body) as StoredState) };
}

/**
 * The state without the times an earlier version kept for writes. Until set-times ops alone kept
 * times, a write, truncate or create that carried an mtime left an entry for its file: one
 * without `atimeMs`, which a set-times op never makes (it sets both). Reading drops them, so the
 * next state written is small again, and the file's lastModified stands for their mtime. The slot
 * format is otherwise the same, so its version stays 1: a tab still running the earlier version
 * reads a state written here, and what it adds is dropped again here.
 */
function withoutWriteTimes(state: StoredState): StoredState {
  const entries = Object.entries(state.times);
  const kept = entries.filter(([, times]) => times.atimeMs !== undefined);
  return kept.length === entries.length ? state : { ...state, times: Object.fromEntries(kept) };
}

function slotChecksum(crc32c: Crc32cFunction, bytes: Uint8Array, bodyLength: number): number {
  return crc32c(bytes.subarray(SLOT_HEADER, SLOT_HEADER + bodyLength), crc32c(bytes.subarray(0, 20)));
}

type Crc32cFunction = (data: Uint8Array, previous?: number) => number;
let crc32cModule: Promise<{ crc32c: Crc32cFunction }> | undefined;

/**
 * CRC32C from src/record (its WebAssembly is fetched relative to the module, so it works here),
 * imported on first use rather than statically: it instantiates the WebAssembly with a top-level
 * await, and a module worker whose evaluation is suspended in a top-level await drops the
 * messages that arrive meanwhile (they are dispatched before comlink listens) — the page's first
 * call would never be answered.
 */
async function loadCrc32c(): Promise<Crc32cFunction> {
  crc32cModule ??= import('../record/crc32c.js');
  return (await crc32cModule).crc32c;
}

// ---------------------------------------------------------------------------------------------
// Recently applied op ids

/**
 * Slots in a volume's ring of op ids: the entry for LSN l is at slot l % RING_SLOTS, so writing it
 * again on a replay changes nothing and nothing ever needs compacting. Twice RECENT_OPS, not
 * RECENT_OPS: a batch writes its entries before its state says it applied them, so a batch cut
 * short has already overwritten the slots of the LSNs RING_SLOTS below its own. With twice the
 * window those lie below the window (for a batch of at most RECENT_OPS ops; an owner's are 256 by
 * default), so the window stays whole even when the batch's ops never become history (a fenced
 * owner's unacked tail, which the next owner's ops replace).
 */
const RING_SLOTS = 2 * RECENT_OPS;

/**
 * Entries per segment file of the ring (256 KiB, 8 files). A writable, the fallback, copies its
 * whole file before the first write: on a single 2 MiB ring that copy added ~30 ms to every batch
 * that wrote the ring (Chromium, this machine), on 256 KiB ~4 ms. Smaller segments would copy
 * less, but a claim looks up every file its window spans, at ~1–2 ms each.
 */
const SEGMENT_SLOTS = 16_384;

/** An entry: the op id, then the LSN, each a little-endian float64 (op ids are integers up to 2^53). */
const ENTRY_BYTES = 16;

/**
 * Most op ids the state holds before they move into the ring (StoredState.opIds). Writing and
 * flushing every batch's op ids in the ring made a one-op batch ~1.5 ms (a quarter) slower with
 * sync access handles; in the state they ride on the flush the batch makes anyway, at ~13 KiB of
 * JSON at most, and the ring is written about once every STATE_OP_IDS ops.
 */
const STATE_OP_IDS = 512;

/** Entries for consecutive LSNs, to be written at `at` in one segment file. */
interface EntryRun {
  readonly segment: number;
  readonly at: number;
  readonly bytes: Uint8Array;
}

/**
 * The op ids of a volume's recently applied ops (ClaimedState.recent), so that its next owner
 * recognises a client's retry of an op an earlier owner applied: a ring of RING_SLOTS entries in
 * the segment files `vV.ops/0` … `vV.ops/7`, and the newest ones in the state (StoredState.opIds).
 * An apply puts its fresh ops' ids in the state it writes with the applied position; when the
 * state holds more than STATE_OP_IDS, they are written to the ring and flushed before that state
 * write, which then holds none. So every LSN the state calls applied has its op id on disk, in
 * the state or in the ring. A ring entry above applied (a batch cut short after writing them) is
 * never reported, and is overwritten when its LSN is applied for real.
 */
class OpIdRing {
  readonly #parent: FileSystemDirectoryHandle;
  readonly #name: string;
  readonly #open: (file: FileSystemFileHandle) => Promise<FileAccess>;
  readonly #keep: boolean;
  #directory: FileSystemDirectoryHandle | undefined;
  /** Open segments: during a batch, and (sync access handles) those it wrote until the next one. */
  #files = new Map<number, FileAccess>();

  constructor(parent: FileSystemDirectoryHandle, name: string, open: (file: FileSystemFileHandle) => Promise<FileAccess>, keep: boolean) {
    this.#parent = parent;
    this.#name = name;
    this.#open = open;
    this.#keep = keep;
  }

  /**
   * The op ids the state is to hold once a batch of `fresh` ops is applied: the batch's, after
   * the ones the state holds now (`held`). Past STATE_OP_IDS they all go into the ring instead,
   * made durable here, before the state that no longer holds them is written.
   */
  async remember(held: readonly number[], fresh: readonly LsnOp[]): Promise<number[]> {
    const opIds = [...held];
    for (const { opId, lsn } of fresh) opIds.push(opId, lsn);
    if (opIds.length <= 2 * STATE_OP_IDS) return opIds;
    await this.#write(opIds);
    return [];
  }

  /** Writes the entries [opId, lsn, opId, lsn, ...] (ascending LSNs) and makes them durable. */
  async #write(opIds: readonly number[]): Promise<void> {
    const runs = entryRuns(opIds);
    try {
      for (const { segment, at, bytes } of runs) await (await this.#segment(segment)).write(bytes, at);
      const written = new Set(runs.map((run) => run.segment));
      for (const [segment, file] of this.#files) {
        if (this.#keep && written.has(segment)) {
          await file.flush!();
          continue;
        }
        // A writable commits (its only flush) and closes; a held segment this batch did not write
        // was flushed by an earlier one and is closed: the ring has moved on.
        this.#files.delete(segment);
        await (written.has(segment) ? file.commit() : file.abandon());
      }
    } catch (error) {
      await this.release();
      throw error;
    }
  }

  /** Closes the open segments: every write to them was flushed, or the batch failed. */
  async release(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.allSettled(files.map((file) => file.abandon()));
  }

  /**
   * [opId, lsn, opId, lsn, ...] for the LSNs max(1, applied - RECENT_OPS + 1) through `applied`,
   * in LSN order: the state's `newer` op ids, else the ring's entry where it holds its own LSN. A
   * slot holding another LSN (an older one, or one a batch cut short wrote above applied) or
   * nothing (past a segment's end) has no op id to report.
   */
  async read(applied: number, newer: readonly number[]): Promise<Float64Array<ArrayBuffer>> {
    const first = Math.max(1, applied - RECENT_OPS + 1);
    // The op id of each LSN from `first`, at LSN - first; NaN where none is known.
    const ids = new Float64Array(Math.max(0, applied - first + 1)).fill(NaN);
    await this.#readInto(ids, first);
    for (let i = 0; i + 1 < newer.length; i += 2) {
      const [opId, lsn] = [newer[i]!, newer[i + 1]!];
      if (lsn >= first && lsn <= applied) ids[lsn - first] = opId;
    }
    return knownPairs(ids, first);
  }

  /** Fills `ids` (from LSN `first`) with the op ids of the ring's entries that hold their own LSN. */
  async #readInto(ids: Float64Array, first: number): Promise<void> {
    if (ids.length === 0) return;
    const directory = await childDirectory(this.#parent, this.#name, false);
    if (!directory) return;
    const pieces = await Promise.all(segmentRanges(first, first + ids.length - 1).map((range) => entrySlice(directory, range)));
    // One read of all the slices: each read costs round trips (17 slices read in parallel took
    // 40–80 ms, one read of them all 15–30).
    const view = new DataView(await new Blob(pieces.map(({ slice }) => slice)).arrayBuffer());
    let at = 0;
    for (const { from, slice } of pieces) {
      for (let i = 0; (i + 1) * ENTRY_BYTES <= slice.size; i++, at += ENTRY_BYTES) {
        if (view.getFloat64(at + 8, true) === from + i) ids[from + i - first] = view.getFloat64(at, true);
      }
      at += slice.size % ENTRY_BYTES; // a torn last entry, never written whole: skipped
    }
  }

  async #segment(segment: number): Promise<FileAccess> {
    const open = this.#files.get(segment);
    if (open) return open;
    this.#directory ??= await this.#parent.getDirectoryHandle(this.#name, { create: true });
    const handle = await this.#directory.getFileHandle(String(segment), { create: true });
    const file = await whenFree(`${this.#name}/${segment}`, () => this.#open(handle));
    this.#files.set(segment, file);
    return file;
  }
}

/** [opId, lsn, opId, lsn, ...] of the known op ids in `ids` (from LSN `first`), in LSN order. */
function knownPairs(ids: Float64Array, first: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(2 * ids.length);
  let count = 0;
  for (let i = 0; i < ids.length; i++) {
    const opId = ids[i]!;
    if (Number.isNaN(opId)) continue;
    out[count++] = opId;
    out[count++] = first + i;
  }
  return out.slice(0, count);
}

/** Where the entry of `lsn` lives: its segment file, and its byte offset there. */
function entryPlace(lsn: number): { segment: number; at: number } {
  const slot = lsn % RING_SLOTS;
  return { segment: Math.floor(slot / SEGMENT_SLOTS), at: (slot % SEGMENT_SLOTS) * ENTRY_BYTES };
}

/** An op id at its LSN. */
interface Entry {
  readonly opId: number;
  readonly lsn: number;
}

/**
 * The entries [opId, lsn, opId, lsn, ...] as writes, one per run of consecutive LSNs within a
 * segment: one or two for STATE_OP_IDS of them. Only the last RECENT_OPS LSNs: older ones are out
 * of the window once the batch that brought them is applied.
 */
function entryRuns(opIds: readonly number[]): EntryRun[] {
  const last = opIds.at(-1) ?? 0;
  const runs: Entry[][] = [];
  let run: Entry[] = [];
  for (let i = 0; i + 1 < opIds.length; i += 2) {
    const entry = { opId: opIds[i]!, lsn: opIds[i + 1]! };
    if (entry.lsn <= last - RECENT_OPS) continue;
    const previous = run.at(-1);
    // A segment holds the LSNs of a multiple of SEGMENT_SLOTS and the ones after it.
    if (previous && (entry.lsn !== previous.lsn + 1 || entry.lsn % SEGMENT_SLOTS === 0)) {
      runs.push(run);
      run = [];
    }
    run.push(entry);
  }
  if (run.length > 0) runs.push(run);
  return runs.map(encodeEntries);
}

function encodeEntries(run: readonly Entry[]): EntryRun {
  const bytes = new Uint8Array(run.length * ENTRY_BYTES);
  const view = new DataView(bytes.buffer);
  run.forEach(({ opId, lsn }, i) => {
    view.setFloat64(i * ENTRY_BYTES, opId, true);
    view.setFloat64(i * ENTRY_BYTES + 8, lsn, true);
  });
  return { ...entryPlace(run[0]?.lsn ?? 0), bytes };
}

/** The LSNs `first`–`last`, cut where their entries move to another segment file. */
function segmentRanges(first: number, last: number): Array<{ from: number; to: number }> {
  const ranges: Array<{ from: number; to: number }> = [];
  for (let from = first; from <= last; ) {
    const to = Math.min(last, from - (from % SEGMENT_SLOTS) + SEGMENT_SLOTS - 1);
    ranges.push({ from, to });
    from = to + 1;
  }
  return ranges;
}

/** The stored entries of the LSNs `from`–`to`, unread; fewer (or none) where the segment is short or missing. */
async function entrySlice(directory: FileSystemDirectoryHandle, { from, to }: { from: number; to: number }): Promise<{ from: number; slice: Blob }> {
  const { segment, at } = entryPlace(from);
  const handle = await childFile(directory, String(segment));
  if (!handle) return { from, slice: new Blob() };
  const file = await handle.getFile();
  return { from, slice: file.slice(at, at + (to - from + 1) * ENTRY_BYTES) };
}

// ---------------------------------------------------------------------------------------------
// Applying ops

type WriteOp = Extract<Op, { type: 'write' }>;

/** Consecutive writes to one file whose byte ranges touch or overlap, covering [start, end). */
interface WriteRun {
  readonly path: string;
  start: number;
  end: number;
  readonly writes: WriteOp[];
}

/**
 * Joins each run of consecutive writes to the same file whose byte ranges touch or overlap into
 * one write, later bytes over earlier ones: the same bytes with one call instead of many.
 */
function coalesce(ops: readonly Op[]): Op[] {
  const out: Op[] = [];
  let run: WriteRun | undefined;
  for (const op of ops) {
    if (op.type === 'write' && run?.path === op.path && op.offset <= run.end && op.offset + op.data.length >= run.start) {
      run.start = Math.min(run.start, op.offset);
      run.end = Math.max(run.end, op.offset + op.data.length);
      run.writes.push(op);
      continue;
    }
    if (run) out.push(joined(run));
    run = op.type === 'write' ? { path: op.path, start: op.offset, end: op.offset + op.data.length, writes: [op] } : undefined;
    if (op.type !== 'write') out.push(op);
  }
  if (run) out.push(joined(run));
  return out;
}

function joined({ path, start, end, writes }: WriteRun): WriteOp {
  const [only] = writes;
  if (writes.length === 1 && only) return only;
  const data = new Uint8Array(end - start);
  for (const write of writes) data.set(write.data, write.offset - start);
  // No mtimeMs: a file's time here is OPFS's own (see the top).
  return { type: 'write', path, offset: start, data };
}

/**
 * The files and directories a volume's batches opened: for one batch on the writable path, and
 * across batches while the worker holds the volume (HOLD_MS) with sync access handles.
 */
class OpenFiles {
  readonly #keep: boolean;
  #files = new Map<string, FileAccess>();
  /** Files this batch changed: they are flushed when it commits. */
  #touched = new Set<FileAccess>();
  directories = new Map<string, FileSystemDirectoryHandle>();

  constructor(keep: boolean) {
    this.#keep = keep;
  }

  /** The open file for canonical `path`, if any, counted as changed by this batch. */
  get(path: string): FileAccess | undefined {
    const file = this.#files.get(path);
    if (file) this.#touched.add(file);
    return file;
  }

  add(path: string, file: FileAccess): void {
    this.#files.set(path, file);
    this.#touched.add(file);
  }

  /** The batch is done: its changes become durable; files stay open if kept (and not too many). */
  async commit(): Promise<void> {
    if (!this.#keep || this.#files.size > MAX_HELD_FILES) return this.release();
    const touched = [...this.#touched];
    this.#touched.clear();
    for (const file of touched) await file.flush!();
  }

  /**
   * Makes the batch's changes durable and closes every open file — before an op that removes or
   * moves entries, which OPFS refuses for an open file — and forgets the known directories, as
   * the tree is about to change shape. After a failure the rest are closed and it is thrown.
   */
  async release(): Promise<void> {
    const { files, touched } = this.#takeAll();
    const failures: unknown[] = [];
    for (const file of files) {
      try {
        await (failures.length === 0 && touched.has(file) ? file.commit() : file.abandon());
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }

  /** Closes every file with no flush: when idle (every change was flushed), or after a failure. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#takeAll().files.map((file) => file.abandon()));
  }

  /** Every open file (and which this batch changed), forgotten here with the known directories. */
  #takeAll(): { files: FileAccess[]; touched: ReadonlySet<FileAccess> } {
    const taken = { files: [...this.#files.values()], touched: this.#touched };
    this.#files = new Map();
    this.#touched = new Set();
    this.directories = new Map();
    return taken;
  }
}

/** Records (or, with undefined, clears) a directory rename under way in the volume state. */
type RenameMarker = (pending: PendingRename | undefined, records: PathRecords) => Promise<void>;

/**
 * One batch's work on a volume's directory, with the replay-safe semantics of `Medium` and the
 * type-conflict rule of MemoryFs: an op that meets a conflict (a file on a directory's path, a
 * write where a directory stands, unlink of a directory, ...) is skipped and changes nothing.
 * Files stay open through the batch (see OpenFiles); changed ones are flushed at the end, and
 * all are closed before any op that removes or moves entries, which OPFS refuses for an open file.
 */
class Batch {
  readonly #root: FileSystemDirectoryHandle;
  readonly #open: (file: FileSystemFileHandle) => Promise<FileAccess>;
  readonly #files: OpenFiles;
  readonly #times: Map<string, Times>;
  readonly #meta: Map<string, EntryMeta>;
  readonly #markRename: RenameMarker;

  constructor(
    root: FileSystemDirectoryHandle,
    open: (file: FileSystemFileHandle) => Promise<FileAccess>,
    files: OpenFiles,
    records: PathRecords,
    markRename: RenameMarker,
  ) {
    this.#root = root;
    this.#open = open;
    this.#files = files;
    this.#times = new Map(Object.entries(records.times));
    this.#meta = new Map(Object.entries(records.meta));
    this.#markRename = markRename;
  }

  records(): PathRecords {
    return { times: Object.fromEntries(this.#times), meta: Object.fromEntries(this.#meta) };
  }

  /**
   * Opens the files the batch's ops write, side by side rather than one op at a time: a replay
   * writes into many files at once, and opening each costs about a millisecond of round trips.
   * Only when the order cannot matter: when no path is made a file by one op and a directory (or
   * a file's parent) by another. Otherwise each op opens its file when it runs.
   */
  async open(ops: readonly Op[]): Promise<void> {
    const files = new Set<string>();
    const directories = new Set<string>();
    for (const op of ops) {
      // Never in a batch with others; a symlink op must find its path as it is (see #symlink).
      if (op.type === 'rename' || op.type === 'unlink' || op.type === 'rmdir' || op.type === 'symlink') return;
      if (op.type === 'setTimes' || op.type === 'chmod') continue;
      const names = components(op.path);
      for (let depth = op.type === 'mkdir' ? names.length : names.length - 1; depth > 0; depth--) directories.add(canonical(names.slice(0, depth)));
      if (op.type !== 'mkdir' && names.length > 0) files.add(canonical(names));
    }
    for (const file of files) if (directories.has(file)) return;
    // Every open settles before a failure is thrown: a file opened after the batch was abandoned
    // would stay open, and locked, with nothing left to close it.
    const opened = await Promise.allSettled([...files].map((path) => this.#file(components(path))));
    const failed = opened.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async apply(op: Op): Promise<void> {
    switch (op.type) {
      // The ops' mtimeMs is not kept: the file's time is its lastModified (see the top).
      case 'write':
        // An empty write writes nothing: like pwrite(2), it does not extend the file to `offset`.
        return this.#withFile(op.path, op.data.length > 0 ? (file) => file.write(op.data, op.offset) : undefined);
      case 'truncate':
        return this.#withFile(op.path, (file) => file.truncate(op.size));
      case 'create':
        return this.#withFile(op.path, op.truncate ? (file) => file.truncate(0) : undefined);
      case 'mkdir':
        return this.#mkdir(components(op.path));
      case 'rename':
        return this.#rename(components(op.path), components(op.target));
      case 'unlink':
        return this.#remove(components(op.path), 'file', false);
      case 'rmdir':
        return this.#remove(components(op.path), 'directory', op.recursive === true);
      case 'setTimes':
        return this.#setTimes(components(op.path), { atimeMs: op.atimeMs, mtimeMs: op.mtimeMs });
      case 'symlink':
        return this.#symlink(components(op.path), op.target);
      case 'chmod':
        return this.#chmod(components(op.path), op.mode);
    }
  }

  /** Makes the batch's changes durable; after a failure, closes every file and throws it. */
  commit(): Promise<void> {
    return this.#files.commit();
  }

  /** Closes every open file after a failure; the failure is what gets reported. */
  abandon(): Promise<void> {
    return this.#files.close();
  }

  /** Makes the file at `path` (and its parents) if missing, then applies `change`, if any, to it. */
  async #withFile(path: string, change: ((file: FileAccess) => Promise<void>) | undefined): Promise<void> {
    const names = components(path);
    if (this.#meta.get(canonical(names))?.link) return; // a link is never written through (a replayed op)
    const file = await this.#file(names);
    if (!file || !change) return;
    await change(file);
    this.#dropMtime(canonical(names));
  }

  /** The open file at `names`, made (with its parents) if missing; undefined on a type conflict. */
  async #file(names: readonly string[]): Promise<FileAccess | undefined> {
    const key = canonical(names);
    const open = this.#files.get(key);
    if (open) return open;
    const name = names.at(-1);
    const parent = name === undefined ? undefined : await this.#directory(names.slice(0, -1), true);
    const handle = parent && name !== undefined ? await ifNoConflict(parent.getFileHandle(name, { create: true })) : undefined;
    if (!handle) return undefined;
    const file = await whenFree(key, () => this.#open(handle));
    this.#files.add(key, file);
    return file;
  }

  /** The directory at `names` (see `walk`), remembered while the files are (see OpenFiles). */
  async #directory(names: readonly string[], make: boolean): Promise<FileSystemDirectoryHandle | undefined> {
    const key = canonical(names);
    const known = this.#files.directories.get(key);
    if (known) return known;
    const found = await walk(this.#root, names, make);
    if (found) this.#files.directories.set(key, found);
    return found;
  }

  async #mkdir(names: readonly string[]): Promise<void> {
    // Parents are made even without `recursive`, as MemoryFs does: a missing parent here means a
    // replay, and making it is what keeps the replay safe.
    const name = names.at(-1);
    const parent = name === undefined ? undefined : await this.#directory(names.slice(0, -1), true);
    if (parent && name !== undefined) await ifNoConflict(parent.getDirectoryHandle(name, { create: true }));
  }

  async #remove(names: readonly string[], kind: 'file' | 'directory', recursive: boolean): Promise<void> {
    const name = names.at(-1);
    if (name === undefined) return; // the volume's root is never removed
    await this.#releaseAll();
    const parent = await this.#directory(names.slice(0, -1), false);
    const entry = parent && (await entryOf(parent, name));
    if (entry && entry.kind !== kind) return;
    if (entry?.kind === 'directory' && !recursive && !(await isEmpty(entry))) return;
    if (parent && entry) await whenFree(canonical(names), () => parent.removeEntry(name, { recursive }));
    this.#forgetRecords(canonical(names));
  }

  /**
   * Moves the entry at `from` to `to`, replacing whatever is there. A file moves with one atomic
   * `move()`. Chromium cannot move a directory, so its files are moved one by one into a new
   * directory at the target, between two state writes that mark the rename as under way: a
   * crash in between leaves the marker, and the next claim or apply finishes the move first.
   */
  async #rename(from: readonly string[], to: readonly string[]): Promise<void> {
    if (from.length === 0 || to.length === 0 || isPrefix(from, to)) return; // the root, onto itself, or into its own subtree
    // Onto its own ancestor: replacing the target would remove the source with it. A POSIX owner
    // never sends this (the target is a non-empty directory), so it is skipped.
    if (isPrefix(to, from)) return;
    await this.#releaseAll();
    const [fromName, toName] = [from.at(-1) ?? '', to.at(-1) ?? ''];
    const sourceParent = await this.#directory(from.slice(0, -1), false);
    const entry = sourceParent && (await entryOf(sourceParent, fromName));
    if (!entry) return this.#moveRecords(canonical(from), canonical(to), false); // moved by an earlier run
    const targetParent = await this.#directory(to.slice(0, -1), true);
    if (!targetParent) return;
    const existing = await entryOf(targetParent, toName);
    // move() replaces a file, but not a directory, and cannot move onto a file a directory.
    if (existing && (existing.kind === 'directory' || entry.kind === 'directory')) {
      await whenFree(canonical(to), () => targetParent.removeEntry(toName, { recursive: true }));
    }
    this.#moveRecords(canonical(from), canonical(to), true);
    if (entry.kind === 'file') return whenFree(canonical(from), () => (entry as WorkerFileHandle).move(targetParent, toName));
    await this.#markRename({ from: canonical(from), to: canonical(to) }, this.records());
    await moveDirectory(this.#root, from, to);
    // Cleared at once, or a later op of this batch that makes `from` again would be moved too
    // if the batch then failed and the marker was found by the next apply.
    await this.#markRename(undefined, this.records());
  }

  /**
   * Writes the link as a file holding its target, and marks it. A file already there is
   * overwritten, not skipped: the owner never sends a symlink onto anything, so a file there is
   * this op's own file from a run whose state (and so its mark) a crash lost, or one a later op
   * of the replay removes or moves away. A directory there is a replay's conflict: skipped.
   */
  async #symlink(names: readonly string[], target: string): Promise<void> {
    const key = canonical(names);
    const file = await this.#file(names);
    if (!file) return;
    const bytes = new TextEncoder().encode(target);
    await file.truncate(0);
    await file.write(bytes, 0);
    this.#times.delete(key);
    this.#meta.set(key, { link: true });
  }

  /** Keeps a mode other than the default of the entry's kind; a link's mode never changes. */
  async #chmod(names: readonly string[], mode: number): Promise<void> {
    const key = canonical(names);
    const name = names.at(-1);
    const parent = name === undefined ? this.#root : await this.#directory(names.slice(0, -1), false);
    const entry = name === undefined ? this.#root : parent && (await entryOf(parent, name));
    if (!entry || this.#meta.get(key)?.link) return;
    if (mode === DEFAULT_MODES[entry.kind]) this.#meta.delete(key);
    else this.#meta.set(key, { mode });
  }

  async #setTimes(names: readonly string[], times: Times): Promise<void> {
    const name = names.at(-1);
    const parent = name === undefined ? this.#root : await this.#directory(names.slice(0, -1), false);
    if (parent && (name === undefined || (await entryOf(parent, name)))) this.#times.set(canonical(names), times);
  }

  /** Commits and closes the open files and forgets the known directories (see OpenFiles.release). */
  #releaseAll(): Promise<void> {
    return this.#files.release();
  }

  /**
   * The file at `path` changed: a stored mtime (from a set-times op) is no longer its time, its
   * lastModified is. The atime stays: changing a file does not read it.
   */
  #dropMtime(path: string): void {
    const times = this.#times.get(path);
    if (times?.mtimeMs === undefined) return;
    if (times.atimeMs === undefined) this.#times.delete(path);
    else this.#times.set(path, { atimeMs: times.atimeMs });
  }

  #forgetRecords(path: string): void {
    forgetUnder(this.#times, path);
    forgetUnder(this.#meta, path);
  }

  #moveRecords(from: string, to: string, moved: boolean): void {
    moveUnder(this.#times, from, to, moved);
    moveUnder(this.#meta, from, to, moved);
  }
}

/** Forgets the records of `path` and everything under it. */
function forgetUnder<T>(records: Map<string, T>, path: string): void {
  for (const key of [...records.keys()]) if (within(key, path)) records.delete(key);
}

/**
 * Records follow a moved entry. A source already gone may have moved in an earlier run whose
 * state write a crash prevented; its records, if still under the old path, move now.
 */
function moveUnder<T>(records: Map<string, T>, from: string, to: string, moved: boolean): void {
  const carried = [...records].filter(([key]) => within(key, from));
  if (!moved && carried.length === 0) return;
  forgetUnder(records, to);
  for (const [key, record] of carried) {
    records.delete(key);
    records.set(to + key.slice(from.length), record);
  }
}

async function isEmpty(directory: FileSystemDirectoryHandle): Promise<boolean> {
  return (await directory.keys().next()).done === true;
}

/**
 * Moves the directory at `from` to `to`, where nothing stands — or a part of this same move
 * stands, left by an earlier run that stopped part-way: every file is moved with `move()` (which
 * replaces a file already there), directories are made, and then what is left of the source
 * (empty directories) is removed. Once finished, running it again does nothing.
 */
async function moveDirectory(root: FileSystemDirectoryHandle, from: readonly string[], to: readonly string[]): Promise<void> {
  const name = from.at(-1);
  const parent = await walk(root, from.slice(0, -1), false);
  const source = parent && name !== undefined ? await childDirectory(parent, name, false) : undefined;
  if (!parent || !source || name === undefined) return;
  const target = await walk(root, to, true);
  if (!target) throw new MediumError(`cannot make ${canonical(to)} to move ${canonical(from)} into`, { permanent: false });
  await moveChildren(source, target);
  await whenFree(canonical(from), () => parent.removeEntry(name, { recursive: true }));
}

async function moveChildren(source: FileSystemDirectoryHandle, target: FileSystemDirectoryHandle): Promise<void> {
  const entries: [string, FileSystemHandleUnion][] = [];
  for await (const entry of source.entries()) entries.push(entry); // listed first: the loop changes the directory
  for (const [name, entry] of entries) {
    if (entry.kind === 'file') await whenFree(name, () => (entry as WorkerFileHandle).move(target, name));
    else await moveChildren(entry, await target.getDirectoryHandle(name, { create: true }));
  }
}

// ---------------------------------------------------------------------------------------------
// Paths and handles

function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

function canonical(names: readonly string[]): string {
  return `/${names.join('/')}`;
}

/** Compares names by UTF-16 code unit (as `<` does), the order the Medium port lists in. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPrefix(prefix: readonly string[], names: readonly string[]): boolean {
  return prefix.length <= names.length && prefix.every((part, i) => names[i] === part);
}

/** True when `path` is `ancestor` or lies under it. */
function within(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

/** The handle, or undefined when the entry is missing or of the other kind. */
async function ifNoConflict<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (error) {
    if (nameOf(error) === 'NotFoundError' || nameOf(error) === 'TypeMismatchError') return undefined;
    throw error;
  }
}

function childFile(dir: FileSystemDirectoryHandle, name: string): Promise<FileSystemFileHandle | undefined> {
  return ifNoConflict(dir.getFileHandle(name));
}

function childDirectory(dir: FileSystemDirectoryHandle, name: string, create: boolean): Promise<FileSystemDirectoryHandle | undefined> {
  return ifNoConflict(dir.getDirectoryHandle(name, { create }));
}

async function entryOf(dir: FileSystemDirectoryHandle, name: string): Promise<FileSystemHandleUnion | undefined> {
  return (await childFile(dir, name)) ?? (await childDirectory(dir, name, false));
}

/**
 * The directory at `names` under `root`. With `make`, missing directories are made — and since a
 * missing directory has no children, a file in the way can only be met before anything was made,
 * so an op skipped for that conflict leaves no directories behind. Undefined when a file is in
 * the way, or (without `make`) when a directory is missing.
 */
async function walk(root: FileSystemDirectoryHandle, names: readonly string[], make: boolean): Promise<FileSystemDirectoryHandle | undefined> {
  let dir: FileSystemDirectoryHandle | undefined = root;
  for (const name of names) {
    dir = await childDirectory(dir, name, make);
    if (!dir) return undefined;
  }
  return dir;
}

expose(new MediumWorker());
