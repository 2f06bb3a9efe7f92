// The owner's cache of small files' bytes, kept in step with every op it accepts. A read of a
// cached file is answered at once: no wait for the flush, no trip to the medium. isomorphic-git
// reads the same few small files (config, HEAD, refs, objects just written) over and over.
//
// Keyed by the namespace's entry object, so a cached file follows its renames. Bounded: files up
// to `maxFile` bytes, `maxBytes` in all, least recently used first out.
import type { Op } from '../record/types.js';
import type { FileEntry } from './namespace.js';

export class ContentCache {
  readonly #files = new Map<FileEntry, Uint8Array>();
  #bytes = 0;

  constructor(readonly maxBytes = 8 << 20, readonly maxFile = 256 << 10) {}

  get(file: FileEntry): Uint8Array | undefined {
    const bytes = this.#files.get(file);
    if (bytes) {
      this.#files.delete(file); // most recently used last
      this.#files.set(file, bytes);
    }
    return bytes;
  }

  /** Remembers a file's whole content (when it is small enough). */
  set(file: FileEntry, bytes: Uint8Array): void {
    this.drop(file);
    if (bytes.length > this.maxFile) return;
    this.#files.set(file, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, old] of this.#files) {
      if (this.#bytes <= this.maxBytes) break;
      this.#files.delete(oldest);
      this.#bytes -= old.length;
    }
  }

  drop(file: FileEntry): void {
    const bytes = this.#files.get(file);
    if (!bytes) return;
    this.#files.delete(file);
    this.#bytes -= bytes.length;
  }

  clear(): void {
    this.#files.clear();
    this.#bytes = 0;
  }

  /**
   * Applies an accepted op on `file` (as the namespace now has it, `file.size` included) to its
   * cached bytes. A file not cached becomes cached when the op leaves its whole content known:
   * emptied, or written from offset 0 to its end.
   */
  update(file: FileEntry, op: Op): void {
    const size = file.size;
    if (size === undefined || size > this.maxFile) return this.drop(file);
    const cached = this.#files.get(file);
    switch (op.type) {
      case 'write': {
        if (!cached) {
          if (op.offset === 0 && op.data.length === size) this.set(file, op.data.slice());
          return;
        }
        const bytes = resized(cached, size);
        bytes.set(op.data, op.offset);
        return this.set(file, bytes);
      }
      case 'truncate':
      case 'create':
        if (size === 0) return this.set(file, new Uint8Array(0));
        if (cached) this.set(file, resized(cached, size));
        return;
      default:
        return;
    }
  }
}

/** A copy of `bytes` at `size`: cut short, or grown with zeros. */
function resized(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(bytes.subarray(0, Math.min(size, bytes.length)));
  return out;
}
