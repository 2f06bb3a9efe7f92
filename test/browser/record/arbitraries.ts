// fast-check generators of journal records, in the canonical form decodeRecord returns.
import fc from 'fast-check';
import type { JournalRecord, Op } from '../../../src/record/types.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([high, low]) => high * 0x10000 + low),
);
export const u53 = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, MAX_SAFE), fc.maxSafeNat());
const lsn = u53.map((n) => Math.max(1, n));
const time = fc.oneof(fc.constantFrom(0, -0, 1.5, 1_764_000_000_000.25, -1e300), fc.double({ noNaN: true, noDefaultInfinity: true }));
const path = fc.string({ minLength: 1, maxLength: 48, unit: 'binary' });
const data = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4096, maxLength: 5000 }) },
);

export const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant('write' as const), path, offset: u53, data, mtimeMs: time }),
  fc.record({ type: fc.constant('truncate' as const), path, size: u53, mtimeMs: time }),
  fc.record({ type: fc.constant('create' as const), path, exclusive: fc.boolean(), truncate: fc.boolean(), mtimeMs: time }),
  fc.record({ type: fc.constant('mkdir' as const), path, recursive: fc.boolean() }),
  fc.record({ type: fc.constant('rename' as const), path, target: path }),
  fc.record({ type: fc.constant('unlink' as const), path }),
  fc.record({ type: fc.constant('rmdir' as const), path, recursive: fc.boolean() }),
  fc.record({ type: fc.constant('setTimes' as const), path, atimeMs: time, mtimeMs: time }),
  fc.record({ type: fc.constant('symlink' as const), path, target: path }),
  fc.record({ type: fc.constant('chmod' as const), path, mode: fc.oneof(fc.constantFrom(0, 0o644, 0o7777), fc.nat(0o7777)) }),
);

export const record: fc.Arbitrary<JournalRecord> = fc.record({ volume: u32, epoch: u32, lsn, opId: u53, op });

/** Small records, for tests that try every bit of a frame. */
export const smallRecord: fc.Arbitrary<JournalRecord> = record.filter(
  (r) => r.op.type !== 'write' || r.op.data.length <= 300,
);
