// Cutting a run of records into flush batches. Shared by the flusher and by replay.
// (Joining neighbouring writes into one is the medium adapter's business: it sees whole batches.)
//
// A batch is applied to the medium and only then is its last LSN recorded as applied, so a
// crash can leave a batch applied in part and replay applies it again from its start. Writes,
// truncates, creates, mkdirs and symlinks only ever build, and a chmod sets a mode on what its
// owner saw exist and no op of its batch removes: re-applied over a partly applied copy of their
// batch, they reach the same state (test/node/memory-fs.test.ts checks it for any history an owner
// accepts). Rename, unlink and rmdir take away, and set-times acts only on what exists
// (re-applying a write of the old path before a rename would resurrect it; a set-times that found
// nothing the first time may find the file a later op created), so each of them is a batch of its
// own: the applied position is recorded right before and right after it.
import type { LsnOp } from './ports.js';

const BARRIERS = new Set(['rename', 'unlink', 'rmdir', 'setTimes']);

export interface BatchLimits {
  /** Most ops in one batch. */
  readonly maxOps: number;
  /** Most write payload bytes in one batch. */
  readonly maxBytes: number;
}

export function isBarrier(op: LsnOp): boolean {
  return BARRIERS.has(op.op.type);
}

function payloadBytes(op: LsnOp): number {
  return op.op.type === 'write' ? op.op.data.length : 0;
}

/** The longest batch that starts at `ops[start]` (at least one op). */
export function nextBatch(ops: readonly LsnOp[], limits: BatchLimits, start = 0): LsnOp[] {
  const first = ops[start];
  if (!first) return [];
  if (isBarrier(first)) return [first];
  const batch = [first];
  let bytes = payloadBytes(first);
  for (let i = start + 1; i < ops.length && batch.length < limits.maxOps; i++) {
    const op = ops[i]!;
    if (isBarrier(op) || bytes + payloadBytes(op) > limits.maxBytes) break;
    batch.push(op);
    bytes += payloadBytes(op);
  }
  return batch;
}
