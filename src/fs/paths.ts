// User paths: absolute POSIX paths, normalised, checked against what OPFS can hold, and mapped to
// a volume through the mount table. Refused paths get EINVAL with the rule they broke, before
// anything is sent anywhere.
import { FsError } from '../errors.js';
import { MAX_PATH_BYTES } from '../record/layout.js';

const utf8 = new TextEncoder();

/** Most UTF-8 bytes in one name (NAME_MAX, as in Linux; OPFS keeps names in a real directory). */
export const MAX_NAME_BYTES = 255;

/** "/a/./b/../c" → "/a/c". Throws EINVAL for what tandemfs cannot store. */
export function normalize(path: unknown, syscall: string): string {
  if (typeof path !== 'string') throw new FsError('EINVAL', syscall, String(path), undefined, 'the path must be a string');
  const refuse = (rule: string): never => {
    throw new FsError('EINVAL', syscall, path, undefined, rule);
  };
  if (path.includes('\0')) refuse('a path may not contain NUL bytes');
  if (!path.startsWith('/')) refuse('a path must be absolute (begin with "/")');
  const names: string[] = [];
  for (const name of path.split('/')) {
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (names.length === 0) refuse('".." may not climb above the root');
      names.pop();
      continue;
    }
    checkName(name, refuse);
    names.push(name);
  }
  const normal = `/${names.join('/')}`;
  if (utf8.encode(normal).length > MAX_PATH_BYTES) refuse(`a path may be at most ${MAX_PATH_BYTES} bytes of UTF-8`);
  return normal;
}

/**
 * Refuses a symbolic link target tandemfs cannot follow: what Node refuses (not a string, empty,
 * a NUL byte), and names OPFS cannot hold or a target longer than one record field carries.
 * `..` may climb anywhere: it stops at the root of the link's volume when followed.
 */
export function checkLinkTarget(target: unknown, path: string): asserts target is string {
  const refuse = (rule: string): never => {
    throw new FsError('EINVAL', 'symlink', String(target), path, rule);
  };
  if (typeof target !== 'string' || target === '') return refuse('the target must be a non-empty string');
  if (target.includes('\0')) refuse('a target may not contain NUL bytes');
  if (!target.isWellFormed()) refuse('a target must be well-formed UTF-16');
  if (utf8.encode(target).length > MAX_PATH_BYTES) refuse(`a target may be at most ${MAX_PATH_BYTES} bytes of UTF-8`);
  for (const name of target.split('/')) checkName(name, refuse);
}

/** The rules for one name, in a path or a link target: what OPFS can hold. */
function checkName(name: string, refuse: (rule: string) => never): void {
  if (name.includes('\\')) refuse('a name may not contain "\\" (OPFS cannot hold it)');
  if (utf8.encode(name).length > MAX_NAME_BYTES) refuse(`a name may be at most ${MAX_NAME_BYTES} bytes of UTF-8`);
}

/** Where a path lives: its volume, and its path within the volume. */
export interface Placed {
  readonly volume: number;
  readonly path: string;
  /** The path as the user named it (normalised), for error messages. */
  readonly full: string;
}

/**
 * The mount table: path prefixes to volumes; the longest prefix that contains a path wins.
 * `{ '/': 0 }` by default: one volume for everything.
 */
export class Mounts {
  readonly #mounts: Array<{ prefix: string; volume: number }>;

  constructor(table: Readonly<Record<string, number>> = { '/': 0 }) {
    const mounts = Object.entries(table).map(([prefix, volume]) => {
      if (!Number.isInteger(volume) || volume < 0 || volume > 0xffff_ffff) {
        throw new FsError('EINVAL', 'mount', prefix, undefined, `volume ${volume} is not a u32`);
      }
      return { prefix: normalize(prefix, 'mount'), volume };
    });
    if (!mounts.some((m) => m.prefix === '/')) throw new FsError('EINVAL', 'mount', '/', undefined, 'the mount table must mount "/"');
    this.#mounts = mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  get volumes(): number[] {
    return [...new Set(this.#mounts.map((m) => m.volume))].sort((a, b) => a - b);
  }

  place(path: unknown, syscall: string): Placed {
    const full = normalize(path, syscall);
    for (const { prefix, volume } of this.#mounts) {
      if (prefix === '/') return { volume, path: full, full };
      if (full === prefix) return { volume, path: '/', full };
      if (full.startsWith(`${prefix}/`)) return { volume, path: full.slice(prefix.length), full };
    }
    throw new Error('unreachable: "/" is always mounted');
  }
}
