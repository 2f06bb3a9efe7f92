// The WebAssembly hot path, compiled and instantiated once per JavaScript realm by the bindings
// that `asc` generates (fetch in a browser, a file read in Node).
import { memory } from '../../build/release.js';

export { crc32cScratch, encode, verify } from '../../build/release.js';

let view = new Uint8Array(memory.buffer);

/** A byte view of WebAssembly memory, renewed if the memory ever grew (which detaches it). */
export function wasmBytes(): Uint8Array {
  if (view.buffer !== memory.buffer) view = new Uint8Array(memory.buffer);
  return view;
}
