// Paths: absolute POSIX, normalised; what tandemfs cannot store is refused with EINVAL naming the
// rule, before anything is sent. The mount table maps paths to volumes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FsError } from '../../src/errors.js';
import { checkLinkTarget, Mounts, normalize } from '../../src/fs/paths.js';

function refused(path: unknown, rule: RegExp): void {
  assert.throws(() => normalize(path, 'open'), (error: unknown) => error instanceof FsError && error.code === 'EINVAL' && error.syscall === 'open' && rule.test(error.message));
}

describe('paths', () => {
  test('normalises "." , ".." and repeated slashes', () => {
    assert.equal(normalize('/a//b/./c/../d/', 'open'), '/a/b/d');
    assert.equal(normalize('/', 'open'), '/');
    assert.equal(normalize('/a/..', 'open'), '/');
  });

  test('refuses, naming the rule: relative paths, ".." above the root, NUL, backslashes, overlong names', () => {
    refused('a/b', /must be absolute/);
    refused('/a/../..', /climb above the root/);
    refused('/a\0b', /NUL/);
    refused('/a\\b', /"\\"/);
    refused(`/${'x'.repeat(256)}`, /at most 255 bytes/);
    refused(42, /must be a string/);
  });

  test('a link target may be relative and climb; refused, naming the rule: empty, NUL, backslashes, overlong names or targets', () => {
    for (const target of ['a', '../../x/./y', '/abs/b', 'é/'.repeat(100)]) checkLinkTarget(target, '/l');
    const targetRefused = (target: unknown, rule: RegExp) =>
      assert.throws(() => checkLinkTarget(target, '/l'), (error: unknown) => error instanceof FsError && error.code === 'EINVAL' && error.syscall === 'symlink' && rule.test(error.message));
    targetRefused('', /non-empty string/);
    targetRefused(7, /non-empty string/);
    targetRefused('a\0b', /NUL/);
    targetRefused('a\\b', /"\\"/);
    targetRefused(`${'x'.repeat(256)}/y`, /at most 255 bytes/);
    targetRefused('ab/'.repeat(1366), /at most 4096 bytes/);
  });

    test('the longest mounted prefix wins; "/" must be mounted', () => {
    const mounts = new Mounts({ '/': 0, '/big': 1, '/big/deeper': 2 });
    assert.deepEqual(mounts.place('/x', 'open'), { volume: 0, path: '/x', full: '/x' });
    assert.deepEqual(mounts.place('/big', 'open'), { volume: 1, path: '/', full: '/big' });
    assert.deepEqual(mounts.place('/big/a', 'open'), { volume: 1, path: '/a', full: '/big/a' });
    assert.deepEqual(mounts.place('/bigger', 'open'), { volume: 0, path: '/bigger', full: '/bigger' });
    assert.deepEqual(mounts.place('/big/deeper/z', 'open'), { volume: 2, path: '/z', full: '/big/deeper/z' });
    assert.deepEqual(mounts.volumes, [0, 1, 2]);
    assert.throws(() => new Mounts({ '/a': 1 }), /must mount "\/"/);
  });
});
