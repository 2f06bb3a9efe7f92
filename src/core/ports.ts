// The ports of the node core: the only ways it touches the world. Browser adapters (IndexedDB,
// OPFS, Web Locks, WebRTC) and the simulator's in-memory parts both implement these, and the
// contract tests run against every implementation. No browser or Node globals appear here.
import type { Op } from '../record/types.js';

/** A node's id: unique per running node (a tab or worker), stable for its life. */
export type NodeId = string;

// ---------------------------------------------------------------------------------------------
// Journal and mirror: record stores

/** One record as a store holds it: its key fields beside the verified-on-read frame. */
export interface StoredRecord {
  readonly volume: number;
  readonly lsn: number;
  readonly epoch: number;
  /** The encoded frame (src/record/codec.ts). Checked with its CRC32C whenever it is used. */
  readonly frame: Uint8Array;
}

/**
 * A durable store of records keyed by (volume, lsn): a node's journal, or its mirror of a
 * partner's journal. Each call is one transaction: all of it happens, or none of it.
 */
export interface RecordStore {
  /** Stores the records, replacing any with the same key (group commit: one transaction). */
  put(records: readonly StoredRecord[]): Promise<void>;
  /** The records of `volume` (or of every volume) in (volume, lsn) order; of `volume`, only LSNs >= `from`. */
  list(volume?: number, from?: number): Promise<StoredRecord[]>;
  /** Deletes the records of `volume` with `from <= lsn <= to`. */
  deleteRange(volume: number, from: number, to: number): Promise<void>;
}

/** Every node's stores that this origin holds, live or dead (one IndexedDB per node). */
export interface StoreDirectory {
  /** Ids of the nodes whose stores exist, this node's included. */
  nodes(): Promise<NodeId[]>;
  journal(node: NodeId): RecordStore;
  mirror(node: NodeId): RecordStore;
}

// ---------------------------------------------------------------------------------------------
// The medium: the file system the volumes live in

/** When an epoch began: its owner serves LSNs above `base`. */
export interface EpochStart {
  readonly epoch: number;
  readonly base: number;
}

/** What the medium durably knows of a volume. */
export interface VolumeState {
  /** The highest epoch claimed; 0 for a volume never owned. */
  readonly epoch: number;
  /** Every op with an LSN at or below this is in the medium. */
  readonly applied: number;
  /** Every claimed epoch, oldest first: tells a record of the volume's history from a stale one. */
  readonly epochs: readonly EpochStart[];
}

/**
 * What a claim returns: the volume's state, and the op ids of the ops applied lately, so that the
 * new owner recognises a client's retry of an op that an earlier owner applied (exactly-once
 * survives every move of a volume: takeover, hand-over, whole-cluster restart).
 */
export interface ClaimedState extends VolumeState {
  /**
   * [opId, lsn] of the ops applied at the LSNs from `applied - RECENT_OPS + 1` through `applied`
   * (fewer when fewer were applied), in LSN order. Never an LSN above `applied`: an op applied
   * there by a batch cut short may be an old owner's tail that is not history.
   */
  readonly recent: ReadonlyArray<readonly [opId: number, lsn: number]>;
}

/**
 * How many LSNs back a medium remembers which op was applied. A client retries an op for at most
 * its op timeout (10 s by default); 65,536 ops is over 6 s of 4 KiB writes at 40 MiB/s.
 */
export const RECENT_OPS = 65_536;

/** An op with its place in the volume. */
export interface LsnOp {
  readonly lsn: number;
  readonly opId: number;
  readonly op: Op;
}

/** What can stand at a path. A symlink is only ever read by the medium, never followed. */
export type EntryKind = 'file' | 'directory' | 'symlink';

/** Permission bits an entry has until a chmod op sets others (a link's never change). */
export const DEFAULT_MODES: Readonly<Record<EntryKind, number>> = { file: 0o644, directory: 0o755, symlink: 0o777 };

/** What the medium holds at a path. Times are milliseconds since the Unix epoch. */
export interface EntryStat {
  readonly kind: EntryKind;
  /** Bytes for a file; the target's UTF-8 bytes for a symlink (as lstat reports); 0 for a directory. */
  readonly size: number;
  /** Permission bits (0..0o7777): DEFAULT_MODES, or what a chmod op set. */
  readonly mode: number;
  /** A symlink's target, as its symlink op gave it. */
  readonly target?: string;
  /** Set by set-times ops; otherwise the medium's own time for the entry (a directory: 0). */
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/**
 * One entry of a directory listing, with what the owner needs to resolve paths and answer stat
 * without a read per entry: its mode, and a symlink's target.
 */
export interface DirEntry {
  readonly name: string;
  readonly kind: EntryKind;
  readonly mode: number;
  readonly target?: string;
}

/**
 * The medium (OPFS in a browser). Ops are applied with replay-safe semantics, so that a batch
 * cut short by a crash can be applied again from its start:
 * - write: creates the file (and nothing else) if missing, then writes at the offset.
 * - truncate: creates the file if missing, then sets its size.
 * - create: makes the file if missing; with `truncate`, empties it. (`exclusive` was the owner's
 *   check when it accepted the op; applying never fails on an existing file.)
 * - mkdir: makes the directory (with `recursive`, its parents) if missing.
 * - rename: moves path to target, replacing target; when path is missing, nothing happens.
 * - unlink / rmdir: removes the entry (rmdir with `recursive`: with its contents) if present.
 * - setTimes: sets the entry's times if it exists (the owner refuses it on a missing path).
 * - symlink: makes a link holding `target` if nothing is at the path (replacing a link there);
 *   skipped when a file or directory stands there. The medium never follows a link: a path
 *   through one is a path through a non-directory, and writes onto one are skipped.
 * - chmod: sets the permission bits of the file or directory at the path, if there is one.
 * Parents of a write, truncate, create or symlink target are made as needed. A rename carries
 * an entry's mode (and a link's target) with it.
 */
export interface Medium {
  state(volume: number): Promise<VolumeState>;
  /**
   * Raises the volume's epoch to `epoch` (> the current one) and records that it begins above
   * `base`. Waits for an apply of the volume in progress; afterwards every apply with a lower
   * epoch fails with a FencedError. Returns the new state and the recently applied op ids.
   */
  claim(volume: number, epoch: number, base: number): Promise<ClaimedState>;
  /**
   * Applies `ops` (consecutive LSNs) in order, makes them durable, then records the last op's
   * LSN as applied. Ops at or below the applied position are skipped, so replaying any suffix
   * that starts at or before it changes nothing. Throws FencedError when `epoch` is not the
   * volume's epoch, MediumError when I/O fails (ops before the failure may have been applied).
   * Remembers each applied op's id at its LSN (see ClaimedState.recent) durably with the op.
   */
  apply(volume: number, epoch: number, ops: readonly LsnOp[]): Promise<void>;
  /**
   * Reads: what the medium holds now (ops up to its applied position, and possibly a batch in
   * progress). Only the owner's fs layer reads, and it waits for the flush of what it needs first.
   * A volume's root ("/") always exists. Undefined when nothing (or, for read and list, not a
   * file or not a directory) is at `path`.
   */
  stat(volume: number, path: string): Promise<EntryStat | undefined>;
  /** The entries of a directory, sorted by name (code unit order). */
  list(volume: number, path: string): Promise<DirEntry[] | undefined>;
  /** Up to `length` bytes of a file from `offset` (fewer at its end). */
  read(volume: number, path: string, offset: number, length: number): Promise<Uint8Array | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Locks (Web Locks in a browser: a dead context's locks are released)

export interface HeldLock {
  readonly name: string;
  /** True once the lock was stolen from us or released. */
  readonly lost: boolean;
  /** Called once, when the lock is stolen from us (not when we release it). */
  onLost(callback: () => void): void;
  release(): void;
}

export interface LockWait {
  readonly granted: Promise<HeldLock>;
  /** Stops waiting; if the lock was granted meanwhile, it is released. */
  cancel(): void;
}

export interface Locks {
  /** Takes the lock if nobody holds it; null otherwise. */
  tryAcquire(name: string): Promise<HeldLock | null>;
  /** Waits for the lock. */
  wait(name: string): LockWait;
  /** Takes the lock from its holder at once (the holder's handle becomes lost). */
  steal(name: string): Promise<HeldLock>;
}

// ---------------------------------------------------------------------------------------------
// Links: ordered, reliable messages between connected nodes (a WebRTC data channel)

export interface Link {
  readonly self: NodeId;
  /**
   * Sends in order to a connected peer; false when not connected (the message is dropped).
   * `urgent` is for liveness (heartbeats): it goes ahead of every message still queued to that
   * peer, so that a burst of data cannot make a live node look hung. Urgent messages keep their
   * order among themselves, not relative to the others.
   */
  send(to: NodeId, message: unknown, urgent?: boolean): boolean;
  /** The peers connected now. */
  peers(): NodeId[];
  onMessage(handler: (from: NodeId, message: unknown) => void): void;
  /** A peer connected (true) or went away (false). Messages sent before a drop may be lost. */
  onPeer(handler: (peer: NodeId, up: boolean) => void): void;
}

// ---------------------------------------------------------------------------------------------
// Time and chance

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  after(ms: number, callback: () => void): Timer;
}

export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** Everything a node needs from the world. */
export interface Ports {
  readonly self: NodeId;
  readonly journal: RecordStore;
  readonly mirror: RecordStore;
  readonly stores: StoreDirectory;
  readonly medium: Medium;
  readonly locks: Locks;
  readonly link: Link;
  readonly clock: Clock;
  readonly random: Random;
}
