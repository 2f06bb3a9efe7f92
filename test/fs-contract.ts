// The fs behaviour suite: Node's fs.promises semantics as tandemfs promises them. Framework-free,
// so the same cases run against tandemfs in the simulator (Node), Node's own fs/promises in a
// temporary folder (the reference), and in Chromium against tandemfs and lightning-fs.
// A case a system does not keep names the reason in `differs`; docs/api.md lists them.

/** The part of fs.promises the suite uses. Paths are absolute within the system under test. */
export interface FsLike {
  readFile(path: string, options?: { encoding?: 'utf8' } | 'utf8'): Promise<Uint8Array | string>;
  writeFile(path: string, data: string | Uint8Array, options?: { flag?: string } | 'utf8'): Promise<void>;
  appendFile(path: string, data: string | Uint8Array): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<string | undefined | void>;
  readdir(path: string, options?: { withFileTypes?: boolean }): Promise<unknown[]>;
  rmdir(path: string): Promise<void>;
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  stat(path: string): Promise<StatsLike & { mtimeMs: number }>;
  lstat(path: string): Promise<StatsLike>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  chmod(path: string, mode: number): Promise<void>;
  truncate(path: string, length?: number): Promise<void>;
  utimes(path: string, atime: number | Date, mtime: number | Date): Promise<void>;
  open(path: string, flags?: string): Promise<{
    write(data: Uint8Array, offset?: number, length?: number, position?: number | null): Promise<unknown>;
    read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
    truncate(length?: number): Promise<void>;
    stat(): Promise<{ size: number }>;
    sync(): Promise<void>;
    close(): Promise<void>;
  }>;
}

export interface StatsLike {
  size: number;
  mode: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** The type bits of a mode: S_IFMT, and S_IFREG, S_IFDIR, S_IFLNK. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export type System = 'tandemfs' | 'node' | 'lightning-fs';

export interface FsCase {
  readonly name: string;
  /** Systems that behave otherwise, and why (listed in docs/api.md). */
  readonly differs?: Partial<Record<System, string>>;
  run(fs: FsLike): Promise<void>;
}

const text = (data: Uint8Array | string) => (typeof data === 'string' ? data : new TextDecoder().decode(data));
const bytes = (value: string) => new TextEncoder().encode(value);

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function same<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

/** The call fails with `code`, and the error names the path and the syscall as Node's do. */
async function fails(call: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await call;
  } catch (error) {
    const e = error as { code?: string; path?: string; syscall?: string };
    check(e.code === code, `${what}: expected ${code}, got ${e.code ?? String(error)}`);
    check(typeof e.syscall === 'string', `${what}: the ${code} error names no syscall`);
    return;
  }
  throw new Error(`${what}: expected ${code}, but it succeeded`);
}

async function names(fs: FsLike, path: string): Promise<string[]> {
  return (await fs.readdir(path)) as string[];
}

export const fsCases: FsCase[] = [
  {
    name: 'writeFile then readFile gives the bytes back; with utf8, a string',
    async run(fs) {
      await fs.writeFile('/a.txt', 'hello');
      same(text(await fs.readFile('/a.txt')), 'hello', 'bytes');
      same(await fs.readFile('/a.txt', 'utf8'), 'hello', 'utf8');
      await fs.writeFile('/a.txt', 'hi');
      same(await fs.readFile('/a.txt', { encoding: 'utf8' }), 'hi', 'a shorter rewrite leaves no tail');
    },
  },
  {
    name: 'readFile of a missing file is ENOENT, of a directory EISDIR',
    differs: { 'lightning-fs': 'readFile of a directory does not fail' },
    async run(fs) {
      await fails(fs.readFile('/missing'), 'ENOENT', 'missing file');
      await fs.mkdir('/d');
      await fails(fs.readFile('/d'), 'EISDIR', 'a directory');
    },
  },
  {
    name: 'writeFile needs its directory: ENOENT when missing, ENOTDIR through a file, EISDIR onto a directory',
    differs: { 'lightning-fs': 'writes through a file and onto a directory are not refused the same way' },
    async run(fs) {
      await fails(fs.writeFile('/no/such/f', 'x'), 'ENOENT', 'missing parent');
      await fs.writeFile('/file', 'x');
      await fails(fs.writeFile('/file/f', 'x'), 'ENOTDIR', 'through a file');
      await fs.mkdir('/dir');
      await fails(fs.writeFile('/dir', 'x'), 'EISDIR', 'onto a directory');
    },
  },
  {
    name: "writeFile with flag 'wx' refuses an existing file (EEXIST) and creates a new one",
    differs: { 'lightning-fs': 'flags are ignored' },
    async run(fs) {
      await fs.writeFile('/x', 'first', { flag: 'wx' });
      await fails(fs.writeFile('/x', 'second', { flag: 'wx' }), 'EEXIST', 'wx on an existing file');
      same(await fs.readFile('/x', 'utf8'), 'first', 'the refused write changed nothing');
    },
  },
  {
    name: 'appendFile creates the file, then appends',
    differs: { 'lightning-fs': 'has no appendFile' },
    async run(fs) {
      await fs.appendFile('/log', 'a');
      await fs.appendFile('/log', 'bc');
      await fs.appendFile('/log', bytes('d'));
      same(await fs.readFile('/log', 'utf8'), 'abcd', 'appended');
    },
  },
  {
    name: 'mkdir: ENOENT without the parent, EEXIST when there, recursive makes parents and returns the first it made',
    differs: { 'lightning-fs': 'mkdir has no recursive option' },
    async run(fs) {
      await fails(fs.mkdir('/p/q'), 'ENOENT', 'missing parent');
      await fs.mkdir('/p');
      await fails(fs.mkdir('/p'), 'EEXIST', 'existing');
      same(await fs.mkdir('/p/q/r/s', { recursive: true }), '/p/q', 'first made');
      same(await fs.mkdir('/p/q/r', { recursive: true }), undefined, 'nothing made');
      await fs.writeFile('/p/f', 'x');
      await fails(fs.mkdir('/p/f/g', { recursive: true }), 'ENOTDIR', 'through a file');
      await fails(fs.mkdir('/p/f', { recursive: true }), 'EEXIST', 'onto a file');
    },
  },
  {
    name: 'readdir lists names in order (withFileTypes: kinds); ENOENT when missing, ENOTDIR of a file',
    differs: { 'lightning-fs': 'no withFileTypes' },
    async run(fs) {
      await fs.mkdir('/r');
      await fs.writeFile('/r/b', 'x');
      await fs.mkdir('/r/a');
      await fs.writeFile('/r/c', 'x');
      same((await names(fs, '/r')).sort(), ['a', 'b', 'c'], 'names');
      const typed = (await fs.readdir('/r', { withFileTypes: true })) as Array<{ name: string; isDirectory(): boolean }>;
      same(typed.map((d) => `${d.name}:${d.isDirectory()}`).sort(), ['a:true', 'b:false', 'c:false'], 'kinds');
      await fails(fs.readdir('/none'), 'ENOENT', 'missing');
      await fails(fs.readdir('/r/b'), 'ENOTDIR', 'a file');
    },
  },
  {
    name: 'rmdir removes an empty directory; ENOTEMPTY, ENOTDIR and ENOENT otherwise',
    async run(fs) {
      await fs.mkdir('/e');
      await fs.mkdir('/e/full');
      await fs.writeFile('/e/full/f', 'x');
      await fails(fs.rmdir('/e/full'), 'ENOTEMPTY', 'not empty');
      await fails(fs.rmdir('/e/full/f'), 'ENOTDIR', 'a file');
      await fails(fs.rmdir('/e/none'), 'ENOENT', 'missing');
      await fs.mkdir('/e/empty');
      await fs.rmdir('/e/empty');
      same(await names(fs, '/e'), ['full'], 'after');
    },
  },
  {
    name: 'rm: recursive removes a tree, force forgives a missing path, ENOENT without it',
    differs: { 'lightning-fs': 'has no rm' },
    async run(fs) {
      await fs.mkdir('/t/u/v', { recursive: true });
      await fs.writeFile('/t/u/v/f', 'x');
      await fs.writeFile('/t/g', 'x');
      await fs.rm('/t/g');
      await fs.rm('/t', { recursive: true });
      await fails(fs.stat('/t'), 'ENOENT', 'gone');
      await fs.rm('/t', { force: true });
      await fails(fs.rm('/t'), 'ENOENT', 'missing, no force');
    },
  },
  {
    name: 'unlink removes a file; ENOENT when missing, EISDIR of a directory',
    differs: { 'lightning-fs': 'unlink of a directory is not EISDIR' },
    async run(fs) {
      await fs.writeFile('/u', 'x');
      await fs.unlink('/u');
      await fails(fs.unlink('/u'), 'ENOENT', 'missing');
      await fs.mkdir('/ud');
      await fails(fs.unlink('/ud'), 'EISDIR', 'a directory');
    },
  },
  {
    name: 'rename moves files and trees, replaces a file, and refuses what Node refuses',
    differs: { 'lightning-fs': 'type conflicts in rename are not refused the same way' },
    async run(fs) {
      await fs.mkdir('/m/sub', { recursive: true });
      await fs.writeFile('/m/sub/f', 'moved');
      await fs.rename('/m/sub', '/m/moved');
      same(await fs.readFile('/m/moved/f', 'utf8'), 'moved', 'a tree moved');
      await fs.writeFile('/m/g', 'new');
      await fs.rename('/m/g', '/m/moved/f');
      same(await fs.readFile('/m/moved/f', 'utf8'), 'new', 'a file replaced');
      await fails(fs.rename('/m/none', '/m/x'), 'ENOENT', 'missing source');
      await fails(fs.rename('/m/moved', '/m/moved/inner'), 'EINVAL', 'into itself');
      await fails(fs.rename('/m/moved/f', '/m/no/where'), 'ENOENT', 'missing target parent');
      await fs.mkdir('/m/full');
      await fs.writeFile('/m/full/x', 'x');
      await fails(fs.rename('/m/moved', '/m/full'), 'ENOTEMPTY', 'onto a non-empty directory');
      await fails(fs.rename('/m/moved', '/m/full/x'), 'ENOTDIR', 'a directory onto a file');
      await fails(fs.rename('/m/full/x', '/m/moved'), 'EISDIR', 'a file onto a directory');
    },
  },
  {
    name: 'stat reports size and kind; ENOENT when missing, ENOTDIR through a file',
    differs: { 'lightning-fs': 'a path through a file is ENOENT, not ENOTDIR' },
    async run(fs) {
      await fs.writeFile('/s', 'four');
      const file = await fs.stat('/s');
      check(file.isFile() && !file.isDirectory() && file.size === 4, `stat of a file: ${JSON.stringify(file)}`);
      const root = await fs.stat('/');
      check(root.isDirectory(), 'the root is a directory');
      check((await fs.lstat('/s')).size === 4, 'lstat');
      await fails(fs.stat('/none'), 'ENOENT', 'missing');
      await fails(fs.stat('/s/x'), 'ENOTDIR', 'through a file');
    },
  },
  {
    name: 'truncate shortens, and lengthens with zeros; ENOENT when missing',
    differs: { 'lightning-fs': 'has no truncate' },
    async run(fs) {
      await fs.writeFile('/tr', 'abcdef');
      await fs.truncate('/tr', 2);
      same(await fs.readFile('/tr', 'utf8'), 'ab', 'shortened');
      await fs.truncate('/tr', 4);
      same([...(await fs.readFile('/tr')) as Uint8Array], [97, 98, 0, 0], 'lengthened');
      await fails(fs.truncate('/none', 1), 'ENOENT', 'missing');
    },
  },
  {
    name: 'utimes sets the times stat reports',
    differs: { 'lightning-fs': 'has no utimes' },
    async run(fs) {
      await fs.writeFile('/time', 'x');
      await fs.utimes('/time', new Date(1_000_000), new Date(2_000_000));
      same((await fs.stat('/time')).mtimeMs, 2_000_000, 'mtime');
      await fails(fs.utimes('/none', 1, 1), 'ENOENT', 'missing');
    },
  },
  {
    name: 'open gives a handle that writes at positions, reads, truncates and stats',
    differs: { 'lightning-fs': 'has no open' },
    async run(fs) {
      const handle = await fs.open('/h', 'w+');
      await handle.write(bytes('hello world'), 0, 11, 0);
      await handle.write(bytes('W'), 0, 1, 6);
      const buffer = new Uint8Array(11);
      const { bytesRead } = await handle.read(buffer, 0, 11, 0);
      same(text(buffer.subarray(0, bytesRead)), 'hello World', 'read back');
      await handle.truncate(5);
      same((await handle.stat()).size, 5, 'size after truncate');
      await handle.sync();
      await handle.close();
      same(await fs.readFile('/h', 'utf8'), 'hello', 'contents');
      await fails(fs.open('/none', 'r'), 'ENOENT', "'r' of a missing file");
      await fails(fs.open('/h', 'wx'), 'EEXIST', "'wx' of an existing file");
    },
  },
  {
    name: 'symlink makes a link readlink reads back; stat follows it, lstat does not',
    differs: { 'lightning-fs': "lstat of a link reports size 0 (Node: the target's length in bytes)" },
    async run(fs) {
      await fs.writeFile('/t.txt', 'target');
      await fs.symlink('t.txt', '/link');
      same(await fs.readlink('/link'), 't.txt', 'readlink');
      const followed = await fs.stat('/link');
      check(followed.isFile() && !followed.isSymbolicLink() && followed.size === 6, `stat of a link: ${JSON.stringify(followed)}`);
      const link = await fs.lstat('/link');
      check(link.isSymbolicLink() && !link.isFile() && !link.isDirectory(), 'lstat of a link is a link');
      same(link.size, 5, "lstat's size: the target's bytes");
      same(link.mode & S_IFMT, S_IFLNK, "lstat's type bits");
    },
  },
  {
    name: 'readFile, writeFile and appendFile go through a link; writeFile through a dangling link makes its target',
    differs: { 'lightning-fs': 'has no appendFile' },
    async run(fs) {
      await fs.mkdir('/d');
      await fs.writeFile('/d/real', 'one');
      await fs.symlink('real', '/d/ln');
      same(await fs.readFile('/d/ln', 'utf8'), 'one', 'read through the link');
      await fs.writeFile('/d/ln', 'two');
      await fs.appendFile('/d/ln', '!');
      same(await fs.readFile('/d/real', 'utf8'), 'two!', 'the target written');
      check((await fs.lstat('/d/ln')).isSymbolicLink(), 'the link is still a link');
      await fs.symlink('made', '/d/dangling');
      await fails(fs.stat('/d/dangling'), 'ENOENT', 'stat of a dangling link');
      check((await fs.lstat('/d/dangling')).isSymbolicLink(), 'lstat of a dangling link');
      await fs.writeFile('/d/dangling', 'new');
      same(await fs.readFile('/d/made', 'utf8'), 'new', 'the target made');
    },
  },
  {
    name: 'unlink and rm remove a link, not its target; rename renames the link; rmdir of a link is ENOTDIR',
    differs: { 'lightning-fs': 'rmdir follows a link to a directory (ENOTEMPTY, not ENOTDIR); has no rm' },
    async run(fs) {
      await fs.mkdir('/dir');
      await fs.writeFile('/dir/f', 'x');
      await fs.symlink('dir', '/dl');
      await fails(fs.rmdir('/dl'), 'ENOTDIR', 'rmdir of a link');
      await fs.rename('/dl', '/dl2');
      same(await fs.readlink('/dl2'), 'dir', 'the link renamed');
      same(await names(fs, '/dl2'), ['f'], 'readdir through a link');
      await fs.unlink('/dl2');
      await fails(fs.lstat('/dl2'), 'ENOENT', 'the link is gone');
      same(await names(fs, '/dir'), ['f'], 'the target stays');
      await fs.symlink('dir/f', '/fl');
      await fs.rm('/fl');
      same(await fs.readFile('/dir/f', 'utf8'), 'x', 'the target of a link rm removed');
    },
  },
  {
    name: "links on the way are followed: relative to the link's directory, from the root when absolute",
    differs: { 'lightning-fs': 'mkdir has no recursive option' },
    async run(fs) {
      await fs.mkdir('/a/b', { recursive: true });
      await fs.writeFile('/a/b/f', 'deep');
      await fs.mkdir('/x');
      await fs.symlink('a/b', '/ab');
      await fs.symlink('../a', '/x/up');
      await fs.symlink('/a/b', '/x/abs');
      same(await fs.readFile('/ab/f', 'utf8'), 'deep', 'through a relative link');
      same(await fs.readFile('/x/up/b/f', 'utf8'), 'deep', 'through a link that climbs');
      same(await fs.readFile('/x/abs/f', 'utf8'), 'deep', 'through an absolute link');
      await fs.writeFile('/x/up/b/g', 'via');
      same(await fs.readFile('/a/b/g', 'utf8'), 'via', 'written through links on the way');
      await fs.mkdir('/ab/m');
      check((await fs.stat('/a/b/m')).isDirectory(), 'made through a link');
      check((await fs.lstat('/x/up/b')).isDirectory(), 'lstat follows the links on the way');
      check((await fs.lstat('/x/abs')).isSymbolicLink(), 'lstat of the last name does not');
      same(await names(fs, '/x/abs'), ['f', 'g', 'm'], 'readdir through an absolute link');
    },
  },
  {
    name: 'a cycle of links is ELOOP; symlink onto anything (a dangling link too) is EEXIST; readlink of a non-link EINVAL',
    differs: { 'lightning-fs': 'a cycle of links overflows the stack (a RangeError), not ELOOP' },
    async run(fs) {
      await fs.symlink('loop2', '/loop1');
      await fs.symlink('loop1', '/loop2');
      await fails(fs.stat('/loop1'), 'ELOOP', 'stat of a cycle');
      await fails(fs.readFile('/loop1'), 'ELOOP', 'readFile of a cycle');
      await fails(fs.writeFile('/loop1', 'x'), 'ELOOP', 'writeFile of a cycle');
      check((await fs.lstat('/loop1')).isSymbolicLink(), 'lstat of a link in a cycle');
      await fs.writeFile('/file', 'x');
      await fails(fs.symlink('anything', '/file'), 'EEXIST', 'onto a file');
      await fails(fs.symlink('anything', '/loop1'), 'EEXIST', 'onto a link');
      await fs.symlink('nowhere', '/dangling');
      await fails(fs.symlink('anything', '/dangling'), 'EEXIST', 'onto a dangling link');
      await fails(fs.readlink('/file'), 'EINVAL', 'readlink of a file');
      await fails(fs.readlink('/none'), 'ENOENT', 'readlink of a missing path');
    },
  },
  {
    name: 'chmod sets the permission bits of what a path leads to, and keeps the type bits',
    differs: { 'lightning-fs': 'a mode has no type bits' },
    async run(fs) {
      await fs.writeFile('/m', 'x');
      same((await fs.stat('/m')).mode & S_IFMT, S_IFREG, "a file's type bits");
      await fs.chmod('/m', 0o600);
      same((await fs.stat('/m')).mode & 0o7777, 0o600, "a file's permission bits");
      same((await fs.stat('/m')).mode & S_IFMT, S_IFREG, "a file's type bits after chmod");
      await fs.mkdir('/md');
      await fs.chmod('/md', 0o700);
      same((await fs.stat('/md')).mode, S_IFDIR | 0o700, "a directory's mode");
      await fs.symlink('m', '/ml');
      await fs.chmod('/ml', 0o640);
      same((await fs.stat('/m')).mode & 0o7777, 0o640, 'chmod through a link');
      same((await fs.lstat('/ml')).mode & S_IFMT, S_IFLNK, "the link's type bits");
      await fails(fs.chmod('/none', 0o600), 'ENOENT', 'missing');
    },
  },
  {
    name: 'readdir withFileTypes shows a link as a link',
    differs: { 'lightning-fs': 'no withFileTypes' },
    async run(fs) {
      await fs.mkdir('/r');
      await fs.writeFile('/r/f', 'x');
      await fs.symlink('f', '/r/l');
      const typed = (await fs.readdir('/r', { withFileTypes: true })) as Array<{ name: string; isFile(): boolean; isSymbolicLink(): boolean }>;
      same(typed.map((d) => `${d.name}:${d.isFile()}:${d.isSymbolicLink()}`).sort(), ['f:true:false', 'l:false:true'], 'kinds');
    },
  },
  {
    name: 'a file larger than one request (3 MiB) writes and reads back whole',
    async run(fs) {
      const big = new Uint8Array(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
      await fs.writeFile('/big', big);
      const back = (await fs.readFile('/big')) as Uint8Array;
      same(back.length, big.length, 'size');
      check(back.every((b, i) => b === big[i]), 'the bytes differ');
    },
  },
];
