// Typed errors. Every error tandemfs throws on purpose is a TandemError with a stable `code`
// and plain `data`, so it survives structured cloning, comlink and JSON (isomorphic-git style).

export class TandemError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: Code, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }

  toJSON(): { name: string; code: Code; message: string; data: Readonly<Record<string, unknown>> } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}

/** Why a journal record frame could not be encoded or decoded. */
export type RecordErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'LENGTH_MISMATCH'
  | 'CHECKSUM_MISMATCH'
  | 'FIELD_OUT_OF_RANGE'
  | 'BUFFER_TOO_SMALL';

export class RecordError extends TandemError<RecordErrorCode> {}

/** Why the node refused or could not finish an op; Node-style codes where one fits. */
export type NodeErrorCode =
  | 'EFENCED' // this node's ownership of the volume ended (a higher epoch exists)
  | 'ENOTOWNER' // the op reached a node that does not own its volume; retry at the owner
  | 'EIO' // the medium or a store failed
  | 'ENOSPC' // quota exhausted
  | 'ETIMEDOUT' // no owner, no partner or no answer in time
  | 'EVOLUMESTOPPED' // a record needed for replay is damaged in every copy; the volume stopped
  | 'EINVAL'; // bad input to the node API

export class NodeError extends TandemError<NodeErrorCode> {}

/** Thrown by Medium.apply when a higher epoch has claimed the volume. */
export class FencedError extends NodeError {
  constructor(volume: number, epoch: number, current: number) {
    super('EFENCED', `volume ${volume}: epoch ${epoch} is fenced by epoch ${current}`, { volume, epoch, current });
  }
}

/** I/O failure of the medium or a store. `permanent` when retrying cannot help. */
export class MediumError extends NodeError {
  constructor(message: string, data: { permanent: boolean; quota?: boolean } & Record<string, unknown>) {
    super(data.quota ? 'ENOSPC' : 'EIO', message, data);
  }

  get permanent(): boolean {
    return this.data.permanent === true;
  }
}

/** Why a link frame could not be encoded or decoded, or why a link could not open. */
export type LinkErrorCode =
  | 'UNSUPPORTED_VERSION' // the frame's version byte is not one this build speaks
  | 'UNKNOWN_KIND' // the frame kind byte names no kind of frame
  | 'UNKNOWN_TAG' // a value inside the frame has a type tag that names no type
  | 'TRUNCATED' // the frame ends inside a value
  | 'TRAILING_BYTES' // bytes follow the frame's value
  | 'TOO_LARGE' // a length beyond the wire's caps (message size, nesting depth, count)
  | 'BAD_NUMBER' // a varint longer than 53 bits
  | 'BAD_UTF8' // a string that is not valid UTF-8
  | 'BAD_FRAGMENT' // a fragment out of sequence, or longer than its message
  | 'UNENCODABLE' // a value the wire cannot carry (a class instance, a function, a cycle...)
  | 'UNAVAILABLE'; // the platform lacks what the link needs (WebRTC in a worker)

export class LinkError extends TandemError<LinkErrorCode> {}

/** Node's error codes for file-system calls, checked at a volume's owner before an op gets its LSN. */
export type FsErrorCode = 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'EINVAL' | 'EBADF' | 'EXDEV' | 'ELOOP';

/** Node's errno numbers for them (as `err.errno`, negative, on Linux). */
const ERRNO: Record<FsErrorCode, number> = {
  ENOENT: -2, EEXIST: -17, ENOTDIR: -20, EISDIR: -21, ENOTEMPTY: -39, EINVAL: -22, EBADF: -9, EXDEV: -18, ELOOP: -40,
};

const DESCRIPTION: Record<FsErrorCode, string> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  ENOTEMPTY: 'directory not empty',
  EINVAL: 'invalid argument',
  EBADF: 'bad file descriptor',
  EXDEV: 'cross-device link not permitted',
  ELOOP: 'too many symbolic links encountered',
};

/**
 * A file-system call refused, shaped like Node's: `code`, `errno`, `syscall`, `path` (and `dest`
 * for a rename), and a message such as "ENOENT: no such file or directory, open '/a/b'".
 */
export class FsError extends TandemError<FsErrorCode> {
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;

  constructor(code: FsErrorCode, syscall: string, path?: string, dest?: string, detail?: string) {
    const where = path === undefined ? '' : dest === undefined ? ` '${path}'` : ` '${path}' -> '${dest}'`;
    super(code, `${code}: ${detail ?? DESCRIPTION[code]}, ${syscall}${where}`, { syscall, path, dest, detail });
    this.errno = ERRNO[code];
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
    if (dest !== undefined) this.dest = dest;
  }

  /** The same error, naming other paths (a volume's path → the user's, through the mount table). */
  withPaths(path: string | undefined, dest?: string): FsError {
    const detail = typeof this.data.detail === 'string' ? this.data.detail : undefined;
    return new FsError(this.code, this.syscall, path, this.dest === undefined ? undefined : dest, detail);
  }

  static isCode(code: string): code is FsErrorCode {
    return Object.hasOwn(ERRNO, code);
  }
}

/** A NodeError or FsError as it crossed a link (code, message, data), made whole again. */
export function reviveError(error: { code: string; message: string; data?: Record<string, unknown> }): TandemError {
  const data = error.data ?? {};
  const revived = FsError.isCode(error.code) && typeof data.syscall === 'string'
    ? new FsError(error.code, data.syscall, optionalString(data.path), optionalString(data.dest), optionalString(data.detail))
    : new NodeError(error.code as NodeErrorCode, error.message, data);
  revived.message = error.message;
  return revived;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
