// The owner's cache of small files' bytes follows every op on them, and stays within its bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContentCache } from '../../src/core/content-cache.js';
import type { FileEntry } from '../../src/core/namespace.js';
import type { Op } from '../../src/record/types.js';

const file = (size: number): FileEntry => ({ kind: 'file', size, mode: 0o644, atimeMs: 0, mtimeMs: 0, lsn: 1 });
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => (data ? new TextDecoder().decode(data) : undefined);

/** Applies `op` to the entry as the namespace would (size first), then to the cache. */
function apply(cache: ContentCache, entry: FileEntry, op: Op): void {
  if (op.type === 'write' && op.data.length > 0) entry.size = Math.max(entry.size ?? 0, op.offset + op.data.length);
  if (op.type === 'truncate') entry.size = op.size;
  if (op.type === 'create' && op.truncate) entry.size = 0;
  cache.update(entry, op);
}

describe('content cache', () => {
  test('a write of a whole file makes it known; later writes and truncates follow', () => {
    const cache = new ContentCache();
    const f = file(0);
    apply(cache, f, { type: 'write', path: '/f', offset: 0, data: bytes('hello') });
    assert.equal(text(cache.get(f)), 'hello');
    apply(cache, f, { type: 'write', path: '/f', offset: 3, data: bytes('p!!') });
    assert.equal(text(cache.get(f)), 'help!!');
    apply(cache, f, { type: 'truncate', path: '/f', size: 4 });
    assert.equal(text(cache.get(f)), 'help');
    apply(cache, f, { type: 'truncate', path: '/f', size: 6 });
    assert.deepEqual([...cache.get(f)!], [...bytes('help'), 0, 0]);
  });

  test('a write of part of a file not cached leaves it unknown', () => {
    const cache = new ContentCache();
    const f = file(10);
    apply(cache, f, { type: 'write', path: '/f', offset: 2, data: bytes('xy') });
    assert.equal(cache.get(f), undefined);
    apply(cache, f, { type: 'create', path: '/f', truncate: true });
    assert.equal(text(cache.get(f)), '');
  });

  test('files past maxFile are not kept, and the least recently used go first past maxBytes', () => {
    const cache = new ContentCache(10, 6);
    const [a, b, c, big] = [file(0), file(0), file(0), file(0)];
    apply(cache, big, { type: 'write', path: '/big', offset: 0, data: bytes('1234567') });
    assert.equal(cache.get(big), undefined);
    apply(cache, a, { type: 'write', path: '/a', offset: 0, data: bytes('aaaa') });
    apply(cache, b, { type: 'write', path: '/b', offset: 0, data: bytes('bbbb') });
    cache.get(a); // a is now more recent than b
    apply(cache, c, { type: 'write', path: '/c', offset: 0, data: bytes('cccc') });
    assert.equal(cache.get(b), undefined, 'b was the least recently used');
    assert.equal(text(cache.get(a)), 'aaaa');
    assert.equal(text(cache.get(c)), 'cccc');
  });
});
