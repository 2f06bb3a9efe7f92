// Node's semantics for a change: checked against the owner's namespace (the medium plus its
// unflushed ops) before the change gets LSNs, then turned into the ops that carry it out. A change
// the medium would have to skip never becomes an op: the medium applies every op it is given.
//
// Planning is synchronous. When it needs something that is not loaded, it throws NeedsLoad and the
// owner plans again after the load; nothing is changed until the plan is whole.
import { FsError, type FsErrorCode } from '../errors.js';
import type { Op } from '../record/types.js';
import { OP_BYTES, syscallOf, type FsChange } from './fs-request.js';
import { components, type Entry, type Located, type Namespace } from './namespace.js';

export interface Plan {
  readonly ops: Op[];
  readonly value?: number | string;
}

const NOTHING: Plan = { ops: [] };

export function plan(ns: Namespace, change: FsChange): Plan {
  const fail = (code: FsErrorCode, path: string, detail?: string, dest?: string): never => {
    throw new FsError(code, syscallOf(change), path, dest, detail);
  };
  const p = new Planner(ns, fail);
  // Symbolic links are followed here, so ops name real paths: the last name of a path is
  // followed by the changes that act on what a link leads to, not by those that act on the link.
  switch (change.kind) {
    case 'op':
      return p.raw(change.op);
    case 'write':
      return p.write({ ...change, path: p.real(change.path, true) });
    case 'truncate': {
      const path = p.real(change.path, true);
      const file = p.existingFile(path);
      return { ops: [{ type: 'truncate', path, size: change.size, mtimeMs: change.mtimeMs }], value: ns.size(file, path) };
    }
    case 'mkdir':
      return p.mkdir(p.real(change.path, false), change.recursive);
    case 'rmdir':
      return p.rmdir(p.real(change.path, false), false);
    case 'rm':
      return p.rm(p.real(change.path, false), change.recursive, change.force);
    case 'unlink':
      return p.unlink(p.real(change.path, false));
    case 'rename':
      return p.rename(p.real(change.path, false), p.real(change.target, false), false);
    case 'utimes': {
      const path = p.real(change.path, true);
      p.existing(path);
      return { ops: [{ type: 'setTimes', path, atimeMs: change.atimeMs, mtimeMs: change.mtimeMs }] };
    }
    case 'chmod':
      return p.chmod(p.real(change.path, true), change.mode);
    case 'symlink':
      return p.symlink(p.real(change.path, false), change.target);
  }
}

type Fail = (code: FsErrorCode, path: string, detail?: string, dest?: string) => never;

class Planner {
  constructor(private readonly ns: Namespace, private readonly fail: Fail) {}

  /** The real path `path` names (see Namespace.resolve); ELOOP past MAX_LINKS links. */
  real(path: string, followLast: boolean): string {
    const resolved = this.ns.resolve(path, followLast);
    switch (resolved.state) {
      case 'found':
        return resolved.path;
      case 'loop':
        return this.fail('ELOOP', path);
      default:
        return this.fail(resolved.state === 'missing' ? 'ENOENT' : 'ENOTDIR', path);
    }
  }

  /** What is at `path` (loaded: a file's size too); ENOENT / ENOTDIR when nothing can be. */
  existing(path: string): Entry {
    const at = this.located(path);
    if (!at.entry) return this.fail('ENOENT', path);
    if (at.entry.kind === 'file') this.ns.size(at.entry, path);
    return at.entry;
  }

  existingFile(path: string): Entry & { kind: 'file' } {
    const entry = this.existing(path);
    if (entry.kind !== 'file') return this.fail('EISDIR', path);
    return entry;
  }

  /** Where `path` goes: its parent must exist and be a directory. */
  located(path: string): Extract<Located, { state: 'found' }> {
    const at = this.ns.locate(path);
    if (at.state === 'missing') return this.fail('ENOENT', path);
    if (at.state === 'blocked') return this.fail('ENOTDIR', path);
    return at;
  }

  write(change: Extract<FsChange, { kind: 'write' }>): Plan {
    const { path, data, mtimeMs } = change;
    const at = this.located(path);
    // A real path ends at no link (plan() followed it), so anything but a file is a directory.
    if (at.parent === undefined || (at.entry && at.entry.kind !== 'file')) return this.fail('EISDIR', path);
    if (at.entry && change.exclusive) return this.fail('EEXIST', path);
    if (!at.entry && !change.create) return this.fail('ENOENT', path);
    const size = at.entry ? this.ns.size(at.entry, path) : 0;
    const ops: Op[] = [];
    const start = change.at === 'end' ? (change.truncate ? 0 : size) : change.at;
    // Data that covers the whole old file needs no truncate first: it leaves the same bytes.
    if (at.entry && change.truncate && size > 0 && !(start === 0 && data.length >= size)) ops.push({ type: 'truncate', path, size: 0, mtimeMs });
    if (!at.entry && data.length === 0) ops.push({ type: 'create', path, mtimeMs });
    for (let offset = 0; offset < data.length; offset += OP_BYTES) {
      ops.push({ type: 'write', path, offset: start + offset, data: data.subarray(offset, offset + OP_BYTES), mtimeMs });
    }
    return { ops, value: start };
  }

  mkdir(path: string, recursive: boolean): Plan {
    const at = this.ns.locate(path);
    if (at.state === 'blocked') return this.fail('ENOTDIR', path);
    if (at.state === 'missing') {
      if (!recursive) return this.fail('ENOENT', path);
      return { ops: [{ type: 'mkdir', path, recursive: true }], value: at.at };
    }
    if (at.entry) return recursive && at.entry.kind === 'directory' ? NOTHING : this.fail('EEXIST', path);
    return { ops: [{ type: 'mkdir', path, recursive }], value: recursive ? path : undefined };
  }

  rmdir(path: string, recursive: boolean): Plan {
    if (components(path).length === 0) return this.fail('EINVAL', path, 'the root of a volume cannot be removed');
    const entry = this.existing(path);
    if (entry.kind !== 'directory') return this.fail('ENOTDIR', path);
    if (!recursive && this.ns.children(entry, components(path)).size > 0) return this.fail('ENOTEMPTY', path);
    return { ops: [{ type: 'rmdir', path, recursive }] };
  }

  rm(path: string, recursive: boolean, force: boolean): Plan {
    if (components(path).length === 0) return this.fail('EINVAL', path, 'the root of a volume cannot be removed');
    const at = this.ns.locate(path);
    if (at.state === 'blocked') return this.fail('ENOTDIR', path); // force forgives ENOENT only, as in Node
    if (at.state === 'missing' || !at.entry) return force ? NOTHING : this.fail('ENOENT', path);
    if (at.entry.kind !== 'directory') return { ops: [{ type: 'unlink', path }] }; // a link goes, not what it leads to
    if (!recursive) return this.fail('EISDIR', path, 'is a directory (rm needs recursive to remove one)');
    return { ops: [{ type: 'rmdir', path, recursive: true }] };
  }

  unlink(path: string): Plan {
    const entry = this.existing(path);
    if (entry.kind === 'directory') return this.fail('EISDIR', path);
    return { ops: [{ type: 'unlink', path }] };
  }

  chmod(path: string, mode: number): Plan {
    const entry = this.existing(path);
    if (entry.kind === 'symlink') return this.fail('EINVAL', path, 'a symbolic link has no mode of its own');
    return { ops: [{ type: 'chmod', path, mode }] };
  }

  /** As in Node, anything at `path` (a dangling link too) is EEXIST: symlink never replaces. */
  symlink(path: string, target: string): Plan {
    const at = this.located(path);
    if (at.parent === undefined || at.entry) return this.fail('EEXIST', path);
    return { ops: [{ type: 'symlink', path, target }] };
  }

  /** `makeParents`: a raw op's semantics (the medium makes the target's parents). */
  rename(path: string, target: string, makeParents: boolean): Plan {
    const from = components(path);
    const to = components(target);
    if (from.length === 0 || to.length === 0) return this.fail('EINVAL', path, 'the root of a volume cannot be renamed', target);
    const source = this.ns.locate(path);
    if (source.state !== 'found' || !source.entry) return this.fail(source.state === 'blocked' ? 'ENOTDIR' : 'ENOENT', path, undefined, target);
    if (from.join('/') === to.join('/')) return NOTHING;
    if (from.every((name, i) => to[i] === name)) return this.fail('EINVAL', path, 'cannot move a directory into itself', target);
    const dest = this.ns.locate(target);
    if (dest.state === 'blocked' || (dest.state === 'missing' && !makeParents)) {
      return this.fail(dest.state === 'blocked' ? 'ENOTDIR' : 'ENOENT', path, undefined, target);
    }
    const there = dest.state === 'found' ? dest.entry : undefined;
    const ops: Op[] = [];
    if (there) {
      if (source.entry.kind === 'directory' && there.kind !== 'directory') return this.fail('ENOTDIR', path, undefined, target);
      if (source.entry.kind !== 'directory' && there.kind === 'directory') return this.fail('EISDIR', path, undefined, target);
      if (there.kind === 'directory') {
        if (this.ns.children(there, to).size > 0) return this.fail('ENOTEMPTY', path, undefined, target);
        ops.push({ type: 'rmdir', path: target }); // the medium replaces files, not directories
      }
    }
    ops.push({ type: 'rename', path, target });
    return { ops };
  }

  /**
   * A raw op: the medium's semantics (a write, truncate or create makes the file and its parents),
   * but never an op the medium would have to skip or that would do nothing.
   */
  raw(op: Op): Plan {
    switch (op.type) {
      case 'write':
      case 'truncate':
      case 'create': {
        const at = this.ns.locate(op.path);
        if (at.state === 'blocked') return this.fail('ENOTDIR', op.path);
        if (at.state === 'found' && (at.parent === undefined || at.entry?.kind === 'directory')) return this.fail('EISDIR', op.path);
        if (at.state === 'found' && at.entry?.kind === 'symlink') return this.fail('EINVAL', op.path, 'a raw op does not follow a link');
        if (at.state === 'found' && at.entry?.kind === 'file') this.ns.size(at.entry, op.path);
        return { ops: [op] };
      }
      case 'mkdir': {
        const at = this.ns.locate(op.path);
        if (at.state === 'blocked') return this.fail('ENOTDIR', op.path);
        if (at.state === 'missing' && !op.recursive) return this.fail('ENOENT', op.path);
        if (at.state === 'found' && at.entry) return this.fail('EEXIST', op.path);
        return { ops: [op] };
      }
      case 'rename':
        return this.rename(op.path, op.target, true);
      case 'unlink':
        return this.unlink(op.path);
      case 'rmdir':
        return this.rmdir(op.path, op.recursive === true);
      case 'setTimes':
        this.existing(op.path);
        return { ops: [op] };
      case 'chmod':
        return this.chmod(op.path, op.mode);
      case 'symlink': {
        const at = this.ns.locate(op.path);
        if (at.state === 'blocked') return this.fail('ENOTDIR', op.path);
        if (at.state === 'found' && (at.parent === undefined || at.entry)) return this.fail('EEXIST', op.path);
        return { ops: [op] };
      }
    }
  }
}
