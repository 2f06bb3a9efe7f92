// CRC32C (Castagnoli) over any amount of data, streamed through the WebAssembly scratch region.
import { SCRATCH_BYTES, SCRATCH_IN } from './layout.js';
import { crc32cScratch, wasmBytes } from './wasm.js';

type Bytes = ArrayBufferView | ArrayBufferLike;

function asBytes(data: Bytes): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

function advance(state: number, bytes: Uint8Array): number {
  const memory = wasmBytes();
  for (let at = 0; at < bytes.length; at += SCRATCH_BYTES) {
    const chunk = bytes.subarray(at, at + SCRATCH_BYTES);
    memory.set(chunk, SCRATCH_IN);
    state = crc32cScratch(state, chunk.length);
  }
  return state;
}

/**
 * CRC32C of `data`. Pass a previous result as `previous` to continue it:
 * crc32c(b, crc32c(a)) === crc32c(a + b).
 */
export function crc32c(data: Bytes, previous = 0): number {
  return ~advance(~previous >>> 0, asBytes(data)) >>> 0;
}

/** The streaming form: update() as data arrives, digest() for the CRC so far. */
export class Crc32c {
  #state = 0xffffffff;

  update(data: Bytes): this {
    this.#state = advance(this.#state, asBytes(data));
    return this;
  }

  digest(): number {
    return ~this.#state >>> 0;
  }
}
