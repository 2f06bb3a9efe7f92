// Node options and their defaults. Times are milliseconds of the Clock port.

export interface NodeOptions {
  /** Volume ids this cluster serves. */
  readonly volumes: readonly number[];
  /** Store a record in the journal and send it to the partner at once (true), or journal first. */
  readonly mirrorConcurrently: boolean;
  /** Without a partner in sync: hold acks until one is back (true), or ack after the journal alone. */
  readonly requireMirror: boolean;
  /** How often a node tells its peers it is alive (and what it owns). */
  readonly heartbeatMs: number;
  /** Silence after which a peer counts as hung (or cut off). */
  readonly hangTimeoutMs: number;
  /** How often a node looks for volumes without an owner, and tidies its stores. */
  readonly sweepMs: number;
  /** A client op not acked within this fails with ETIMEDOUT (the op may still be applied). */
  readonly opTimeoutMs: number;
  /** Consecutive failed flushes after which the owner decides its I/O is broken and hands over. */
  readonly maxFlushFailures: number;
  /** First retry delay after a failed flush; doubles each time. */
  readonly flushRetryMs: number;
  /** A node whose I/O broke does not adopt volumes for this long. */
  readonly brokenCooldownMs: number;
  /** Flush batch limits. */
  readonly batchMaxOps: number;
  readonly batchMaxBytes: number;
  /** Most records in one group commit (one journal transaction, one link message). */
  readonly groupMaxRecords: number;
  /** Op ids remembered per volume, so a retried op is recognised. */
  readonly dedupWindow: number;
  /**
   * Most bytes of unflushed records an owner keeps per volume (in memory and in its journal).
   * Past it new ops wait for the flusher (backpressure), and fail with ETIMEDOUT after
   * `opTimeoutMs` — they are never dropped.
   */
  readonly journalCapBytes: number;
  /**
   * The flusher starts once no record has been acked for this long, so that a burst of writes is
   * not slowed by the medium and its records go to the medium in few batches (at once when a
   * reader or a drain waits for the medium, or the journal is half way to its cap).
   */
  readonly flushDelayMs: number;
  /**
   * ...and at the latest this long after the first record that waits: it bounds how much a
   * takeover replays after a crash in the middle of a long burst.
   */
  readonly flushMaxDelayMs: number;
  /** Flushed records are deleted from journal and mirror this long after a flush, many at once. */
  readonly trimDelayMs: number;
}

export const DEFAULT_OPTIONS: Omit<NodeOptions, 'volumes'> = {
  mirrorConcurrently: true,
  requireMirror: false,
  heartbeatMs: 200,
  hangTimeoutMs: 1500,
  sweepMs: 1000,
  opTimeoutMs: 10_000,
  maxFlushFailures: 5,
  flushRetryMs: 20,
  brokenCooldownMs: 10_000,
  batchMaxOps: 256,
  batchMaxBytes: 8 << 20,
  groupMaxRecords: 64,
  dedupWindow: 65_536,
  journalCapBytes: 64 * 1024 * 1024,
  flushDelayMs: 50,
  flushMaxDelayMs: 1000,
  trimDelayMs: 50,
};

export function withDefaults(options: Partial<NodeOptions> & Pick<NodeOptions, 'volumes'>): NodeOptions {
  return { ...DEFAULT_OPTIONS, ...options };
}
