// What nodes say to each other over a link. One discriminated union, one handler per kind.
import type { ChangeResult, FsChange, FsQuery, QueryResult } from './fs-request.js';

/** [volume, epoch] pairs a node owns. */
export type Ownership = Array<[number, number]>;

/**
 * [volume, partner, session] for each volume a node owns: who mirrors it now (none while it has
 * no partner) in which pairing session. A node that mirrored the volume in an earlier session
 * learns from it that it no longer does, and so never takes the volume over on its own account.
 */
export type Partners = Array<[volume: number, partner: string | null, session: number]>;

export type Message =
  /** Every heartbeatMs, to every peer: alive, what it owns and who mirrors it, and whether it would adopt more. */
  | { t: 'heartbeat'; owns: Ownership; partners: Partners; adopts: boolean }
  /**
   * Owner → partner: mirror `volume` for me from now on, in this session. Mirror records above
   * `keepThrough` are an unacked tail of an earlier session: drop them.
   */
  | { t: 'pair'; volume: number; epoch: number; session: number; keepThrough: number }
  /** Owner → partner: records to mirror (a group commit, or a resync after pairing). */
  | { t: 'mirror'; volume: number; epoch: number; session: number; lsns: number[]; frames: Uint8Array[] }
  /** Partner → owner: the mirror holds every record of the session through `upTo`. */
  | { t: 'mirrored'; volume: number; session: number; upTo: number }
  /** Partner → owner: a record arrived damaged; the session is void, pair again. */
  | { t: 'mirrorFailed'; volume: number; session: number }
  /** Owner → partner: flushed through `upTo`; delete those records from the mirror. */
  | { t: 'trim'; volume: number; upTo: number }
  /**
   * Fenced owner → its partner: I no longer own `volume`, stop mirroring it for me. Without it, a
   * node that paired with an owner in the moment before it learnt it was fenced would watch over
   * it still, and take the volume from its new owner (or a node taking it over) when the fenced
   * one falls silent later.
   */
  | { t: 'unpair'; volume: number; session: number }
  /** Owner → all: my I/O is broken; I released the volume, take it over. */
  | { t: 'giveUp'; volume: number; epoch: number }
  /** Owner → one peer: I drained and released the volume (a planned hand-over); take it. */
  | { t: 'handover'; volume: number; epoch: number }
  /** Client → owner: a change (checked with Node's semantics at the owner), named by its op id. */
  | { t: 'change'; id: number; volume: number; opId: number; change: FsChange }
  /** Client → owner: a read. */
  | { t: 'query'; id: number; volume: number; query: FsQuery }
  /** Owner → client. */
  | { t: 'result'; id: number; change: ChangeResult }
  | { t: 'result'; id: number; query: QueryResult }
  | { t: 'result'; id: number; error: WireError };

/** An error as it crosses a link (reviveError in errors.ts makes it whole again). */
export interface WireError {
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
