// Takeover and recovery choose what to replay: the volume's history, verified, in LSN order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextBatch } from '../../src/core/batch.js';
import type { LsnOp, StoredRecord, VolumeState } from '../../src/core/ports.js';
import { epochEnd, isHistory, selectHistory } from '../../src/core/takeover.js';
import { NodeError } from '../../src/errors.js';
import { decodeRecord, encodeRecord } from '../../src/record/codec.js';
import type { Op } from '../../src/record/types.js';

const op = (path: string): Op => ({ type: 'write', path, offset: 0, data: new Uint8Array([1]), mtimeMs: 0 });
const stored = (lsn: number, epoch: number, path = `/f${lsn}`): StoredRecord => ({
  volume: 1, lsn, epoch, frame: encodeRecord({ volume: 1, epoch, lsn, opId: lsn, op: op(path) }),
});
const damaged = (record: StoredRecord): StoredRecord => {
  const frame = record.frame.slice();
  frame[frame.length - 5]! ^= 1;
  return { ...record, frame };
};
const copies = (...records: StoredRecord[]) => {
  const map = new Map<number, StoredRecord[]>();
  for (const record of records) map.set(record.lsn, [...(map.get(record.lsn) ?? []), record]);
  return map;
};
const state = (applied: number, epochs: Array<[number, number]>): VolumeState => ({
  epoch: epochs.at(-1)?.[0] ?? 0, applied, epochs: epochs.map(([epoch, base]) => ({ epoch, base })),
});
const lsns = (ops: LsnOp[]) => ops.map((o) => o.lsn);

describe('choosing the history to replay', () => {
  test('records at or below the applied position are not replayed', () => {
    const { ops } = selectHistory(state(2, [[1, 0]]), copies(stored(3, 1), stored(4, 1)), 1, decodeRecord);
    assert.deepEqual(lsns(ops), [3, 4]);
  });

  test('replay stops at the first gap: nothing after it was ever acked', () => {
    const { ops } = selectHistory(state(0, [[1, 0]]), copies(stored(1, 1), stored(2, 1), stored(4, 1)), 1, decodeRecord);
    assert.deepEqual(lsns(ops), [1, 2]);
  });

  test("a fenced owner's tail above the next epoch's base is stale; the new epoch's records win", () => {
    // Epoch 1 wrote 1..5, but epoch 2 began above 3: its 4 and 5 are the history, epoch 1's are not.
    const s = state(0, [[1, 0], [2, 3]]);
    assert.equal(epochEnd(s.epochs, 1), 3);
    assert.equal(isHistory(s, stored(4, 1)), false);
    const { ops } = selectHistory(s, copies(stored(1, 1), stored(2, 1), stored(3, 1), stored(4, 1, '/stale'), stored(4, 2), stored(5, 2)), 1, decodeRecord);
    assert.deepEqual(lsns(ops), [1, 2, 3, 4, 5]);
    assert.deepEqual(ops[3]!.op, op('/f4'));
  });

  test('a damaged copy is passed over for an intact one', () => {
    const { ops } = selectHistory(state(0, [[1, 0]]), copies(damaged(stored(1, 1)), stored(1, 1)), 1, decodeRecord);
    assert.deepEqual(ops[0]!.op, op('/f1'));
  });

  test('a copy whose frame says another place than its key is treated as damaged', () => {
    const misplaced = { ...stored(2, 1), lsn: 1 };
    assert.throws(() => selectHistory(state(0, [[1, 0]]), copies(misplaced), 1, decodeRecord), (e) => e instanceof NodeError && e.code === 'EVOLUMESTOPPED');
  });

  test('when every copy is damaged the volume stops, naming the record', () => {
    assert.throws(
      () => selectHistory(state(0, [[1, 0]]), copies(stored(1, 1), damaged(stored(2, 1)), damaged(stored(2, 1)), stored(3, 1)), 1, decodeRecord),
      (e) => e instanceof NodeError && e.code === 'EVOLUMESTOPPED' && e.data.lsn === 2,
    );
  });

  test('the new epoch is above every epoch any copy carries, stale ones included', () => {
    const { maxEpoch } = selectHistory(state(5, [[1, 0], [2, 3]]), copies(stored(9, 7)), 1, decodeRecord);
    assert.equal(maxEpoch, 7);
  });
});

describe('flush batches', () => {
  const item = (lsn: number, o: Op): LsnOp => ({ lsn, opId: lsn, op: o });
  const limits = { maxOps: 3, maxBytes: 1000 };

  test('rename, unlink, rmdir and set-times are batches of their own', () => {
    const ops = [item(1, op('/a')), item(2, { type: 'rename', path: '/a', target: '/b' }), item(3, op('/c')), item(4, { type: 'setTimes', path: '/c', atimeMs: 1, mtimeMs: 1 })];
    assert.deepEqual(lsns(nextBatch(ops, limits)), [1]);
    assert.deepEqual(lsns(nextBatch(ops, limits, 1)), [2]);
    assert.deepEqual(lsns(nextBatch(ops, limits, 2)), [3]);
    assert.deepEqual(lsns(nextBatch(ops, limits, 3)), [4]);
  });

  test('a batch stops at its op and byte limits, but always holds one op', () => {
    const big = (lsn: number) => item(lsn, { type: 'write', path: '/a', offset: 0, data: new Uint8Array(600), mtimeMs: 0 });
    assert.deepEqual(lsns(nextBatch([1, 2, 3, 4].map((n) => item(n, op('/a'))), limits)), [1, 2, 3]);
    assert.deepEqual(lsns(nextBatch([big(1), big(2)], limits)), [1]);
    assert.deepEqual(lsns(nextBatch([item(1, { type: 'write', path: '/a', offset: 0, data: new Uint8Array(5000), mtimeMs: 0 })], limits)), [1]);
  });
});
