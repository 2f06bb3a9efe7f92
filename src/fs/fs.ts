// FS: the file system apps use, shaped like lightning-fs (`new FS(name)`, `fs.promises.*`, the
// callback forms, `init`), so code written for lightning-fs (isomorphic-git among it) runs with
// only its import changed. Behind it, a tandemfs node in this tab or worker: every write is
// acknowledged once it is in two tabs' IndexedDB, and survives either tab's crash.
import type { NodeEvent, NodeStatus } from '../core/node.js';
import type { Durability } from '../browser/idb-stores.js';
import type { LinkKind } from '../browser/hub.js';
import { startBrowserNode, type BrowserNode, type ClosableLink } from '../browser/start-node.js';
import { startWorkerNode } from '../browser/worker-node.js';
import { FsError } from '../errors.js';
import { Mounts } from './paths.js';
import { FsPromises, type FsBackend } from './promises.js';

export interface FSOptions {
  /** Path prefixes to volumes; the longest prefix that holds a path wins. Default `{ '/': 0 }`. */
  readonly volumes?: Readonly<Record<string, number>>;
  /** A secret every tab of the cluster shares; tabs that cannot prove it are not let in. */
  readonly secret?: string;
  /** IndexedDB durability of journal and mirror writes: 'relaxed' (default) or 'strict'. */
  readonly durability?: Durability;
  /** Hold acks while no other tab mirrors (true), or ack from this tab's journal alone (default). */
  readonly requireMirror?: boolean;
  /**
   * How tabs reach each other: 'hub' (the default where SharedWorker exists), a SharedWorker that
   * gives each pair a channel of their own, or 'webrtc' (the default elsewhere), a data channel per pair; the hub
   * mirrors faster (docs/browser.md). Every tab of a cluster must use the same.
   */
  readonly link?: LinkKind;
  /** lightning-fs options (wipe, url, db, ...) are accepted and ignored: see docs/api.md. */
  readonly [lightningFsOption: string]: unknown;
}

type Callback<T> = (error: Error | null, value?: T) => void;

/** The methods that also come in callback form (`fs.readFile(path, cb)`), as in lightning-fs. */
const CALLBACK_METHODS = [
  'readFile', 'writeFile', 'appendFile', 'unlink', 'readdir', 'mkdir', 'rmdir', 'rm', 'rename', 'stat', 'lstat',
  'readlink', 'symlink', 'truncate', 'utimes', 'chmod', 'du',
] as const;

type CallbackMethod = (typeof CALLBACK_METHODS)[number];
type CallbackForms = {
  [K in CallbackMethod]: (...args: unknown[]) => void;
};

export interface FS extends CallbackForms {}

export class FS {
  /** The Node-style promise API. Calls made before init() finishes wait for it. */
  readonly promises: FsPromises & { init: FS['init'] };
  #node?: Promise<BrowserNode<ClosableLink>>;
  #mounts = new Mounts();

  constructor(name?: string, options: FSOptions = {}) {
    const backend = async (): Promise<FsBackend> => {
      if (!this.#node) throw new FsError('EINVAL', 'init', undefined, undefined, 'call init(name) before using the file system');
      return (await this.#node).node;
    };
    const promises = new FsPromises(backend, () => this.#mounts);
    this.promises = Object.assign(promises, { init: (n: string, o?: FSOptions) => this.init(n, o) });
    for (const method of CALLBACK_METHODS) {
      const call = (promises[method] as (...args: unknown[]) => Promise<unknown>).bind(promises);
      this[method] = (...args: unknown[]) => callbackForm(call, args);
    }
    if (name !== undefined) void this.init(name, options).catch(() => {}); // the first call reports it
  }

  /**
   * Joins (or forms) the cluster `name`: the tabs of this origin that use the same name. In a
   * dedicated worker (no WebRTC there) the node reaches the cluster through its page, which must
   * call `hostWorkerNode(worker)` (docs/api.md).
   */
  init(name: string, options: FSOptions = {}): Promise<void> {
    this.#mounts = new Mounts(options.volumes);
    const settings = {
      cluster: name,
      volumes: this.#mounts.volumes,
      secret: options.secret,
      durability: options.durability,
      requireMirror: options.requireMirror,
      link: options.link,
    };
    const inWorker = typeof RTCPeerConnection === 'undefined' && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
    this.#node = inWorker ? startWorkerNode(settings) : startBrowserNode(settings);
    return this.#node.then(() => {});
  }

  /** Which volumes this tab owns and mirrors, its partners, and the unflushed backlog. */
  async status(): Promise<NodeStatus> {
    return (await this.#started()).node.status();
  }

  /** Role changes, partner up and down, degraded, takeover started and finished (with ops replayed). */
  on(listener: (event: NodeEvent) => void): () => void {
    let off: (() => void) | undefined;
    let cancelled = false;
    void this.#node?.then(({ node }) => {
      if (!cancelled) off = node.onEvent(listener);
    });
    return () => {
      cancelled = true;
      off?.();
    };
  }

  /** A planned leave: hands this tab's volumes over, drained, so that nothing needs replaying. */
  async close(): Promise<void> {
    await (await this.#started()).close();
  }

  async #started(): Promise<BrowserNode<ClosableLink>> {
    if (!this.#node) throw new FsError('EINVAL', 'init', undefined, undefined, 'call init(name) before using the file system');
    return this.#node;
  }
}

/** `fn(...args, callback)`: the last argument, when a function, gets (error, value). */
function callbackForm(call: (...args: unknown[]) => Promise<unknown>, args: unknown[]): void {
  const last = args.at(-1);
  if (typeof last !== 'function') {
    void call(...args).catch(() => {});
    return;
  }
  const callback = last as Callback<unknown>;
  call(...args.slice(0, -1)).then((value) => callback(null, value), (error: Error) => callback(error));
}
