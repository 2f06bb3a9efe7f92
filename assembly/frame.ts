// Journal record frames: encode (header + copy of path, target and payload + CRC32C) and
// verify-before-decode. The byte layout lives in ../src/record/layout.ts; this file only follows it.
// No allocation: inputs come in at SCRATCH_IN, the encoded frame goes out at SCRATCH_OUT.
import {
  AT_ATIME, AT_EPOCH, AT_FLAGS, AT_FRAME_LENGTH, AT_LSN, AT_MAGIC, AT_MTIME, AT_OFFSET, AT_OP,
  AT_OP_ID, AT_PATH_LENGTH, AT_PAYLOAD_LENGTH, AT_RESERVED, AT_TARGET_LENGTH, AT_VERSION, AT_VOLUME,
  CHECKSUM_LENGTH, ENCODE_REFUSED, FLAG_EXCLUSIVE, FLAG_RECURSIVE, FLAG_TRUNCATE, FRAME_BAD_MAGIC,
  FRAME_CHECKSUM_MISMATCH, FRAME_FIELD_OUT_OF_RANGE, FRAME_LENGTH_MISMATCH, FRAME_OK,
  FRAME_TRUNCATED, FRAME_UNSUPPORTED_VERSION, HEADER_LENGTH, MAGIC, MAX_FRAME_LENGTH,
  MAX_HIGH_WORD, MAX_MODE, MAX_PATH_BYTES, OP_CHMOD, OP_CREATE, OP_LAST, OP_MKDIR, OP_RENAME, OP_RMDIR,
  OP_SET_TIMES, OP_SYMLINK, OP_TRUNCATE, OP_WRITE, SCRATCH_IN, SCRATCH_OUT, VERSION,
} from "../src/record/layout";
import { crc32cUpdate } from "./crc32c";

/** A field verdict: FRAME_FIELD_OUT_OF_RANGE with the offending field's byte offset above it. */
@inline function badField(at: i32): u32 {
  return <u32>FRAME_FIELD_OUT_OF_RANGE | (<u32>at << 8);
}

function allowedFlags(op: u32): u32 {
  if (op == OP_CREATE) return FLAG_EXCLUSIVE | FLAG_TRUNCATE;
  if (op == OP_MKDIR || op == OP_RMDIR) return FLAG_RECURSIVE;
  return 0;
}

@inline function isFinite64(x: f64): bool {
  return x - x == 0;
}

@inline function highWordOk(frame: usize, at: i32): bool {
  return load<u32>(frame + <usize>at + 4) <= <u32>MAX_HIGH_WORD;
}

/** Checks every field's range and its fit with the op; FRAME_OK or a field verdict. */
function checkFields(frame: usize): u32 {
  const op = <u32>load<u8>(frame + AT_OP);
  if (op < 1 || op > <u32>OP_LAST) return badField(AT_OP);
  if ((<u32>load<u16>(frame + AT_FLAGS) & ~allowedFlags(op)) != 0) return badField(AT_FLAGS);
  if (load<u32>(frame + AT_RESERVED) != 0) return badField(AT_RESERVED);
  const pathLength = <u32>load<u16>(frame + AT_PATH_LENGTH);
  if (pathLength < 1 || pathLength > <u32>MAX_PATH_BYTES) return badField(AT_PATH_LENGTH);
  const targetLength = <u32>load<u16>(frame + AT_TARGET_LENGTH);
  if (op == OP_RENAME || op == OP_SYMLINK ? targetLength < 1 || targetLength > <u32>MAX_PATH_BYTES : targetLength != 0) {
    return badField(AT_TARGET_LENGTH);
  }
  if (op != OP_WRITE && load<u32>(frame + AT_PAYLOAD_LENGTH) != 0) return badField(AT_PAYLOAD_LENGTH);
  if (!highWordOk(frame, AT_LSN) || load<u64>(frame + AT_LSN) == 0) return badField(AT_LSN);
  if (!highWordOk(frame, AT_OFFSET)) return badField(AT_OFFSET);
  const offset = load<u64>(frame + AT_OFFSET);
  if (op == OP_CHMOD ? offset > <u64>MAX_MODE : op != OP_WRITE && op != OP_TRUNCATE && offset != 0) return badField(AT_OFFSET);
  if (!highWordOk(frame, AT_OP_ID)) return badField(AT_OP_ID);
  const atime = load<f64>(frame + AT_ATIME);
  if (!isFinite64(atime) || (op != OP_SET_TIMES && atime != 0)) return badField(AT_ATIME);
  const mtime = load<f64>(frame + AT_MTIME);
  const stamped = op == OP_WRITE || op == OP_TRUNCATE || op == OP_CREATE || op == OP_SET_TIMES;
  if (!isFinite64(mtime) || (!stamped && mtime != 0)) return badField(AT_MTIME);
  return FRAME_OK;
}

/**
 * Builds a frame at SCRATCH_OUT from the fields given and the path, target and payload bytes laid
 * one after another at SCRATCH_IN. Returns the frame length, or ENCODE_REFUSED | a field verdict
 * when a field is out of range (frame lengths never reach that bit).
 */
export function encode(
  op: u32, flags: u32, volume: u32, epoch: u32,
  lsnLow: u32, lsnHigh: u32, offsetLow: u32, offsetHigh: u32, opIdLow: u32, opIdHigh: u32,
  atime: f64, mtime: f64, pathLength: u32, targetLength: u32, payloadLength: u32,
): u32 {
  const frame: usize = SCRATCH_OUT;
  const bodyLength = <u64>pathLength + <u64>targetLength + <u64>payloadLength;
  const frameLength = <u64>HEADER_LENGTH + bodyLength + <u64>CHECKSUM_LENGTH;
  if (frameLength > <u64>MAX_FRAME_LENGTH) return ENCODE_REFUSED | badField(AT_FRAME_LENGTH);
  if (pathLength > 0xffff) return ENCODE_REFUSED | badField(AT_PATH_LENGTH);
  if (targetLength > 0xffff) return ENCODE_REFUSED | badField(AT_TARGET_LENGTH);
  store<u32>(frame + AT_MAGIC, MAGIC);
  store<u8>(frame + AT_VERSION, <u8>VERSION);
  store<u8>(frame + AT_OP, <u8>op);
  store<u16>(frame + AT_FLAGS, <u16>flags);
  store<u32>(frame + AT_FRAME_LENGTH, <u32>frameLength);
  store<u32>(frame + AT_VOLUME, volume);
  store<u32>(frame + AT_LSN, lsnLow);
  store<u32>(frame + AT_LSN + 4, lsnHigh);
  store<u32>(frame + AT_EPOCH, epoch);
  store<u16>(frame + AT_PATH_LENGTH, <u16>pathLength);
  store<u16>(frame + AT_TARGET_LENGTH, <u16>targetLength);
  store<u32>(frame + AT_OFFSET, offsetLow);
  store<u32>(frame + AT_OFFSET + 4, offsetHigh);
  store<u32>(frame + AT_PAYLOAD_LENGTH, payloadLength);
  store<u32>(frame + AT_RESERVED, 0);
  store<u32>(frame + AT_OP_ID, opIdLow);
  store<u32>(frame + AT_OP_ID + 4, opIdHigh);
  store<f64>(frame + AT_ATIME, atime);
  store<f64>(frame + AT_MTIME, mtime);
  if ((flags & ~0xffff) != 0) return ENCODE_REFUSED | badField(AT_FLAGS);
  if (op > 0xff) return ENCODE_REFUSED | badField(AT_OP);
  const verdict = checkFields(frame);
  if (verdict != FRAME_OK) return ENCODE_REFUSED | verdict;
  memory.copy(frame + HEADER_LENGTH, SCRATCH_IN, <usize>bodyLength);
  const checked = <usize>frameLength - CHECKSUM_LENGTH;
  store<u32>(frame + checked, ~crc32cUpdate(~0, frame, checked));
  return <u32>frameLength;
}

/**
 * Verifies the frame of `length` bytes whose first `copied` bytes sit at SCRATCH_IN (a longer
 * input is only partly copied: it can never be a valid frame). The checks run in a fixed order,
 * so each kind of damage has one verdict: magic, version, truncation, lengths, checksum, fields.
 */
export function verify(length: u32, copied: u32): u32 {
  const frame: usize = SCRATCH_IN;
  if (length < 4 || copied < 4) return FRAME_TRUNCATED;
  if (load<u32>(frame + AT_MAGIC) != MAGIC) return FRAME_BAD_MAGIC;
  if (length < 5) return FRAME_TRUNCATED;
  if (<i32>load<u8>(frame + AT_VERSION) != VERSION) return FRAME_UNSUPPORTED_VERSION;
  if (length < <u32>(HEADER_LENGTH + CHECKSUM_LENGTH) || copied < <u32>HEADER_LENGTH) return FRAME_TRUNCATED;
  const frameLength = load<u32>(frame + AT_FRAME_LENGTH);
  if (frameLength > length) return FRAME_TRUNCATED;
  if (frameLength < length) return FRAME_LENGTH_MISMATCH;
  const declared = <u64>HEADER_LENGTH + <u64>load<u16>(frame + AT_PATH_LENGTH) +
    <u64>load<u16>(frame + AT_TARGET_LENGTH) + <u64>load<u32>(frame + AT_PAYLOAD_LENGTH) +
    <u64>CHECKSUM_LENGTH;
  if (declared != <u64>frameLength) return FRAME_LENGTH_MISMATCH;
  if (frameLength > <u32>MAX_FRAME_LENGTH || copied < frameLength) return badField(AT_FRAME_LENGTH);
  const checked = <usize>frameLength - CHECKSUM_LENGTH;
  if (load<u32>(frame + checked) != ~crc32cUpdate(~0, frame, checked)) return FRAME_CHECKSUM_MISMATCH;
  return checkFields(frame);
}
