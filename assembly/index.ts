// The WebAssembly hot path of tandemfs: CRC32C and journal record frames.
// Exceptions never cross this boundary: every function returns a number the caller interprets.
import { MAX_FRAME_LENGTH, SCRATCH_IN, SCRATCH_OUT } from "../src/record/layout";
import { crc32cUpdate } from "./crc32c";

export { encode, verify } from "./frame";

/** CRC32C register advanced over `length` bytes (at most one scratch) at SCRATCH_IN. */
export function crc32cScratch(state: u32, length: u32): u32 {
  return crc32cUpdate(state, SCRATCH_IN, min(length, <u32>MAX_FRAME_LENGTH));
}

/** Where callers put inputs, and where encode leaves its frame. */
export function scratchIn(): usize { return SCRATCH_IN; }
export function scratchOut(): usize { return SCRATCH_OUT; }
