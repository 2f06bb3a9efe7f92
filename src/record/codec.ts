// Encode a journal record into a frame and decode a frame back, verified.
// The layout is in layout.ts and docs/record-format.md; the WebAssembly side builds and checks
// frames, this side turns JavaScript values into its inputs and its verdicts into typed errors.
import { RecordError, type RecordErrorCode } from '../errors.js';
import * as L from './layout.js';
import type { JournalRecord, Op, OpType } from './types.js';
import { encode, verify, wasmBytes } from './wasm.js';

const OP_CODES: Record<OpType, number> = {
  write: L.OP_WRITE,
  truncate: L.OP_TRUNCATE,
  create: L.OP_CREATE,
  mkdir: L.OP_MKDIR,
  rename: L.OP_RENAME,
  unlink: L.OP_UNLINK,
  rmdir: L.OP_RMDIR,
  setTimes: L.OP_SET_TIMES,
  symlink: L.OP_SYMLINK,
  chmod: L.OP_CHMOD,
};

const VERDICTS: Record<number, RecordErrorCode> = {
  [L.FRAME_BAD_MAGIC]: 'BAD_MAGIC',
  [L.FRAME_UNSUPPORTED_VERSION]: 'UNSUPPORTED_VERSION',
  [L.FRAME_TRUNCATED]: 'TRUNCATED',
  [L.FRAME_LENGTH_MISMATCH]: 'LENGTH_MISMATCH',
  [L.FRAME_CHECKSUM_MISMATCH]: 'CHECKSUM_MISMATCH',
  [L.FRAME_FIELD_OUT_OF_RANGE]: 'FIELD_OUT_OF_RANGE',
};

const FIELD_NAMES: Record<number, string> = {
  [L.AT_OP]: 'op',
  [L.AT_FLAGS]: 'flags',
  [L.AT_FRAME_LENGTH]: 'frame length',
  [L.AT_LSN]: 'lsn',
  [L.AT_PATH_LENGTH]: 'path',
  [L.AT_TARGET_LENGTH]: 'target',
  [L.AT_OFFSET]: 'offset',
  [L.AT_PAYLOAD_LENGTH]: 'payload length',
  [L.AT_RESERVED]: 'reserved',
  [L.AT_OP_ID]: 'opId',
  [L.AT_ATIME]: 'atime',
  [L.AT_MTIME]: 'mtime',
};

const TWO_32 = 0x1_0000_0000;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function fieldError(field: string, why: string): RecordError {
  return new RecordError('FIELD_OUT_OF_RANGE', `record field ${field} is out of range: ${why}`, { field });
}

function verdictError(verdict: number, length: number): RecordError {
  const code = VERDICTS[verdict & 0xff] ?? 'FIELD_OUT_OF_RANGE';
  if (code === 'FIELD_OUT_OF_RANGE') {
    const field = FIELD_NAMES[verdict >>> 8] ?? `at byte ${verdict >>> 8}`;
    return fieldError(field, 'not allowed for this op or beyond its limit');
  }
  return new RecordError(code, `record frame of ${length} bytes rejected: ${code.toLowerCase().replaceAll('_', ' ')}`, { length });
}

function checkU32(field: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= TWO_32) {
    throw fieldError(field, `${String(value)} is not an integer in [0, 2^32)`);
  }
  return value as number;
}

function checkU53(field: string, value: unknown, min = 0): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw fieldError(field, `${String(value)} is not a safe integer >= ${min}`);
  }
  return value as number;
}

function checkTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fieldError(field, `${String(value)} is not a finite number`);
  return value;
}

function checkMode(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > L.MAX_MODE) {
    throw fieldError('mode', `${String(value)} is not an integer in [0, 0o7777]`);
  }
  return value as number;
}

/** The second text of the ops that have one: a rename's target, a symlink's target. */
function targetOf(op: Op): string | undefined {
  return op.type === 'rename' || op.type === 'symlink' ? op.target : undefined;
}

/** Writes `text` as UTF-8 at `at` in WebAssembly memory; returns the byte count. */
function putPath(field: string, text: unknown, memory: Uint8Array, at: number): number {
  if (typeof text !== 'string' || text.length === 0 || !text.isWellFormed()) {
    throw fieldError(field, 'must be a non-empty, well-formed string');
  }
  const { read, written } = utf8.encodeInto(text, memory.subarray(at, at + L.MAX_PATH_BYTES + 4));
  if (read !== text.length || written > L.MAX_PATH_BYTES) {
    throw fieldError(field, `longer than ${L.MAX_PATH_BYTES} UTF-8 bytes`);
  }
  return written;
}

/** The op's flags, its offset-like number, and its times, as the frame holds them. */
function opFields(op: Op): { flags: number; offset: number; atime: number; mtime: number } {
  const mtime = 'mtimeMs' in op ? checkTime('mtime', op.mtimeMs ?? 0) : 0;
  switch (op.type) {
    case 'write':
      return { flags: 0, offset: checkU53('offset', op.offset), atime: 0, mtime };
    case 'truncate':
      return { flags: 0, offset: checkU53('size', op.size), atime: 0, mtime };
    case 'create':
      return { flags: (op.exclusive ? L.FLAG_EXCLUSIVE : 0) | (op.truncate ? L.FLAG_TRUNCATE : 0), offset: 0, atime: 0, mtime };
    case 'mkdir':
    case 'rmdir':
      return { flags: op.recursive ? L.FLAG_RECURSIVE : 0, offset: 0, atime: 0, mtime: 0 };
    case 'setTimes':
      return { flags: 0, offset: 0, atime: checkTime('atime', op.atimeMs), mtime };
    case 'chmod':
      return { flags: 0, offset: checkMode(op.mode), atime: 0, mtime: 0 };
    default:
      return { flags: 0, offset: 0, atime: 0, mtime: 0 };
  }
}

function payloadOf(op: Op): Uint8Array | undefined {
  if (op.type !== 'write') return undefined;
  if (!(op.data instanceof Uint8Array)) throw fieldError('payload', 'write data must be a Uint8Array');
  if (op.data.length > L.MAX_PAYLOAD_LENGTH) {
    throw fieldError('payload', `${op.data.length} bytes is more than one record holds (${L.MAX_PAYLOAD_LENGTH})`);
  }
  return op.data;
}

/** Frames `record` in WebAssembly scratch memory; returns the frame's length there. */
function frameInScratch(record: JournalRecord): number {
  const { op } = record;
  const code = OP_CODES[op?.type];
  if (code === undefined) throw fieldError('op', `unknown op type ${String(op?.type)}`);
  const volume = checkU32('volume', record.volume);
  const epoch = checkU32('epoch', record.epoch);
  const lsn = checkU53('lsn', record.lsn, 1);
  const opId = checkU53('opId', record.opId);
  const fields = opFields(op);
  const payload = payloadOf(op);

  const memory = wasmBytes();
  const pathLength = putPath('path', op.path, memory, L.SCRATCH_IN);
  const target = targetOf(op);
  const targetLength = target === undefined ? 0 : putPath('target', target, memory, L.SCRATCH_IN + pathLength);
  const payloadLength = payload?.length ?? 0;
  if (payload) memory.set(payload, L.SCRATCH_IN + pathLength + targetLength);

  const result = encode(
    code, fields.flags, volume, epoch,
    lsn >>> 0, Math.floor(lsn / TWO_32), fields.offset >>> 0, Math.floor(fields.offset / TWO_32),
    opId >>> 0, Math.floor(opId / TWO_32), fields.atime, fields.mtime,
    pathLength, targetLength, payloadLength,
  );
  if (result & L.ENCODE_REFUSED) throw verdictError(result & ~L.ENCODE_REFUSED, 0);
  return result;
}

/** Frames `record` (header, path, target, payload, CRC32C) into a new Uint8Array of its own. */
export function encodeRecord(record: JournalRecord): Uint8Array {
  const length = frameInScratch(record);
  return wasmBytes().slice(L.SCRATCH_OUT, L.SCRATCH_OUT + length);
}

/**
 * Frames `record` into `target` at byte `at` and returns the frame's length: the allocation-free
 * form, for packing many frames into one buffer (a group commit, a link message).
 */
export function encodeRecordInto(record: JournalRecord, target: Uint8Array, at = 0): number {
  const length = frameInScratch(record);
  if (!Number.isInteger(at) || at < 0 || at + length > target.length) {
    throw new RecordError('BUFFER_TOO_SMALL', `a frame of ${length} bytes does not fit at ${at} in a buffer of ${target.length}`, {
      length,
      at,
      capacity: target.length,
    });
  }
  target.set(wasmBytes().subarray(L.SCRATCH_OUT, L.SCRATCH_OUT + length), at);
  return length;
}

function readU53(frame: DataView, at: number): number {
  return frame.getUint32(at + 4, true) * TWO_32 + frame.getUint32(at, true);
}

function readPath(field: string, bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw fieldError(field, 'not valid UTF-8');
  }
}

/** The op of a verified frame: fields from its header, names from its body, a write's bytes as `data`. */
function decodeOp(header: DataView, body: Uint8Array, data: Uint8Array): Op {
  const pathLength = header.getUint16(L.AT_PATH_LENGTH, true);
  const targetLength = header.getUint16(L.AT_TARGET_LENGTH, true);
  const path = readPath('path', body.subarray(0, pathLength));
  const target = () => readPath('target', body.subarray(pathLength, pathLength + targetLength));
  const flags = header.getUint16(L.AT_FLAGS, true);
  const mtimeMs = header.getFloat64(L.AT_MTIME, true);
  switch (header.getUint8(L.AT_OP)) {
    case L.OP_WRITE:
      return { type: 'write', path, offset: readU53(header, L.AT_OFFSET), data, mtimeMs };
    case L.OP_TRUNCATE:
      return { type: 'truncate', path, size: readU53(header, L.AT_OFFSET), mtimeMs };
    case L.OP_CREATE:
      return { type: 'create', path, exclusive: (flags & L.FLAG_EXCLUSIVE) !== 0, truncate: (flags & L.FLAG_TRUNCATE) !== 0, mtimeMs };
    case L.OP_MKDIR:
      return { type: 'mkdir', path, recursive: (flags & L.FLAG_RECURSIVE) !== 0 };
    case L.OP_RENAME:
      return { type: 'rename', path, target: target() };
    case L.OP_UNLINK:
      return { type: 'unlink', path };
    case L.OP_RMDIR:
      return { type: 'rmdir', path, recursive: (flags & L.FLAG_RECURSIVE) !== 0 };
    case L.OP_SYMLINK:
      return { type: 'symlink', path, target: target() };
    case L.OP_CHMOD:
      return { type: 'chmod', path, mode: readU53(header, L.AT_OFFSET) };
    default:
      return { type: 'setTimes', path, atimeMs: header.getFloat64(L.AT_ATIME, true), mtimeMs };
  }
}

/**
 * Verifies `frame` (magic, version, lengths, CRC32C, every field) and decodes it. Damage of any
 * kind throws a RecordError whose code says which; nothing unverified is ever returned.
 * A write's `data` is a view into `frame` (no copy), so keep `frame` unchanged while you use it.
 */
export function decodeRecord(frame: Uint8Array): JournalRecord {
  if (!(frame instanceof Uint8Array)) throw new RecordError('TRUNCATED', 'a record frame must be a Uint8Array');
  // Another thread could change a shared buffer between the check and the read: check a copy.
  if (!(frame.buffer instanceof ArrayBuffer)) frame = frame.slice();
  const memory = wasmBytes();
  const copied = Math.min(frame.length, L.SCRATCH_BYTES);
  memory.set(frame.subarray(0, copied), L.SCRATCH_IN);
  const verdict = verify(frame.length, copied);
  if (verdict !== L.FRAME_OK) throw verdictError(verdict, frame.length);

  // Fields come from the verified copy in scratch memory; the payload is the same bytes in `frame`.
  const header = new DataView(memory.buffer, L.SCRATCH_IN, L.HEADER_LENGTH);
  const bodyEnd = frame.length - L.CHECKSUM_LENGTH;
  const body = memory.subarray(L.SCRATCH_IN + L.HEADER_LENGTH, L.SCRATCH_IN + bodyEnd);
  const payloadLength = header.getUint32(L.AT_PAYLOAD_LENGTH, true);
  return {
    volume: header.getUint32(L.AT_VOLUME, true),
    epoch: header.getUint32(L.AT_EPOCH, true),
    lsn: readU53(header, L.AT_LSN),
    opId: readU53(header, L.AT_OP_ID),
    op: decodeOp(header, body, frame.subarray(bodyEnd - payloadLength, bodyEnd)),
  };
}
