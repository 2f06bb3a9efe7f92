// An independent encoder written from docs/record-format.md alone (literal offsets, no shared
// constants), so the tests check the codec against the documented format, not against itself.
import { createCRC32 } from 'hash-wasm';
import type { JournalRecord } from '../../../src/record/types.js';

const hasher = await createCRC32(0x82f63b78);

export function referenceCrc32c(bytes: Uint8Array): number {
  hasher.init();
  hasher.update(bytes);
  return parseInt(hasher.digest('hex'), 16);
}

/** Rewrites the last four bytes with the CRC32C of the rest: a frame damaged "on purpose". */
export function reseal(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint32(frame.length - 4, referenceCrc32c(frame.subarray(0, frame.length - 4)), true);
  return frame;
}

const OPS = { write: 1, truncate: 2, create: 3, mkdir: 4, rename: 5, unlink: 6, rmdir: 7, setTimes: 8, symlink: 9, chmod: 10 } as const;

export interface RawFields {
  op: number;
  flags: number;
  volume: number;
  lsn: number;
  epoch: number;
  offset: number;
  reserved: number;
  opId: number;
  atime: number;
  mtime: number;
  path: Uint8Array;
  target: Uint8Array;
  payload: Uint8Array;
  /** Overrides for the length fields, to build inconsistent frames. */
  frameLength?: number;
  version?: number;
}

function put64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
}

/** Builds a sealed frame from raw field values, valid or not. */
export function rawFrame(f: RawFields): Uint8Array {
  const length = 72 + f.path.length + f.target.length + f.payload.length + 4;
  const frame = new Uint8Array(length);
  const view = new DataView(frame.buffer);
  frame.set([0x54, 0x44, 0x4a, 0x52], 0); // "TDJR"
  view.setUint8(4, f.version ?? 1);
  view.setUint8(5, f.op);
  view.setUint16(6, f.flags, true);
  view.setUint32(8, f.frameLength ?? length, true);
  view.setUint32(12, f.volume, true);
  put64(view, 16, f.lsn);
  view.setUint32(24, f.epoch, true);
  view.setUint16(28, f.path.length, true);
  view.setUint16(30, f.target.length, true);
  put64(view, 32, f.offset);
  view.setUint32(40, f.payload.length, true);
  view.setUint32(44, f.reserved, true);
  put64(view, 48, f.opId);
  view.setFloat64(56, f.atime, true);
  view.setFloat64(64, f.mtime, true);
  frame.set(f.path, 72);
  frame.set(f.target, 72 + f.path.length);
  frame.set(f.payload, 72 + f.path.length + f.target.length);
  return reseal(frame);
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The raw fields the format says a record has. */
export function fieldsOf(record: JournalRecord): RawFields {
  const { op } = record;
  const flags =
    op.type === 'create' ? (op.exclusive ? 1 : 0) | (op.truncate ? 2 : 0)
    : op.type === 'mkdir' || op.type === 'rmdir' ? (op.recursive ? 4 : 0)
    : 0;
  return {
    op: OPS[op.type],
    flags,
    volume: record.volume,
    lsn: record.lsn,
    epoch: record.epoch,
    offset: op.type === 'write' ? op.offset : op.type === 'truncate' ? op.size : op.type === 'chmod' ? op.mode : 0,
    reserved: 0,
    opId: record.opId,
    atime: op.type === 'setTimes' ? op.atimeMs : 0,
    mtime: 'mtimeMs' in op ? (op.mtimeMs ?? 0) : 0,
    path: utf8(op.path),
    target: op.type === 'rename' || op.type === 'symlink' ? utf8(op.target) : new Uint8Array(0),
    payload: op.type === 'write' ? op.data : new Uint8Array(0),
  };
}
