// Takeover and recovery: how a node comes to own a volume. The same steps serve a partner whose
// owner died, hung or gave up, and the first node to start after every node stopped:
//   1. gather the copies of the volume's records above the applied position: this node's mirror
//      and journal, then, from every other store the origin holds (the old owner's journal,
//      other mirrors), the records from the first LSN ours lack;
//   2. keep the volume's history: the records whose epoch was current at their LSN, contiguous
//      from applied + 1, each from a copy whose CRC32C verifies;
//   3. claim a new epoch in the medium (fencing every older owner), then replay the history in
//      LSN order, in batches (what this node holds goes first, under an early claim: see adopt);
//   4. only then serve new ops, from LSN base + 1.
import { NodeError } from '../errors.js';
import type { JournalRecord } from '../record/types.js';
import { nextBatch } from './batch.js';
import type { NodeOptions } from './options.js';
import type { EpochStart, HeldLock, LsnOp, Ports, RecordStore, StoredRecord, VolumeState } from './ports.js';

/** [opId, lsn] pairs: which op went in at which LSN. */
export type OpIds = ReadonlyArray<readonly [opId: number, lsn: number]>;

export interface Adopted {
  readonly epoch: number;
  readonly base: number;
  /**
   * Every op id the volume has applied lately (from the medium) or just replayed, in LSN order:
   * a client's retry of any of them is answered with its LSN, not applied again.
   */
  readonly known: OpIds;
  /** How many ops the replay applied. */
  readonly replayed: number;
}

/** Decodes and verifies a frame; throws on any damage. */
export type Verify = (frame: Uint8Array) => JournalRecord;

/** Copies of records by LSN, in the order of the stores they came from. */
type Copies = Map<number, StoredRecord[]>;

/** Adds the stores' records of `volume` from LSN `from` on (read side by side) to `copies`. */
async function collect(stores: readonly RecordStore[], volume: number, from: number, copies: Copies): Promise<void> {
  for (const records of await Promise.all(stores.map((store) => store.list(volume, from)))) {
    for (const record of records) {
      const list = copies.get(record.lsn);
      if (list) list.push(record);
      else copies.set(record.lsn, [record]);
    }
  }
}

/**
 * The LSN through which records of `epoch` are the volume's history: the base of the next
 * claimed epoch. Above it they are an old owner's tail that was never acked.
 */
export function epochEnd(epochs: readonly EpochStart[], epoch: number): number {
  let end = Number.POSITIVE_INFINITY;
  for (const start of epochs) if (start.epoch > epoch && start.base < end) end = start.base;
  return end;
}

export function isHistory(state: VolumeState, record: { lsn: number; epoch: number }): boolean {
  return record.lsn > state.applied && record.lsn <= epochEnd(state.epochs, record.epoch);
}

function intactCopy(copies: readonly StoredRecord[], verify: Verify): LsnOp | undefined {
  for (const copy of copies) {
    try {
      const record = verify(copy.frame);
      if (record.volume === copy.volume && record.lsn === copy.lsn && record.epoch === copy.epoch) {
        return { lsn: record.lsn, opId: record.opId, op: record.op };
      }
    } catch {
      // a damaged copy: try the next
    }
  }
  return undefined;
}

/**
 * The ops to replay, in LSN order, and the highest epoch any copy carries. `known` is the start of
 * the history, already chosen (from applied + 1 on): the search goes on after it.
 */
export function selectHistory(state: VolumeState, copies: Copies, volume: number, verify: Verify, known: readonly LsnOp[] = []): { ops: LsnOp[]; maxEpoch: number } {
  const maxEpoch = maxEpochOf(state, copies);
  const { ops, next, damaged } = historyFrom(state, copies, state.applied + 1 + known.length, verify);
  if (damaged > 0) {
    throw new NodeError('EVOLUMESTOPPED', `volume ${volume}: every copy of record ${next} is damaged; stopping rather than applying later records out of order`, {
      volume,
      lsn: next,
      copies: damaged,
    });
  }
  return { ops: [...known, ...ops], maxEpoch };
}

/**
 * The history's ops from LSN `from` while the copies hold an intact one; `next` is the first LSN
 * without, and `damaged` how many history copies of it failed to verify (0: there are none — the
 * end of the history, as anything above a gap was never acked).
 */
function historyFrom(state: VolumeState, copies: Copies, from: number, verify: Verify): { ops: LsnOp[]; next: number; damaged: number } {
  const ops: LsnOp[] = [];
  for (let lsn = from; ; lsn++) {
    const valid = (copies.get(lsn) ?? []).filter((copy) => isHistory(state, copy));
    const op = intactCopy(valid, verify);
    if (!op) return { ops, next: lsn, damaged: valid.length };
    ops.push(op);
  }
}

/**
 * The base of an early claim: it fences every older owner and makes no record stale, as the
 * history's end is not known yet. No record of that epoch is ever written (its node serves only
 * at the next epoch), so nothing needs it to end anywhere.
 */
const OPEN_BASE = Number.MAX_SAFE_INTEGER;

function checkLock(lock: HeldLock, volume: number, doing: string): void {
  if (lock.lost) throw new NodeError('EFENCED', `volume ${volume}: lost the lock while ${doing}`, { volume });
}

/** How far a replay got: ops replayed of the total, after each batch. */
export type ReplayProgress = (replayed: number, total: number) => void;

/** Claims `epoch` from `base` on; resolves to the ops the medium applied lately (ClaimedState.recent). */
async function claimEpoch(ports: Ports, volume: number, lock: HeldLock, epoch: number, base: number): Promise<OpIds> {
  checkLock(lock, volume, 'adopting');
  return (await ports.medium.claim(volume, epoch, base)).recent;
}

/** Applies `ops` at `epoch`, in LSN order and in batches; `done` ops of the history went before. */
async function replay(ports: Ports, options: NodeOptions, volume: number, lock: HeldLock, epoch: number, ops: readonly LsnOp[], done: number, progress?: ReplayProgress): Promise<void> {
  const limits = { maxOps: options.batchMaxOps, maxBytes: options.batchMaxBytes };
  for (let at = 0; at < ops.length; ) {
    checkLock(lock, volume, 'replaying');
    const batch = nextBatch(ops, limits, at);
    await ports.medium.apply(volume, epoch, batch);
    at += batch.length;
    progress?.(done + at, done + ops.length);
  }
}

/** The highest epoch of the medium and of any copy. */
function maxEpochOf(state: VolumeState, copies: Copies): number {
  let maxEpoch = state.epoch;
  for (const list of copies.values()) for (const copy of list) maxEpoch = Math.max(maxEpoch, copy.epoch);
  return maxEpoch;
}

/**
 * Steps 1-4: gather, choose, claim and replay; the caller serves (at the returned epoch, from its
 * base + 1) only after this resolves.
 *
 * Another node's stores are read only from the first LSN ours hold no intact copy of: below it they
 * could only repeat what we have (one record per LSN is history). Reading the dead owner's journal
 * whole doubled a takeover's reads. The exception is a medium never claimed (epoch 0, as after
 * OPFS was cleared): the records' own epochs are then all there is to raise the next epoch above,
 * so every copy is read.
 *
 * What this node holds is replayed before the other stores are read, under an early claim with
 * an open base: a store of another node can be slow for long (its node's I/O is failing), and
 * meanwhile the acked writes in our mirror would have no copy but ours and that store. Should this
 * node die before it finishes, the open base has made no record stale: the next takeover reads
 * every copy as before.
 */
export async function adopt(ports: Ports, options: NodeOptions, volume: number, lock: HeldLock, verify: Verify, progress?: ReplayProgress): Promise<Adopted> {
  const state = await ports.medium.state(volume);
  const copies: Copies = new Map();
  const first = state.applied + 1;
  await collect([ports.stores.mirror(ports.self), ports.stores.journal(ports.self)], volume, first, copies);
  const ours = historyFrom(state, copies, first, verify);
  let early: { epoch: number; replayed: number } | undefined;
  if (state.epoch > 0 && ours.ops.length > 0) {
    const epoch = maxEpochOf(state, copies) + 1;
    await claimEpoch(ports, volume, lock, epoch, OPEN_BASE);
    await replay(ports, options, volume, lock, epoch, ours.ops, 0, progress);
    early = { epoch, replayed: ours.ops.length };
  }
  const others = (await ports.stores.nodes()).filter((node) => node !== ports.self).sort();
  const stores = others.flatMap((node) => [ports.stores.mirror(node), ports.stores.journal(node)]);
  await collect(stores, volume, state.epoch === 0 ? first : ours.next, copies);
  const { ops, maxEpoch } = selectHistory(state, copies, volume, verify, ours.ops);
  const epoch = Math.max(maxEpoch, early?.epoch ?? 0) + 1;
  const base = Math.max(state.applied, ops.at(-1)?.lsn ?? 0);
  const recent = await claimEpoch(ports, volume, lock, epoch, base);
  const done = early?.replayed ?? 0;
  await replay(ports, options, volume, lock, epoch, ops.slice(done), done, progress);
  // The early replay's ops may be in `recent` too: the same op id at the same LSN, remembered once.
  const known = [...recent, ...ops.map((op) => [op.opId, op.lsn] as const)];
  return { epoch, base, known, replayed: ops.length };
}
