// Ops and records: the words of DESIGN.md as types.

/** A file-system write operation, as the owner accepted it. Paths are volume-relative. */
export type Op =
  | { type: 'write'; path: string; offset: number; data: Uint8Array; mtimeMs?: number }
  | { type: 'truncate'; path: string; size: number; mtimeMs?: number }
  | { type: 'create'; path: string; exclusive?: boolean; truncate?: boolean; mtimeMs?: number }
  | { type: 'mkdir'; path: string; recursive?: boolean }
  | { type: 'rename'; path: string; target: string }
  | { type: 'unlink'; path: string }
  | { type: 'rmdir'; path: string; recursive?: boolean }
  | { type: 'setTimes'; path: string; atimeMs: number; mtimeMs: number }
  /** Makes a symbolic link at `path` holding `target` (any non-empty text; the medium never follows it). */
  | { type: 'symlink'; path: string; target: string }
  /** Sets the permission bits (0..0o7777) of the entry at `path`. */
  | { type: 'chmod'; path: string; mode: number };

export type OpType = Op['type'];

/** One op as it sits in a journal or mirror: placed in its volume's order by the LSN. */
export interface JournalRecord {
  /** The volume the op belongs to. u32. */
  volume: number;
  /** The volume's ownership epoch when the owner accepted the op. u32. */
  epoch: number;
  /** Log sequence number: the op's place in its volume, from 1. Below 2^53. */
  lsn: number;
  /** The client's id for the op, so a retried op is recognised. Below 2^53. */
  opId: number;
  op: Op;
}
