// The medium port on OPFS, page side: every call goes to a dedicated worker (opfs-worker.ts),
// where sync access handles exist, through comlink; errors come back as plain
// `{ name, code, message, data }` objects and are rethrown here as FencedError / MediumError.
import { wrap, type Remote } from 'comlink';
import type { ClaimedState, DirEntry, EntryStat, LsnOp, Medium, VolumeState } from '../core/ports.js';
import { FencedError, MediumError, NodeError } from '../errors.js';
import type { Access, FaultKind, FaultPoint, MediumWorker, WireError } from './opfs-worker.js';

export type { DirEntry, EntryStat } from '../core/ports.js';
export type { Access, FaultKind, FaultPoint } from './opfs-worker.js';

export interface OpfsMediumOptions {
  /** The cluster's name: its volumes live under `tandemfs/<cluster>/` in OPFS. */
  readonly cluster: string;
  /** A worker running opfs-worker.ts, for hosts that build or place it themselves. */
  readonly worker?: Worker;
  /** 'auto' (the default) uses sync access handles where the worker has them. */
  readonly access?: Access | 'auto';
}

export class OpfsMedium implements Medium {
  readonly #worker: Worker;
  readonly #remote: Remote<MediumWorker>;
  readonly #access: Access;
  /** Rejecters of the calls in flight, so that close() can end them: a dead worker never answers. */
  readonly #inFlight = new Set<(error: Error) => void>();
  #closed = false;

  private constructor(worker: Worker, remote: Remote<MediumWorker>, access: Access) {
    this.#worker = worker;
    this.#remote = remote;
    this.#access = access;
  }

  static async create({ cluster, worker: given, access = 'auto' }: OpfsMediumOptions): Promise<OpfsMedium> {
    if (cluster === '' || cluster === '.' || cluster === '..' || /[/\\]/.test(cluster)) {
      given?.terminate();
      throw new NodeError('EINVAL', `cluster name ${JSON.stringify(cluster)} is not a valid OPFS directory name`);
    }
    const worker = given ?? startWorker();
    const remote = wrap<MediumWorker>(worker);
    // A worker that fails to load fires `error` and never answers: race the first call against it.
    const failed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => reject(new MediumError(`the OPFS worker failed to start: ${messageOf(event)}`, { permanent: true })), { once: true });
    });
    try {
      return new OpfsMedium(worker, remote, await Promise.race([remote.open(cluster, access), failed]));
    } catch (error) {
      worker.terminate();
      throw typed(error);
    }
  }

  /** Which file access the worker uses. */
  get access(): Access {
    return this.#access;
  }

  state(volume: number): Promise<VolumeState> {
    return this.#call((remote) => remote.state(volume));
  }

  async claim(volume: number, epoch: number, base: number): Promise<ClaimedState> {
    // The worker sends the recent op ids flat, [opId, lsn, opId, lsn, ...], in one buffer.
    const { recent: flat, ...state } = await this.#call((remote) => remote.claim(volume, epoch, base));
    const recent: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) recent.push([flat[i]!, flat[i + 1]!]);
    return { ...state, recent };
  }

  apply(volume: number, epoch: number, ops: readonly LsnOp[]): Promise<void> {
    return this.#call((remote) => remote.apply(volume, epoch, ops));
  }

  read(volume: number, path: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#call((remote) => remote.read(volume, path, offset, length));
  }

  /** Times not set by set-times ops are OPFS's: a file's lastModified (when a write reached it), a directory's 0. */
  stat(volume: number, path: string): Promise<EntryStat | undefined> {
    return this.#call((remote) => remote.stat(volume, path));
  }

  list(volume: number, path: string): Promise<DirEntry[] | undefined> {
    return this.#call((remote) => remote.list(volume, path));
  }

  /**
   * Fault injection for tests of the owner's failure paths: the next `count` applies fail, before
   * touching any file, or (`at` 'state') with their files and op ids written but not their state.
   */
  failNext(count: number, kind: FaultKind, at: FaultPoint = 'start'): Promise<void> {
    return this.#call((remote) => remote.failNext(count, kind, at));
  }

  /**
   * Stops the worker at once, as a crashed tab would: its Web Locks are released, its file handles
   * freed shortly after, and calls in flight fail with a permanent MediumError.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
    for (const reject of this.#inFlight) reject(closedError());
    this.#inFlight.clear();
  }

  async #call<T>(run: (remote: Remote<MediumWorker>) => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError();
    let reject: (error: Error) => void = () => {};
    const closed = new Promise<never>((_, fail) => (reject = fail));
    this.#inFlight.add(reject);
    try {
      return await Promise.race([run(this.#remote), closed]);
    } catch (error) {
      throw typed(error);
    } finally {
      this.#inFlight.delete(reject);
    }
  }
}

/**
 * The worker beside this module. `new Worker(new URL('./opfs-worker.js', import.meta.url))` is the
 * static form that built output and bundlers (Vite, webpack, esbuild-based tools) follow to emit
 * the worker with an app, and the only one they may see here. A dev server that compiles
 * TypeScript on request (web-test-runner's esbuild plugin) serves this module as `opfs-medium.ts`
 * and has no `opfs-worker.js` to serve (it maps `.js` to `.ts` only in import statements, not in
 * URLs): there the worker takes the `.ts` name, through a URL that no bundler takes for an asset
 * (its base is not `import.meta.url` itself), so that a bundle never asks for a .ts file.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (new URL(here).pathname.endsWith('.ts')) return new Worker(new URL('./opfs-worker.ts', here), { type: 'module' });
  return new Worker(new URL('./opfs-worker.js', import.meta.url), { type: 'module' });
}

/** The typed error for a WireError from the worker; anything else as it is. */
function typed(error: unknown): unknown {
  if (!isWireError(error)) return error;
  const { code, message, data } = error;
  if (code === 'EFENCED') return new FencedError(Number(data.volume), Number(data.epoch), Number(data.current));
  return new MediumError(message, { ...data, permanent: data.permanent === true });
}

function isWireError(error: unknown): error is WireError {
  return typeof error === 'object' && error !== null && !(error instanceof Error) && typeof (error as WireError).code === 'string';
}

function closedError(): MediumError {
  return new MediumError('the OPFS medium is closed', { permanent: true });
}

function messageOf(event: Event): string {
  return event instanceof ErrorEvent ? event.message : 'the script could not be loaded';
}
