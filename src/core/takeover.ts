// Takeover and recovery: how a node comes to own a volume. The same steps serve a partner whose
// owner died, hung or gave up, and the first node to start after every node stopped:
//   1. gather the copies of the volume's records above the applied position: this node's mirror
//      and journal, then, from every other store the origin holds (the old owner's journal,
//      other mirrors), the records from the first LSN ours lack;
//   2. keep the volume's history: the records whose epoch was current at their LSN, contiguous
//      from applied + 1, each from a copy whose CRC32C verifies;
//   3. claim a new epoch in the medium (fencing every older owner), then replay the history in
//      LSN order, in batches;
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
 * The volume's history above the applied position. Another node's stores are read only from the
 * first LSN ours hold no intact copy of: below it they could only repeat what we have (one
 * record per LSN is history). Reading the dead owner's journal whole doubled a takeover's reads.
 * The exception is a medium never claimed (epoch 0, as after OPFS was cleared): the records'
 * own epochs are then all there is to raise the next epoch above, so every copy is read.
 */
async function readHistory(ports: Ports, state: VolumeState, volume: number, verify: Verify): Promise<{ ops: LsnOp[]; maxEpoch: number }> {
  const copies: Copies = new Map();
  const first = state.applied + 1;
  await collect([ports.stores.mirror(ports.self), ports.stores.journal(ports.self)], volume, first, copies);
  const ours = historyFrom(state, copies, first, verify);
  const others = (await ports.stores.nodes()).filter((node) => node !== ports.self).sort();
  const stores = others.flatMap((node) => [ports.stores.mirror(node), ports.stores.journal(node)]);
  await collect(stores, volume, state.epoch === 0 ? first : ours.next, copies);
  return selectHistory(state, copies, volume, verify, ours.ops);
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
  let maxEpoch = state.epoch;
  for (const list of copies.values()) for (const copy of list) maxEpoch = Math.max(maxEpoch, copy.epoch);
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

/** A claimed volume and the history it must replay. */
export interface Claimed {
  readonly epoch: number;
  readonly base: number;
  readonly ops: LsnOp[];
  /** The ops the medium applied before the claim (ClaimedState.recent). */
  readonly recent: OpIds;
}

function checkLock(lock: HeldLock, volume: number, doing: string): void {
  if (lock.lost) throw new NodeError('EFENCED', `volume ${volume}: lost the lock while ${doing}`, { volume });
}

/** Steps 1–3 up to the claim, holding the volume's lock. */
export async function claim(ports: Ports, volume: number, lock: HeldLock, verify: Verify): Promise<Claimed> {
  const state = await ports.medium.state(volume);
  const { ops, maxEpoch } = await readHistory(ports, state, volume, verify);
  const epoch = maxEpoch + 1;
  const base = Math.max(state.applied, ops.at(-1)?.lsn ?? 0);
  checkLock(lock, volume, 'adopting');
  const { recent } = await ports.medium.claim(volume, epoch, base);
  return { epoch, base, ops, recent };
}

/** How far a replay got: ops replayed of the total, after each batch. */
export type ReplayProgress = (replayed: number, total: number) => void;

/** Step 3's replay: the history into the medium, in LSN order and in batches. */
export async function replay(ports: Ports, options: NodeOptions, volume: number, lock: HeldLock, claimed: Claimed, progress?: ReplayProgress): Promise<Adopted> {
  const limits = { maxOps: options.batchMaxOps, maxBytes: options.batchMaxBytes };
  const { ops } = claimed;
  for (let at = 0; at < ops.length; ) {
    checkLock(lock, volume, 'replaying');
    const batch = nextBatch(ops, limits, at);
    await ports.medium.apply(volume, claimed.epoch, batch);
    at += batch.length;
    progress?.(at, ops.length);
  }
  const known = [...claimed.recent, ...ops.map((op) => [op.opId, op.lsn] as const)];
  return { epoch: claimed.epoch, base: claimed.base, known, replayed: ops.length };
}

/** Steps 1–3: claim, then replay everything; the caller serves only after this resolves. */
export async function adopt(ports: Ports, options: NodeOptions, volume: number, lock: HeldLock, verify: Verify, progress?: ReplayProgress): Promise<Adopted> {
  return replay(ports, options, volume, lock, await claim(ports, volume, lock, verify), progress);
}
