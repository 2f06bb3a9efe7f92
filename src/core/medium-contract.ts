// The contract every Medium implementation keeps: volume state, claims and fencing, the
// replay-safe op semantics documented on `Medium` (./ports.ts), and its reads (stat, list, read).
// Framework-free, so that the same cases run under node:test against the in-memory medium and in
// a browser against OPFS.
import type { Op } from '../record/types.js';
import type { DirEntry, EntryStat, LsnOp, Medium, VolumeState } from './ports.js';

/** A fresh, empty medium, with a read view of its files for the checks (test-only). */
export interface MediumUnderTest {
  readonly medium: Medium;
  /** A file's bytes; undefined when no file is at `path`. */
  read(volume: number, path: string): Promise<Uint8Array | undefined>;
  /** True when a file or a directory is at `path`. */
  exists(volume: number, path: string): Promise<boolean>;
}

export interface MediumCase {
  readonly name: string;
  run(make: () => Promise<MediumUnderTest>): Promise<void>;
}

/** A volume other than 0, so an implementation that ignores the volume number shows it. */
const VOLUME = 3;

export function mediumContract(): MediumCase[] {
  return [...stateCases, ...opCases, ...replayCases, ...readCases];
}

// ---------------------------------------------------------------------------------------------
// Volume state, claims and fencing

const stateCases: MediumCase[] = [
  {
    name: "a new volume's state is epoch 0, applied 0 and no epochs",
    async run(make) {
      const { medium } = await make();
      checkState(await medium.state(VOLUME), { epoch: 0, applied: 0, epochs: [] }, 'new volume');
    },
  },
  {
    name: 'claim raises the epoch and records where it begins; a claim that does not raise the epoch is refused',
    async run(make) {
      const { medium } = await make();
      checkState(await medium.claim(VOLUME, 2, 0), { epoch: 2, applied: 0, epochs: [{ epoch: 2, base: 0 }] }, 'first claim');
      const expected = { epoch: 5, applied: 0, epochs: [{ epoch: 2, base: 0 }, { epoch: 5, base: 7 }] };
      checkState(await medium.claim(VOLUME, 5, 7), expected, 'second claim');
      await rejects(medium.claim(VOLUME, 5, 9), 'a claim of the same epoch');
      await rejects(medium.claim(VOLUME, 3, 9), 'a claim of a lower epoch');
      checkState(await medium.state(VOLUME), expected, 'after the refused claims');
    },
  },
  {
    name: 'apply applies ops in order and records the last LSN as applied, and the state reads back the same',
    async run(make) {
      const { medium, read } = await make();
      await medium.claim(VOLUME, 1, 0);
      await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'abc'), write('/f', 1, 'X'), truncate('/f', 2)]));
      await checkFile(read, '/f', 'aX');
      const expected = { epoch: 1, applied: 3, epochs: [{ epoch: 1, base: 0 }] };
      checkState(await medium.state(VOLUME), expected, 'after the first apply');
      checkState(await medium.state(VOLUME), expected, 'read again');
      await medium.apply(VOLUME, 1, numbered(4, [write('/f', 2, 'yz'), write('/g', 0, 'g')]));
      await checkFile(read, '/f', 'aXyz');
      checkState(await medium.state(VOLUME), { ...expected, applied: 5 }, 'after the second apply');
    },
  },
  {
    name: "apply with an epoch below the volume's throws a FencedError and changes nothing",
    async run(make) {
      const { medium, read, exists } = await make();
      await medium.claim(VOLUME, 1, 0);
      await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'old')]));
      await medium.claim(VOLUME, 2, 1);
      const error = await rejects(medium.apply(VOLUME, 1, numbered(2, [write('/f', 0, 'new'), write('/g', 0, 'g')])), 'a fenced apply');
      check(codeOf(error) === 'EFENCED', `a fenced apply failed with ${String(error)}, not a FencedError`);
      await checkFile(read, '/f', 'old');
      check(!(await exists(VOLUME, '/g')), 'a fenced apply made /g');
      const expected = { epoch: 2, applied: 1, epochs: [{ epoch: 1, base: 0 }, { epoch: 2, base: 1 }] };
      checkState(await medium.state(VOLUME), expected, 'after the fenced apply');
    },
  },
  {
    name: 'apply with an epoch that was never claimed is refused and changes nothing',
    async run(make) {
      const { medium, exists } = await make();
      await medium.claim(VOLUME, 1, 0);
      const error = await rejects(medium.apply(VOLUME, 2, numbered(1, [write('/f', 0, 'x')])), 'an apply of an unclaimed epoch');
      check(codeOf(error) === 'EFENCED', `an apply of an unclaimed epoch failed with ${String(error)}, not a FencedError`);
      check(!(await exists(VOLUME, '/f')), 'an apply of an unclaimed epoch made /f');
    },
  },
  {
    name: 'ops at or below the applied position are skipped: replaying any suffix that starts at or before it changes nothing',
    async run(make) {
      const { medium, read } = await make();
      await medium.claim(VOLUME, 1, 0);
      const ops = numbered(1, [write('/a', 0, 'one'), { type: 'rename', path: '/a', target: '/b' }, write('/a', 0, 'two')]);
      for (const op of ops) await medium.apply(VOLUME, 1, [op]);
      for (let start = 0; start < ops.length; start++) {
        await medium.apply(VOLUME, 1, ops.slice(start));
        await checkFile(read, '/b', 'one');
        await checkFile(read, '/a', 'two');
        checkState(await medium.state(VOLUME), { epoch: 1, applied: 3, epochs: [{ epoch: 1, base: 0 }] }, `replayed from LSN ${start + 1}`);
      }
    },
  },
  {
    name: 'apply with no ops changes nothing, and is fenced like any other apply',
    async run(make) {
      const { medium } = await make();
      await medium.claim(VOLUME, 1, 0);
      await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'a')]));
      await medium.apply(VOLUME, 1, []);
      const expected = { epoch: 1, applied: 1, epochs: [{ epoch: 1, base: 0 }] };
      checkState(await medium.state(VOLUME), expected, 'after an empty apply');
      check(codeOf(await rejects(medium.apply(VOLUME, 0, []), 'an empty fenced apply')) === 'EFENCED', 'an empty fenced apply failed without a FencedError');
    },
  },
  {
    name: 'volumes are independent: claims and applies on one leave another as it was',
    async run(make) {
      const { medium, exists } = await make();
      await medium.claim(VOLUME, 4, 0);
      await medium.apply(VOLUME, 4, numbered(1, [write('/f', 0, 'a')]));
      checkState(await medium.state(VOLUME + 1), { epoch: 0, applied: 0, epochs: [] }, 'the other volume');
      check(!(await exists(VOLUME + 1, '/f')), "a write to one volume appeared in another");
    },
  },
  {
    name: 'a claim returns the op ids applied so far, in LSN order, each once; ops skipped as already applied and fenced applies add none',
    async run(make) {
      const { medium } = await make();
      check((await medium.claim(VOLUME, 1, 0)).recent.length === 0, 'a new volume reported recent op ids');
      // Op ids use all 53 bits: they are random numbers up to 2^53.
      const ids = (first: number, ops: readonly Op[]): LsnOp[] => ops.map((op, i) => ({ lsn: first + i, opId: 2 ** 53 - 1 - (first + i), op }));
      await medium.apply(VOLUME, 1, ids(1, [write('/f', 0, 'a'), write('/f', 1, 'b'), write('/f', 2, 'c')]));
      // A replay from LSN 2: LSNs 2 and 3 are skipped, 4 and 5 applied.
      await medium.apply(VOLUME, 1, [...ids(2, [write('/f', 1, 'b'), write('/f', 2, 'c')]), ...ids(4, [write('/g', 0, 'd'), mkdir('/h')])]);
      const expected = [1, 2, 3, 4, 5].map((lsn): [number, number] => [2 ** 53 - 1 - lsn, lsn]);
      checkRecent((await medium.claim(VOLUME, 2, 5)).recent, expected, 'after two applies');
      await rejects(medium.apply(VOLUME, 1, numbered(6, [write('/z', 0, 'zombie')])), 'a fenced apply');
      await medium.apply(VOLUME, 2, [{ lsn: 6, opId: 42, op: write('/f', 0, 'x') }]);
      checkRecent((await medium.claim(VOLUME, 3, 6)).recent, [...expected, [42, 6]], 'after a fenced apply and one more');
    },
  },
  {
    name: 'a claim returns the op ids of many batches, and a volume remembers its own alone',
    async run(make) {
      const { medium } = await make();
      await medium.claim(VOLUME, 1, 0);
      await medium.claim(VOLUME + 1, 1, 0);
      const expected: Array<[number, number]> = [];
      for (let lsn = 1; lsn <= 300; lsn += 30) {
        const batch = Array.from({ length: 30 }, (_, i) => ({ lsn: lsn + i, opId: 7_000_000 + lsn + i, op: write(`/f${i % 4}`, lsn + i, 'x') }));
        await medium.apply(VOLUME, 1, batch);
        expected.push(...batch.map(({ lsn, opId }): [number, number] => [opId, lsn]));
      }
      await medium.apply(VOLUME + 1, 1, [{ lsn: 1, opId: 99, op: mkdir('/other') }]);
      checkRecent((await medium.claim(VOLUME, 2, 300)).recent, expected, 'after 10 batches');
      checkRecent((await medium.claim(VOLUME + 1, 2, 1)).recent, [[99, 1]], 'the other volume');
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Each op's replay-safe semantics

const opCases: MediumCase[] = [
  {
    name: 'write makes the file and its missing parents, and zero-fills a gap before its offset',
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/d/e/f', 3, 'ab')]);
      await checkFile(t.read, '/d/e/f', '\0\0\0ab');
      await checkDirectory(t, '/d/e');
      await applyOps(t, [write('/d/e/f', 1, 'Z'), write('/d/e/f', 4, 'xyz')]);
      await checkFile(t.read, '/d/e/f', '\0Z\0axyz');
    },
  },
  {
    name: 'in one batch, an op that meets what an earlier op made as the other kind is skipped, and the rest apply',
    async run(make) {
      const t = await make();
      await applyOps(t, [
        write('/x', 0, 'file'), write('/x/y', 0, 'under a file'), { type: 'mkdir', path: '/d', recursive: false },
        write('/d', 0, 'over a directory'), { type: 'create', path: '/d/e', truncate: false }, write('/p/q', 0, 'r'),
      ]);
      await checkFile(t.read, '/x', 'file');
      await checkMissing(t, '/x/y');
      await checkDirectory(t, '/d');
      await checkFile(t.read, '/d/e', '');
      await checkFile(t.read, '/p/q', 'r');
    },
  },
  {
    name: 'truncate makes a missing file, shrinks a file, and zero-extends it',
    async run(make) {
      const t = await make();
      await applyOps(t, [truncate('/t/f', 3)]);
      await checkFile(t.read, '/t/f', '\0\0\0');
      await applyOps(t, [write('/t/f', 0, 'abcdef'), truncate('/t/f', 2)]);
      await checkFile(t.read, '/t/f', 'ab');
      await applyOps(t, [truncate('/t/f', 4)]);
      await checkFile(t.read, '/t/f', 'ab\0\0'); // the bytes cut off do not come back
    },
  },
  {
    name: 'create makes a missing file, leaves an existing one as it is, and empties it with truncate',
    async run(make) {
      const t = await make();
      await applyOps(t, [{ type: 'create', path: '/c/f' }]);
      await checkFile(t.read, '/c/f', '');
      await applyOps(t, [write('/c/f', 0, 'abc'), { type: 'create', path: '/c/f', exclusive: true }]);
      await checkFile(t.read, '/c/f', 'abc'); // `exclusive` was checked when the op was accepted
      await applyOps(t, [{ type: 'create', path: '/c/f', truncate: true }]);
      await checkFile(t.read, '/c/f', '');
    },
  },
  {
    name: 'mkdir with recursive makes the directory and its parents, and leaves an existing one alone',
    async run(make) {
      const t = await make();
      await applyOps(t, [{ type: 'mkdir', path: '/m/n/o', recursive: true }]);
      await checkDirectory(t, '/m/n/o');
      await applyOps(t, [write('/m/n/o/f', 0, 'kept'), { type: 'mkdir', path: '/m/n/o' }, { type: 'mkdir', path: '/m', recursive: true }]);
      await checkFile(t.read, '/m/n/o/f', 'kept');
    },
  },
  {
    name: "rename moves a file, replacing the target, and makes the target's parents",
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/a', 0, 'one'), write('/b', 0, 'two'), rename('/a', '/b')]);
      await checkFile(t.read, '/b', 'one');
      await checkMissing(t, '/a');
      await applyOps(t, [rename('/b', '/x/y/z')]);
      await checkFile(t.read, '/x/y/z', 'one');
      await checkMissing(t, '/b');
    },
  },
  {
    name: 'rename moves a directory with its contents, replacing a directory at the target',
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/d/f', 0, '1'), { type: 'mkdir', path: '/e' }, rename('/d', '/e')]);
      await checkFile(t.read, '/e/f', '1');
      await checkMissing(t, '/d');
    },
  },
  {
    name: 'rename of a missing path changes nothing',
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/b', 0, 'two'), rename('/a', '/b'), rename('/a', '/c')]);
      await checkFile(t.read, '/b', 'two');
      await checkMissing(t, '/a');
      await checkMissing(t, '/c');
    },
  },
  {
    name: 'unlink removes a file; rmdir removes an empty directory, and with recursive a directory with its contents',
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/f', 0, 'a'), { type: 'mkdir', path: '/e' }, write('/r/s/t', 0, 'b')]);
      await applyOps(t, [{ type: 'unlink', path: '/f' }, { type: 'rmdir', path: '/e' }, { type: 'rmdir', path: '/r', recursive: true }]);
      for (const path of ['/f', '/e', '/r/s/t', '/r']) await checkMissing(t, path);
    },
  },
  {
    name: 'unlink and rmdir of a missing path change nothing',
    async run(make) {
      const t = await make();
      await applyOps(t, [write('/d/f', 0, 'a')]);
      await applyOps(t, [
        { type: 'unlink', path: '/g' },
        { type: 'unlink', path: '/x/g' },
        { type: 'rmdir', path: '/e' },
        { type: 'rmdir', path: '/e', recursive: true },
      ]);
      await checkFile(t.read, '/d/f', 'a');
      await checkMissing(t, '/e');
    },
  },
  {
    name: 'setTimes makes nothing when the path is missing, and never changes contents',
    async run(make) {
      const t = await make();
      await applyOps(t, [setTimes('/nope'), write('/f', 0, 'abc'), setTimes('/f'), setTimes('/')]);
      await checkMissing(t, '/nope');
      await checkFile(t.read, '/f', 'abc');
    },
  },
  {
    name: 'symlink makes a link holding its target and chmod sets a mode, which stat and list report, and a rename carries both',
    async run(make) {
      const { medium } = await make();
      await applyOps({ medium }, [write('/d/f', 0, 'abc'), symlink('/d/l', '../x/é'), chmod('/d/f', 0o600), chmod('/d', 0o1700), mkdir('/d/e')]);
      checkStat(await medium.stat(VOLUME, '/d/l'), { kind: 'symlink', size: 7, mode: 0o777, target: '../x/é' }, '/d/l');
      checkStat(await medium.stat(VOLUME, '/d/f'), { kind: 'file', size: 3, mode: 0o600, target: undefined }, '/d/f');
      checkStat(await medium.stat(VOLUME, '/d'), { kind: 'directory', mode: 0o1700 }, '/d');
      checkStat(await medium.stat(VOLUME, '/'), { kind: 'directory', mode: 0o755 }, '/');
      const listed: Listed[] = [
        { name: 'e', kind: 'directory', mode: 0o755 }, { name: 'f', kind: 'file', mode: 0o600 },
        { name: 'l', kind: 'symlink', mode: 0o777, target: '../x/é' },
      ];
      checkList(await medium.list(VOLUME, '/d'), listed, '/d');
      await applyOps({ medium }, [rename('/d', '/r')]);
      checkStat(await medium.stat(VOLUME, '/r'), { kind: 'directory', mode: 0o1700 }, 'the renamed /d');
      checkList(await medium.list(VOLUME, '/r'), listed, 'the renamed /d');
      await applyOps({ medium }, [rename('/r/l', '/m'), chmod('/r/f', 0o644), write('/d', 0, 'new')]);
      checkStat(await medium.stat(VOLUME, '/m'), { kind: 'symlink', target: '../x/é' }, 'the renamed link');
      checkStat(await medium.stat(VOLUME, '/r/f'), { mode: 0o644 }, 'a file given the default mode again');
      checkStat(await medium.stat(VOLUME, '/d'), { kind: 'file', mode: 0o644 }, 'a new file where a chmod-ed directory was');
    },
  },
  {
    name: 'a link is never followed: writes onto it and through it, mkdir, rmdir and chmod of it are skipped; unlink removes it, not its target',
    async run(make) {
      const t = await make();
      await applyOps(t, [mkdir('/t'), symlink('/l', '/t'), symlink('/t', 'over a directory')]);
      await applyOps(t, [write('/l', 0, 'x'), write('/l/f', 0, 'y'), truncate('/l', 0), mkdir('/l/m'), chmod('/l', 0o600), { type: 'rmdir', path: '/l' }]);
      checkStat(await t.medium.stat(VOLUME, '/l'), { kind: 'symlink', mode: 0o777, target: '/t' }, '/l');
      checkList(await t.medium.list(VOLUME, '/t'), [], '/t');
      checkList(await t.medium.list(VOLUME, '/'), [{ name: 'l', kind: 'symlink', mode: 0o777, target: '/t' }, { name: 't', kind: 'directory' }], '/');
      await applyOps(t, [{ type: 'unlink', path: '/l' }]);
      await checkMissing(t, '/l');
      await checkDirectory(t, '/t');
      await applyOps(t, [symlink('/l', 'again'), { type: 'unlink', path: '/l' }, write('/l', 0, 'file')]);
      checkStat(await t.medium.stat(VOLUME, '/l'), { kind: 'file', mode: 0o644, target: undefined }, 'a file where a link was');
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Replay safety

/** A batch without rename, unlink or rmdir: applying it again, whole or any suffix, changes nothing. */
const repeatableBatch: readonly Op[] = [
  write('/f', 0, 'hello world'),
  truncate('/f', 5),
  write('/f', 8, 'xy'),
  { type: 'create', path: '/g', truncate: true },
  write('/g', 0, 'abc'),
  { type: 'create', path: '/g', truncate: true },
  write('/g', 2, 'z'),
  truncate('/f', 12),
  { type: 'mkdir', path: '/m/n', recursive: true },
  write('/m/n/o', 1, 'q'),
  setTimes('/m/n/o'),
];

type History = readonly (readonly Op[])[];

/**
 * Histories as the core would apply them: batches of consecutive ops, with every rename, unlink
 * and rmdir alone in its batch (the core splits them off). Every op is one an owner could accept.
 */
const histories: ReadonlyArray<{ readonly name: string; readonly batches: History }> = [
  { name: 'writes, truncates, creates and mkdirs', batches: [repeatableBatch] },
  {
    name: 'a rename whose source is written again',
    batches: [
      [write('/a', 0, 'one'), { type: 'mkdir', path: '/c' }],
      [rename('/a', '/b')],
      [write('/a', 0, 'two'), truncate('/b', 2)],
      [rename('/b', '/c/d')],
      [write('/b', 1, 'x')],
    ],
  },
  {
    name: 'unlinks and rmdirs whose paths are made again',
    batches: [
      [write('/a', 0, 'abc'), { type: 'mkdir', path: '/d' }, { type: 'mkdir', path: '/e' }, write('/e/f', 0, 'gone')],
      [{ type: 'unlink', path: '/a' }],
      [write('/a', 2, 'z'), { type: 'create', path: '/d/x', truncate: true }],
      [{ type: 'unlink', path: '/d/x' }],
      [{ type: 'rmdir', path: '/d' }],
      [{ type: 'rmdir', path: '/e', recursive: true }],
      [{ type: 'mkdir', path: '/e' }, write('/e/f', 0, 'new')],
    ],
  },
  {
    name: 'links and modes, renamed, removed and made again',
    batches: [
      [write('/a', 0, 'one'), mkdir('/d'), symlink('/l', 'a'), chmod('/a', 0o600), chmod('/d', 0o700)],
      [{ type: 'unlink', path: '/l' }],
      [symlink('/l', '/d'), write('/d/f', 0, 'x'), chmod('/d/f', 0o640)],
      [rename('/l', '/d/k')],
      [{ type: 'unlink', path: '/a' }],
      [write('/a', 0, 'two'), symlink('/l', 'd/k')],
      [rename('/d', '/e')],
    ],
  },
  {
    name: 'a directory renamed over an empty one, then its old path written again',
    batches: [
      [{ type: 'mkdir', path: '/d' }, write('/d/x', 0, '1'), { type: 'mkdir', path: '/e' }],
      [rename('/d', '/e')],
      [write('/d/x', 0, '3'), truncate('/e/x', 5)],
    ],
  },
];

const replayCases: MediumCase[] = [
  {
    name: 'applying a batch of writes, truncates, creates and mkdirs again, or any suffix of it, leaves the same contents',
    async run(make) {
      const once = await make();
      await applyOps(once, repeatableBatch);
      for (let start = 0; start < repeatableBatch.length; start += 1) {
        const twice = await make();
        await applyOps(twice, repeatableBatch);
        await twice.medium.apply(VOLUME, 1, numbered(1 + start, repeatableBatch.slice(start)));
        await checkSameContents(twice, once, pathsOf([repeatableBatch]), `the suffix from op ${start} applied again`);
      }
    },
  },
  {
    name: 'after a crash part-way through a batch, applying it again from its start, then the batches after it, leaves the same contents as applying once',
    async run(make) {
      for (const { name, batches } of histories) {
        const once = await make();
        await applyHistory(once, batches, batches.length, 0);
        for (let crashed = 0; crashed < batches.length; crashed += 1) {
          for (let done = 1; done <= (batches[crashed]?.length ?? 0); done += 1) {
            const replayed = await make();
            await applyHistory(replayed, batches, crashed, done);
            await checkSameContents(replayed, once, pathsOf(batches), `${name}: crash after ${done} ops of batch ${crashed}`);
          }
        }
      }
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Reads: stat, list and read, through the port itself

const readCases: MediumCase[] = [
  {
    name: "read gives back a new file's bytes, and any window of them: cut at the end, empty at or past it",
    async run(make) {
      const { medium } = await make();
      await applyOps({ medium }, [write('/r/f', 0, 'hello world')]);
      const windows: ReadonlyArray<readonly [offset: number, length: number, text: string]> = [
        [0, 11, 'hello world'], [0, 1 << 20, 'hello world'], [0, Number.MAX_SAFE_INTEGER, 'hello world'], [0, 1, 'h'],
        [6, 5, 'world'], [6, 100, 'world'], [3, 0, ''], [10, 5, 'd'], [11, 5, ''], [50, 5, ''],
      ];
      for (const [offset, length, text] of windows) {
        const got = await medium.read(VOLUME, '/r/f', offset, length);
        check(sameBytes(got, ascii(text)), `read at ${offset} for ${length} gave ${show(got)}, not ${show(ascii(text))}`);
      }
    },
  },
  {
    name: 'read of a directory, a missing path, or a path through a file is undefined',
    async run(make) {
      const { medium } = await make();
      await applyOps({ medium }, [write('/d/f', 0, 'abc'), mkdir('/e')]);
      for (const path of ['/', '/d', '/e', '/nope', '/d/nope', '/d/f/x']) {
        const got = await medium.read(VOLUME, path, 0, 10);
        check(got === undefined, `read of ${path} gave ${show(got)}, not undefined`);
      }
    },
  },
  {
    name: "stat gives a file's kind and size, a directory's and the root's (always there), and undefined for a missing path",
    async run(make) {
      const { medium } = await make();
      checkStat(await medium.stat(VOLUME, '/'), { kind: 'directory', size: 0, atimeMs: 0, mtimeMs: 0 }, 'the root of a new volume');
      await applyOps({ medium }, [write('/d/f', 0, 'abc'), mkdir('/e/g'), { type: 'create', path: '/d/empty' }]);
      checkStat(await medium.stat(VOLUME, '/d/f'), { kind: 'file', size: 3 }, '/d/f');
      checkStat(await medium.stat(VOLUME, '/d/empty'), { kind: 'file', size: 0 }, '/d/empty');
      // A directory that no set-times op touched reports times 0, as the port says.
      for (const path of ['/', '/d', '/e', '/e/g']) checkStat(await medium.stat(VOLUME, path), { kind: 'directory', size: 0, atimeMs: 0, mtimeMs: 0 }, path);
      for (const path of ['/nope', '/d/nope', '/d/f/x', '/nope/x']) {
        const got = await medium.stat(VOLUME, path);
        check(got === undefined, `stat of ${path} gave ${JSON.stringify(got)}, not undefined`);
      }
      check((await medium.stat(VOLUME + 1, '/d/f')) === undefined, "stat saw another volume's file");
    },
  },
  {
    name: 'stat reports the times set-times ops set, on files, directories and the root',
    async run(make) {
      const { medium } = await make();
      await applyOps({ medium }, [write('/d/f', 0, 'abc')]);
      await applyOps({ medium }, [setTimes('/d/f')]);
      await applyOps({ medium }, [setTimes('/d')]);
      await applyOps({ medium }, [setTimes('/')]);
      for (const path of ['/d/f', '/d', '/']) checkStat(await medium.stat(VOLUME, path), { atimeMs: 1_000, mtimeMs: 2_000 }, path);
    },
  },
  {
    name: "stat's size follows writes, truncates and creates",
    async run(make) {
      const { medium } = await make();
      const sizes: ReadonlyArray<readonly [Op, number]> = [
        [write('/f', 0, 'abcdef'), 6], [truncate('/f', 2), 2], [truncate('/f', 10), 10], [write('/f', 12, 'xy'), 14],
        [{ type: 'create', path: '/f' }, 14], [{ type: 'create', path: '/f', truncate: true }, 0], [truncate('/f', 0), 0],
      ];
      for (const [op, size] of sizes) {
        await applyOps({ medium }, [op]);
        checkStat(await medium.stat(VOLUME, '/f'), { kind: 'file', size }, `after ${op.type} to ${size}`);
      }
    },
  },
  {
    name: 'list gives the entries of a directory with their kinds, sorted by name in code unit order',
    async run(make) {
      const { medium } = await make();
      checkList(await medium.list(VOLUME, '/'), [], 'the root of a new volume');
      // U+1F600 is a surrogate pair (0xD83D 0xDE00): it sorts before U+FB00 by code unit, after it by code point.
      const files = ['b', 'B', '\u{1F600}', '10', '_'];
      const directories = ['9', 'a', '\uFB00'];
      await applyOps({ medium }, [...files.map((name) => write(`/l/${name}`, 0, name)), ...directories.map((name) => mkdir(`/l/${name}`))]);
      await applyOps({ medium }, [write('/l/a/inner', 0, 'x'), mkdir('/empty')]);
      const expected: Listed[] = [
        { name: '10', kind: 'file' }, { name: '9', kind: 'directory' }, { name: 'B', kind: 'file' }, { name: '_', kind: 'file' },
        { name: 'a', kind: 'directory' }, { name: 'b', kind: 'file' }, { name: '\u{1F600}', kind: 'file' }, { name: '\uFB00', kind: 'directory' },
      ];
      checkList(await medium.list(VOLUME, '/l'), expected, '/l');
      checkList(await medium.list(VOLUME, '/'), [{ name: 'empty', kind: 'directory' }, { name: 'l', kind: 'directory' }], '/');
      checkList(await medium.list(VOLUME, '/l/a'), [{ name: 'inner', kind: 'file' }], '/l/a');
      checkList(await medium.list(VOLUME, '/empty'), [], '/empty');
    },
  },
  {
    name: 'list of a missing path, or of a file, is undefined',
    async run(make) {
      const { medium } = await make();
      await applyOps({ medium }, [write('/d/f', 0, 'abc')]);
      for (const path of ['/nope', '/d/nope', '/d/f', '/d/f/x']) {
        const got = await medium.list(VOLUME, path);
        check(got === undefined, `list of ${path} gave ${JSON.stringify(got)}, not undefined`);
      }
    },
  },
  {
    name: 'reads reflect ops only once they are applied; a fenced apply changes nothing they see',
    async run(make) {
      const { medium } = await make();
      check((await medium.stat(VOLUME, '/f')) === undefined, 'a new volume has /f');
      check((await medium.read(VOLUME, '/f', 0, 10)) === undefined, 'a new volume reads /f');
      await applyOps({ medium }, [write('/f', 0, 'one'), mkdir('/d')]);
      await checkRead(medium, '/f', 'one');
      checkList(await medium.list(VOLUME, '/'), [{ name: 'd', kind: 'directory' }, { name: 'f', kind: 'file' }], 'after the first apply');
      await applyOps({ medium }, [rename('/f', '/d/g')]);
      checkList(await medium.list(VOLUME, '/'), [{ name: 'd', kind: 'directory' }], 'after the rename');
      await checkRead(medium, '/d/g', 'one');
      check((await medium.stat(VOLUME, '/f')) === undefined, 'the renamed /f is still there');
      const { applied } = await medium.state(VOLUME);
      await medium.claim(VOLUME, 2, applied);
      await rejects(medium.apply(VOLUME, 1, numbered(applied + 1, [write('/d/g', 0, 'two'), write('/h', 0, 'h')])), 'a fenced apply');
      await checkRead(medium, '/d/g', 'one');
      check((await medium.stat(VOLUME, '/h')) === undefined, 'a fenced apply made /h');
      check((await medium.list(VOLUME + 1, '/d')) === undefined, "list saw another volume's directory");
    },
  },
];

/**
 * Applies the batches before `crashed` and the first `done` ops of batch `crashed` (the medium's
 * state when the crash came), then every batch from `crashed` on, each with its history's LSNs.
 * With `crashed` past the last batch, that is the whole history applied once.
 */
async function applyHistory(t: MediumUnderTest, history: History, crashed: number, done: number): Promise<void> {
  let lsn = 1;
  const batches = history.map((ops) => {
    const batch = numbered(lsn, ops);
    lsn += ops.length;
    return batch;
  });
  const beforeCrash = [...batches.slice(0, crashed), batches[crashed]?.slice(0, done) ?? []];
  await t.medium.claim(VOLUME, 1, 0);
  for (const batch of [...beforeCrash, ...batches.slice(crashed)]) await t.medium.apply(VOLUME, 1, batch);
}

/** Every path the ops name, with every parent directory of those paths. */
function pathsOf(batches: History): string[] {
  const paths = new Set<string>();
  for (const op of batches.flat()) {
    for (const path of op.type === 'rename' ? [op.path, op.target] : [op.path]) {
      const names = path.split('/').filter((name) => name !== '');
      for (let end = 1; end <= names.length; end += 1) paths.add(`/${names.slice(0, end).join('/')}`);
    }
  }
  return [...paths].sort();
}

async function checkSameContents(actual: MediumUnderTest, expected: MediumUnderTest, paths: readonly string[], when: string): Promise<void> {
  for (const path of paths) {
    const [isThere, shouldBe] = [await actual.exists(VOLUME, path), await expected.exists(VOLUME, path)];
    check(isThere === shouldBe, `${when}: ${path} ${isThere ? 'exists' : 'is missing'}, unlike after applying once`);
    const [got, want] = [await actual.read(VOLUME, path), await expected.read(VOLUME, path)];
    check(sameBytes(got, want), `${when}: ${path} holds ${show(got)}, not ${show(want)} as after applying once`);
    const [gotStat, wantStat] = [await actual.medium.stat(VOLUME, path), await expected.medium.stat(VOLUME, path)];
    const [is, was] = [gotStat && kindModeTarget(gotStat), wantStat && kindModeTarget(wantStat)];
    check(is === was, `${when}: ${path} is ${is}, not ${was} as after applying once`);
  }
}

function kindModeTarget({ kind, mode, target }: EntryStat): string {
  return `${kind} ${mode.toString(8)} ${JSON.stringify(target)}`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Claims the volume on first use (epoch 1), then applies `ops` after everything applied so far. */
async function applyOps(t: Pick<MediumUnderTest, 'medium'>, ops: readonly Op[]): Promise<void> {
  const state = await t.medium.state(VOLUME);
  if (state.epoch === 0) await t.medium.claim(VOLUME, 1, 0);
  await t.medium.apply(VOLUME, 1, numbered(state.applied + 1, ops));
}

function numbered(first: number, ops: readonly Op[]): LsnOp[] {
  return ops.map((op, i) => ({ lsn: first + i, opId: first + i, op }));
}

function write(path: string, offset: number, text: string): Op {
  return { type: 'write', path, offset, data: ascii(text) };
}

function mkdir(path: string): Op {
  return { type: 'mkdir', path, recursive: true };
}

function truncate(path: string, size: number): Op {
  return { type: 'truncate', path, size };
}

function rename(path: string, target: string): Op {
  return { type: 'rename', path, target };
}

function symlink(path: string, target: string): Op {
  return { type: 'symlink', path, target };
}

function chmod(path: string, mode: number): Op {
  return { type: 'chmod', path, mode };
}

function setTimes(path: string): Op {
  return { type: 'setTimes', path, atimeMs: 1_000, mtimeMs: 2_000 };
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function checkFile(read: MediumUnderTest['read'], path: string, text: string): Promise<void> {
  const got = await read(VOLUME, path);
  check(sameBytes(got, ascii(text)), `${path} holds ${show(got)}, not ${show(ascii(text))}`);
}

async function checkDirectory(t: MediumUnderTest, path: string): Promise<void> {
  check((await t.exists(VOLUME, path)) && (await t.read(VOLUME, path)) === undefined, `${path} is not a directory`);
}

async function checkMissing(t: MediumUnderTest, path: string): Promise<void> {
  check(!(await t.exists(VOLUME, path)), `${path} exists`);
}

async function checkRead(medium: Medium, path: string, text: string): Promise<void> {
  const got = await medium.read(VOLUME, path, 0, Number.MAX_SAFE_INTEGER);
  check(sameBytes(got, ascii(text)), `read of ${path} gave ${show(got)}, not ${show(ascii(text))}`);
}

/** Checks the fields `expected` names; times it leaves out must only be numbers (the medium's own). */
function checkStat(actual: EntryStat | undefined, expected: Partial<EntryStat>, what: string): void {
  check(actual !== undefined, `stat of ${what} gave undefined`);
  const fields = Object.entries(expected) as Array<[keyof EntryStat, unknown]>;
  const wrong = fields.filter(([field, value]) => actual[field] !== value);
  check(wrong.length === 0, `stat of ${what} gave ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`);
  const times = [actual.atimeMs, actual.mtimeMs];
  check(times.every((time) => Number.isFinite(time) && time >= 0), `stat of ${what} gave times ${JSON.stringify(times)}`);
}

/** A listed entry as a check expects it: a mode and a target only when the check names them. */
type Listed = Pick<DirEntry, 'name' | 'kind'> & Partial<DirEntry>;

function checkList(actual: readonly DirEntry[] | undefined, expected: readonly Listed[], what: string): void {
  // In a fixed order, so that the lists compare as text; the mode only where the check names it.
  const shown = ({ name, kind, mode, target }: Listed, withMode: boolean) => ({ name, kind, mode: withMode ? mode : undefined, target });
  const got = actual?.map((entry, i) => shown(entry, expected[i]?.mode !== undefined));
  const want = expected.map((entry) => shown(entry, true));
  check(JSON.stringify(got) === JSON.stringify(want), `list of ${what} gave ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
}

function checkRecent(actual: ReadonlyArray<readonly [number, number]>, expected: ReadonlyArray<readonly [number, number]>, when: string): void {
  const [got, want] = [JSON.stringify(actual), JSON.stringify(expected)];
  check(got === want, `${when}: the recent op ids are ${got.slice(0, 300)}, not ${want.slice(0, 300)}`);
}

function checkState(actual: VolumeState, expected: VolumeState, when: string): void {
  const [got, want] = [JSON.stringify(stateFields(actual)), JSON.stringify(stateFields(expected))];
  check(got === want, `${when}: the volume state is ${got}, not ${want}`);
}

/** The fields in a fixed order, so that two states compare as text. */
function stateFields({ epoch, applied, epochs }: VolumeState): unknown {
  return { epoch, applied, epochs: epochs.map(({ epoch, base }) => ({ epoch, base })) };
}

/** The error `promise` rejects with; throws when it resolves. */
async function rejects(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`${what} succeeded; it should have been refused`);
}

/** The error's `code`: compared instead of its class, which does not survive a worker boundary. */
function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function show(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? 'no file' : JSON.stringify(String.fromCharCode(...bytes));
}
