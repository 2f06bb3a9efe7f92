// The journal record frame, version 1 — the single source of the byte layout.
//
// This file is compiled twice: by TypeScript for `src/`, and by AssemblyScript for `assembly/`.
// So it holds only plain integer constants (AssemblyScript infers them as i32), no types and no
// functions. `docs/record-format.md` explains every field; keep the two in step.
//
//   offset size field
//   0      4    magic            "TDJR" (0x54 0x44 0x4A 0x52)
//   4      1    version          1
//   5      1    op               OP_* below
//   6      2    flags            FLAG_* below; only those allowed for the op
//   8      4    frame length     whole frame in bytes, checksum included
//   12     4    volume           volume id
//   16     8    LSN              log sequence number within the volume, >= 1
//   24     4    epoch            ownership epoch of the volume when the op was accepted
//   28     2    path length      UTF-8 bytes of the path, 1..MAX_PATH_BYTES
//   30     2    target length    UTF-8 bytes of the rename target or the symlink's target (0 otherwise)
//   32     8    offset           write: byte offset; truncate: new size; chmod: the mode; 0 otherwise
//   40     4    payload length   write: data bytes; 0 otherwise
//   44     4    reserved         0
//   48     8    op id            the client's id for the op, so a retried op is recognised
//   56     8    atime            float64 milliseconds since the epoch (set-times)
//   64     8    mtime            float64 milliseconds since the epoch (set-times, write)
//   72     n    path, target, payload (in that order, unpadded)
//   end-4  4    CRC32C           Castagnoli, over every byte before it
// Integers are little-endian; 64-bit integers stay below 2^53 so JavaScript numbers hold them.

export const MAGIC = 0x524a4454; // "TDJR" read as a little-endian u32
export const VERSION = 1;

export const AT_MAGIC = 0;
export const AT_VERSION = 4;
export const AT_OP = 5;
export const AT_FLAGS = 6;
export const AT_FRAME_LENGTH = 8;
export const AT_VOLUME = 12;
export const AT_LSN = 16;
export const AT_EPOCH = 24;
export const AT_PATH_LENGTH = 28;
export const AT_TARGET_LENGTH = 30;
export const AT_OFFSET = 32;
export const AT_PAYLOAD_LENGTH = 40;
export const AT_RESERVED = 44;
export const AT_OP_ID = 48;
export const AT_ATIME = 56;
export const AT_MTIME = 64;
export const HEADER_LENGTH = 72;
export const CHECKSUM_LENGTH = 4;

export const OP_WRITE = 1;
export const OP_TRUNCATE = 2;
export const OP_CREATE = 3;
export const OP_MKDIR = 4;
export const OP_RENAME = 5;
export const OP_UNLINK = 6;
export const OP_RMDIR = 7;
export const OP_SET_TIMES = 8;
export const OP_SYMLINK = 9; // path: the link; target: the text it holds
export const OP_CHMOD = 10; // offset: the permission bits, 0..MAX_MODE
export const OP_LAST = 10;

export const FLAG_EXCLUSIVE = 1; // create: fail if the file exists (checked by the owner)
export const FLAG_TRUNCATE = 2; // create: empty an existing file
export const FLAG_RECURSIVE = 4; // mkdir: make parents; rmdir: remove contents

export const MAX_PATH_BYTES = 4096;
export const MAX_MODE = 0o7777; // permission bits with setuid, setgid and sticky
// A frame must fit one WebRTC message (pc.sctp.maxMessageSize is 262144 in Chromium).
export const MAX_FRAME_LENGTH = 262144;
export const MAX_PAYLOAD_LENGTH = MAX_FRAME_LENGTH - HEADER_LENGTH - CHECKSUM_LENGTH;
// Upper 32 bits of a 64-bit field: at most 2^21 - 1 keeps the value below 2^53.
export const MAX_HIGH_WORD = 0x1fffff;

// Verdicts of frame verification; 0 means the frame is sound.
export const FRAME_OK = 0;
export const FRAME_BAD_MAGIC = 1;
export const FRAME_UNSUPPORTED_VERSION = 2;
export const FRAME_TRUNCATED = 3;
export const FRAME_LENGTH_MISMATCH = 4;
export const FRAME_CHECKSUM_MISMATCH = 5;
export const FRAME_FIELD_OUT_OF_RANGE = 6;
// Set in encode's result when it refused its fields; the rest of the result is the verdict.
export const ENCODE_REFUSED = 0x80000000;

// WebAssembly linear memory map (bytes). Everything below MEMORY_BASE is ours; asc places its
// static data above it (`--memoryBase` in asconfig.json must equal MEMORY_BASE).
export const CRC_TABLES = 0; // 16 tables x 256 x u32 for slicing-by-16
export const CRC_TABLE_BYTES = 1024;
export const CRC_SHIFT_TABLE = 16384; // 4 tables x 256 x u32: shift a register by one segment
export const CRC_SEGMENT = 256; // bytes per stream in a three-stream block; a multiple of 16
export const SCRATCH_IN = 65536; // encode inputs (paths, payload) / decode input / CRC chunks
export const SCRATCH_BYTES = MAX_FRAME_LENGTH;
export const SCRATCH_OUT = SCRATCH_IN + SCRATCH_BYTES; // the encoded frame
export const MEMORY_BASE = SCRATCH_OUT + SCRATCH_BYTES;
