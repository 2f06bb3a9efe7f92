// The journal record codec: every op round-trips, and every kind of damage is caught with the
// error code that names it — never a wrong decode, never a WebAssembly trap.
import { expect } from 'chai';
import fc from 'fast-check';
import { RecordError, type RecordErrorCode } from '../../../src/errors.js';
import { decodeRecord, encodeRecord, encodeRecordInto } from '../../../src/record/codec.js';
import type { JournalRecord } from '../../../src/record/types.js';
import { record, smallRecord } from './arbitraries.js';
import { fieldsOf, rawFrame, reseal, type RawFields } from './reference-frame.js';

function codeOf(run: () => unknown): RecordErrorCode | 'NO ERROR' {
  try {
    run();
    return 'NO ERROR';
  } catch (error) {
    if (error instanceof RecordError) return error.code;
    throw error; // anything else (a TypeError, a WebAssembly trap) fails the test
  }
}

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    if (error instanceof RecordError && error.code === 'FIELD_OUT_OF_RANGE') return error.data.field;
    throw error;
  }
  return 'NO ERROR';
}

const unlink: JournalRecord = { volume: 1, epoch: 1, lsn: 1, opId: 1, op: { type: 'unlink', path: '/a' } };
const chmod: JournalRecord = { ...unlink, op: { type: 'chmod', path: '/a', mode: 0o755 } };
const symlink: JournalRecord = { ...unlink, op: { type: 'symlink', path: '/a', target: '../b' } };
const write: JournalRecord = {
  volume: 2, epoch: 3, lsn: 4, opId: 5, op: { type: 'write', path: '/f', offset: 6, data: new Uint8Array([7, 8]), mtimeMs: 9 },
};
const withFields = (base: JournalRecord, change: Partial<RawFields>) => rawFrame({ ...fieldsOf(base), ...change });

describe('record codec', () => {
  describe('round trip', () => {
    it('decode(encode(r)) equals r, for every op and field range', () => {
      fc.assert(fc.property(record, (r) => void expect(decodeRecord(encodeRecord(r))).to.deep.equal(r)), { numRuns: 3000 });
    });

    it('encodes byte for byte as docs/record-format.md describes', () => {
      fc.assert(fc.property(record, (r) => void expect(encodeRecord(r)).to.deep.equal(rawFrame(fieldsOf(r)))), { numRuns: 2000 });
    });

    it('decodes a frame that sits inside a larger buffer', () => {
      const frame = encodeRecord(write);
      const big = new Uint8Array(frame.length + 10);
      big.set(frame, 5);
      expect(decodeRecord(big.subarray(5, 5 + frame.length))).to.deep.equal(write);
    });

    it('returns write data as a view of the frame given, untouched by later codec calls', () => {
      const frame = encodeRecord(write);
      const decoded = decodeRecord(frame);
      encodeRecord({ ...write, op: { ...write.op, data: new Uint8Array([1, 1]) } as JournalRecord['op'] });
      decodeRecord(encodeRecord(unlink));
      expect(decoded.op).to.have.property('data').that.deep.equals(new Uint8Array([7, 8]));
      expect((decoded.op as { data: Uint8Array }).data.buffer).to.equal(frame.buffer);
    });

    it('encodeRecordInto packs frames one after another in a buffer of the caller', () => {
      fc.assert(
        fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.nat(16), (records, start) => {
          const buffer = new Uint8Array(start + records.length * 6000);
          const ends: number[] = [];
          let at = start;
          for (const r of records) ends.push((at += encodeRecordInto(r, buffer, at)));
          records.forEach((r, i) => {
            const from = i === 0 ? start : ends[i - 1]!;
            expect(buffer.subarray(from, ends[i]!)).to.deep.equal(encodeRecord(r));
          });
        }),
        { numRuns: 300 },
      );
    });

    it('encodeRecordInto refuses a buffer that is too small, and writes nothing into it', () => {
      const frame = encodeRecord(write);
      const buffer = new Uint8Array(frame.length + 2).fill(0xee);
      for (const at of [3, -1, 0.5]) {
        expect(codeOf(() => encodeRecordInto(write, buffer, at))).to.equal('BUFFER_TOO_SMALL');
      }
      expect(buffer.every((byte) => byte === 0xee)).to.equal(true);
      expect(encodeRecordInto(write, buffer, 2)).to.equal(frame.length);
    });

    it('carries the largest payload one frame holds', () => {
      const data = new Uint8Array(262144 - 72 - 4 - 2).fill(0xab);
      const r: JournalRecord = { ...write, op: { type: 'write', path: '/f', offset: 0, data, mtimeMs: 0 } };
      expect(decodeRecord(encodeRecord(r))).to.deep.equal(r);
    });
  });

  describe('damage', () => {
    // Which code a single flipped bit must produce, by the field it lands in.
    function expectedForFlip(frame: Uint8Array, byte: number, damaged: Uint8Array): RecordErrorCode {
      if (byte < 4) return 'BAD_MAGIC';
      if (byte === 4) return 'UNSUPPORTED_VERSION';
      if (byte >= 8 && byte < 12) {
        const declared = new DataView(damaged.buffer).getUint32(8, true);
        return declared > frame.length ? 'TRUNCATED' : 'LENGTH_MISMATCH';
      }
      if ((byte >= 28 && byte < 32) || (byte >= 40 && byte < 44)) return 'LENGTH_MISMATCH';
      return 'CHECKSUM_MISMATCH';
    }

    it('every single-bit flip of a valid frame is rejected with the code of the field it hit', () => {
      fc.assert(
        fc.property(smallRecord, (r) => {
          const frame = encodeRecord(r);
          for (let bit = 0; bit < frame.length * 8; bit++) {
            const damaged = frame.slice();
            damaged[bit >> 3]! ^= 1 << (bit & 7);
            const code = codeOf(() => decodeRecord(damaged));
            const expected = expectedForFlip(frame, bit >> 3, damaged);
            if (code !== expected) expect.fail(`bit ${bit}: ${code}, expected ${expected}`);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('every truncation of a valid frame is TRUNCATED', () => {
      fc.assert(
        fc.property(smallRecord, (r) => {
          const frame = encodeRecord(r);
          for (let length = 0; length < frame.length; length++) {
            const code = codeOf(() => decodeRecord(frame.subarray(0, length)));
            if (code !== 'TRUNCATED') expect.fail(`length ${length} of ${frame.length}: ${code}`);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('every extension of a valid frame is LENGTH_MISMATCH', () => {
      fc.assert(
        fc.property(record, fc.uint8Array({ minLength: 1, maxLength: 300 }), (r, tail) => {
          const frame = encodeRecord(r);
          const longer = new Uint8Array(frame.length + tail.length);
          longer.set(frame);
          longer.set(tail, frame.length);
          expect(codeOf(() => decodeRecord(longer))).to.equal('LENGTH_MISMATCH');
        }),
        { numRuns: 2000 },
      );
    });

    it('an unknown version is UNSUPPORTED_VERSION even with a valid checksum', () => {
      for (const version of [0, 2, 255]) {
        expect(codeOf(() => decodeRecord(withFields(unlink, { version })))).to.equal('UNSUPPORTED_VERSION');
      }
    });

    it('random bytes are rejected with a RecordError, whatever their length', () => {
      const magic = new Uint8Array([0x54, 0x44, 0x4a, 0x52, 1]);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, framed) => {
          if (framed && bytes.length >= magic.length) bytes.set(magic);
          expect(codeOf(() => decodeRecord(bytes))).to.not.equal('NO ERROR');
        }),
        { numRuns: 3000 },
      );
    });

    it('inputs longer than any frame are rejected without reading past scratch memory', () => {
      const huge = new Uint8Array(600_000);
      huge.set(encodeRecord(unlink));
      expect(codeOf(() => decodeRecord(huge))).to.equal('LENGTH_MISMATCH');
      const declared = withFields(unlink, {});
      const big = new Uint8Array(300_000);
      big.set(declared);
      new DataView(big.buffer).setUint32(8, big.length, true);
      new DataView(big.buffer).setUint32(40, big.length - declared.length, true);
      expect(fieldOf(() => decodeRecord(big))).to.equal('frame length');
    });
  });

  describe('fields out of range, in frames with a valid checksum', () => {
    const cases: Array<[string, JournalRecord, Partial<RawFields>, string]> = [
      ['op 0', unlink, { op: 0 }, 'op'],
      ['op 11', unlink, { op: 11 }, 'op'],
      ['op 255', unlink, { op: 255 }, 'op'],
      ['a flag the op does not take', write, { flags: 4 }, 'flags'],
      ['an unknown flag', unlink, { flags: 0x8000 }, 'flags'],
      ['reserved bytes not zero', unlink, { reserved: 1 }, 'reserved'],
      ['LSN 0', unlink, { lsn: 0 }, 'lsn'],
      ['LSN of 2^53', unlink, { lsn: 2 ** 53 }, 'lsn'],
      ['offset of 2^53', write, { offset: 2 ** 53 }, 'offset'],
      ['an offset on an unlink', unlink, { offset: 1 }, 'offset'],
      ['a chmod mode above 0o7777', chmod, { offset: 0o10000 }, 'offset'],
      ['a symlink without a target', symlink, { target: new Uint8Array(0) }, 'target'],
      ['a target on a chmod', chmod, { target: new Uint8Array([0x2f]) }, 'target'],
      ['op id of 2^53', unlink, { opId: 2 ** 53 }, 'opId'],
      ['an empty path', unlink, { path: new Uint8Array(0) }, 'path'],
      ['a path longer than 4096 bytes', unlink, { path: new Uint8Array(4097).fill(0x61) }, 'path'],
      ['a path that is not UTF-8', unlink, { path: new Uint8Array([0x2f, 0xff, 0xfe]) }, 'path'],
      ['a target on an unlink', unlink, { target: new Uint8Array([0x2f]) }, 'target'],
      ['a payload on an unlink', unlink, { payload: new Uint8Array([1]) }, 'payload length'],
      ['an atime on a write', write, { atime: 1 }, 'atime'],
      ['an mtime on an unlink', unlink, { mtime: 1 }, 'mtime'],
      ['a NaN mtime', write, { mtime: NaN }, 'mtime'],
      ['an infinite mtime', write, { mtime: Infinity }, 'mtime'],
    ];
    for (const [what, base, change, field] of cases) {
      it(`${what} is FIELD_OUT_OF_RANGE (${field})`, () => {
        expect(fieldOf(() => decodeRecord(withFields(base, change)))).to.equal(field);
      });
    }

    it('a rename without a target is FIELD_OUT_OF_RANGE (target)', () => {
      const rename: JournalRecord = { ...unlink, op: { type: 'rename', path: '/a', target: '/b' } };
      expect(fieldOf(() => decodeRecord(withFields(rename, { target: new Uint8Array(0) })))).to.equal('target');
    });

    it('a target that is not UTF-8 is FIELD_OUT_OF_RANGE (target)', () => {
      const rename: JournalRecord = { ...unlink, op: { type: 'rename', path: '/a', target: '/b' } };
      expect(fieldOf(() => decodeRecord(withFields(rename, { target: new Uint8Array([0xc0]) })))).to.equal('target');
    });

    it('reseal really makes a valid checksum (the cases above are not checksum failures)', () => {
      const frame = encodeRecord(unlink);
      frame[frame.length - 1]! ^= 0xff;
      expect(codeOf(() => decodeRecord(frame))).to.equal('CHECKSUM_MISMATCH');
      expect(decodeRecord(reseal(frame))).to.deep.equal(unlink);
    });
  });

  describe('encoding refuses bad input with FIELD_OUT_OF_RANGE', () => {
    const bad: Array<[string, unknown, string]> = [
      ['LSN 0', { ...unlink, lsn: 0 }, 'lsn'],
      ['a negative LSN', { ...unlink, lsn: -1 }, 'lsn'],
      ['a fractional LSN', { ...unlink, lsn: 1.5 }, 'lsn'],
      ['LSN 2^53', { ...unlink, lsn: 2 ** 53 }, 'lsn'],
      ['a NaN op id', { ...unlink, opId: NaN }, 'opId'],
      ['volume -1', { ...unlink, volume: -1 }, 'volume'],
      ['volume 2^32', { ...unlink, volume: 2 ** 32 }, 'volume'],
      ['epoch as a string', { ...unlink, epoch: '1' }, 'epoch'],
      ['an unknown op', { ...unlink, op: { type: 'link', path: '/a' } }, 'op'],
      ['a mode above 0o7777', { ...unlink, op: { type: 'chmod', path: '/a', mode: 0o10000 } }, 'mode'],
      ['a fractional mode', { ...unlink, op: { type: 'chmod', path: '/a', mode: 1.5 } }, 'mode'],
      ['a symlink with an empty target', { ...unlink, op: { type: 'symlink', path: '/a', target: '' } }, 'target'],
      ['no op', { ...unlink, op: undefined }, 'op'],
      ['an empty path', { ...unlink, op: { type: 'unlink', path: '' } }, 'path'],
      ['a path of 4097 bytes', { ...unlink, op: { type: 'unlink', path: 'a'.repeat(4097) } }, 'path'],
      ['a path of 2049 two-byte characters', { ...unlink, op: { type: 'unlink', path: 'é'.repeat(2049) } }, 'path'],
      ['a lone surrogate in a path', { ...unlink, op: { type: 'unlink', path: '/\ud800' } }, 'path'],
      ['a rename with no target', { ...unlink, op: { type: 'rename', path: '/a' } }, 'target'],
      ['write data that is not bytes', { ...write, op: { type: 'write', path: '/f', offset: 0, data: [1, 2] } }, 'payload'],
      ['a payload over one frame', { ...write, op: { type: 'write', path: '/f', offset: 0, data: new Uint8Array(262144) } }, 'payload'],
      ['a path and payload over one frame', { ...write, op: { type: 'write', path: '/ff', offset: 0, data: new Uint8Array(262144 - 72 - 4 - 2) } }, 'frame length'],
      ['a negative offset', { ...write, op: { type: 'write', path: '/f', offset: -1, data: new Uint8Array(1) } }, 'offset'],
      ['a negative truncate size', { ...unlink, op: { type: 'truncate', path: '/f', size: -1 } }, 'size'],
      ['an infinite atime', { ...unlink, op: { type: 'setTimes', path: '/f', atimeMs: Infinity, mtimeMs: 0 } }, 'atime'],
      ['a NaN mtime', { ...unlink, op: { type: 'setTimes', path: '/f', atimeMs: 0, mtimeMs: NaN } }, 'mtime'],
    ];
    for (const [what, input, field] of bad) {
      it(`${what} (${field})`, () => {
        expect(fieldOf(() => encodeRecord(input as JournalRecord))).to.equal(field);
      });
    }

    it('a refused encode leaves the codec working', () => {
      expect(() => encodeRecord({ ...unlink, lsn: 0 })).to.throw(RecordError);
      expect(decodeRecord(encodeRecord(write))).to.deep.equal(write);
    });
  });

  it('errors carry name, code, message and data, and survive JSON', () => {
    try {
      decodeRecord(new Uint8Array(3));
      expect.fail('no error');
    } catch (error) {
      expect(error).to.be.instanceOf(RecordError);
      const json = JSON.parse(JSON.stringify(error));
      expect(json).to.include({ name: 'RecordError', code: 'TRUNCATED' });
      expect(json.message).to.match(/truncated/);
    }
  });
});
