// What clients ask of a volume's owner. A change is checked there with Node's semantics, against
// the medium plus the owner's unflushed records (namespace.ts), and becomes zero or more ops that
// get consecutive LSNs together; a query reads. Paths are volume-relative, absolute, normalised
// ("/a/b"; "/" is the volume's root): the fs layer (src/fs) validates and maps them.
import type { Op } from '../record/types.js';
import type { EntryKind, EntryStat } from './ports.js';

/** Most payload bytes one write op carries: a frame must fit one link message (layout.ts). */
export const OP_BYTES = 240 * 1024;

/** Most data bytes one change or one read carries; larger files go in several (src/fs). */
export const REQUEST_BYTES = 1024 * 1024;

/**
 * The op ids of one change: ids `opId` .. `opId + OPS_PER_CHANGE - 1` belong to it, one per op.
 * The first identifies the change: its ops are journaled and mirrored together, all or none, so a
 * retry that finds the first op id known finds the whole change done.
 */
export const OPS_PER_CHANGE = 1024;

export type FsChange =
  /** A raw op, applied with the medium's semantics (tests, tools); still refused on a conflict. */
  | { readonly kind: 'op'; readonly op: Op }
  /**
   * Writes `data` at `at` (a byte offset, or 'end' to append). `create`: make the file if it is
   * missing (else ENOENT); `exclusive`: fail with EEXIST if it exists; `truncate`: empty it first.
   * With no data it only opens (creates, truncates) the file.
   */
  | {
      readonly kind: 'write';
      readonly path: string;
      readonly data: Uint8Array;
      readonly at: number | 'end';
      readonly create: boolean;
      readonly exclusive: boolean;
      readonly truncate: boolean;
      readonly mtimeMs: number;
    }
  | { readonly kind: 'truncate'; readonly path: string; readonly size: number; readonly mtimeMs: number }
  | { readonly kind: 'mkdir'; readonly path: string; readonly recursive: boolean }
  | { readonly kind: 'rmdir'; readonly path: string }
  | { readonly kind: 'rm'; readonly path: string; readonly recursive: boolean; readonly force: boolean }
  | { readonly kind: 'unlink'; readonly path: string }
  | { readonly kind: 'rename'; readonly path: string; readonly target: string }
  | { readonly kind: 'utimes'; readonly path: string; readonly atimeMs: number; readonly mtimeMs: number }
  /** Makes a symbolic link at `path` holding `target` (EEXIST if anything, even a link, is there). */
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  /** Sets the permission bits (0..0o7777) of what `path` leads to (links followed). */
  | { readonly kind: 'chmod'; readonly path: string; readonly mode: number };

/** What a change returns: the LSN of its last op (0 when it needed no op), and a value for some kinds. */
export interface ChangeResult {
  readonly lsn: number;
  /** write: the offset the data went to; mkdir with `recursive`: the first directory made. */
  readonly value?: number | string;
}

export type FsQuery =
  /** `follow`: of what a symbolic link at `path` leads to (stat), or of the link itself (lstat). */
  | { readonly kind: 'stat'; readonly path: string; readonly follow: boolean }
  | { readonly kind: 'readdir'; readonly path: string }
  /** Up to `length` (at most REQUEST_BYTES) bytes from `offset`. */
  | { readonly kind: 'read'; readonly path: string; readonly offset: number; readonly length: number };

/** What stat answers (a symbolic link's own, for a stat that does not follow it). */
export type FsStat = EntryStat;

export type QueryResult =
  | { readonly kind: 'stat'; readonly stat: FsStat }
  | { readonly kind: 'readdir'; readonly entries: ReadonlyArray<readonly [name: string, kind: EntryKind]> }
  /** `size`: the file's size when it was read, so a reader knows whether more is to come. */
  | { readonly kind: 'read'; readonly data: Uint8Array; readonly size: number };

/** The syscall name Node reports for a change or query (as `err.syscall`). */
export function syscallOf(request: FsChange | FsQuery): string {
  switch (request.kind) {
    case 'op':
      return request.op.type;
    case 'write':
      return 'open';
    case 'stat':
      return request.follow ? 'stat' : 'lstat';
    case 'readdir':
      return 'scandir';
    case 'read':
      return 'open';
    default:
      return request.kind;
  }
}
