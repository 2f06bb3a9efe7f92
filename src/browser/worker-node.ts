// A tandemfs node in a dedicated worker, a full member of its cluster. A worker has no
// RTCPeerConnection, so the page that started it runs the node's WebRTC side for it: a
// WebRtcLink opened in the page with the worker node's own id (worker-bridge.ts). This file is
// the worker's half: BridgedLink, the node's Link, which talks to that page-side link over a
// MessagePort; and startWorkerNode, startBrowserNode's twin for a worker.
//
//   worker (BridgedLink)  ── MessagePort ──  page (WorkerBridge: a WebRtcLink as the worker's id)  ══ WebRTC ══  peers
//
// What crosses the port:
//   worker -> page:  open { cluster, self, key, lock } · send { to, gen, urgent, frame } · close
//   page -> worker:  opened · refused { code, message } · up { peer, gen } · down { peer }
//                    · message { from, message } · closed
//
// - Messages go out encoded (wire.ts) by the worker, so that what the wire cannot carry fails at
//   this link's `send`, as on the other links; the frame's buffer is transferred, and the page
//   queues it on the peer's data or urgent channel (`WebRtcLink.sendEncoded`): urgent messages
//   overtake bulk data exactly as they do for a tab's node. Messages come in decoded by the page's
//   link, their byte arrays transferred, not copied.
// - One port, one order: everything the page posts about a peer (up, its messages, down) arrives
//   here in the order it happened there.
// - Each `up` carries a generation. A send names the generation it was meant for, and the page
//   drops it if that connection is gone, even if a new one to the same peer is already up: a
//   message sent before a drop never arrives on the connection after it, as with a tab's link.
// - The handshake (auth.ts) runs in the page, between its WebRtcLink and each peer, with the
//   cluster's key. The worker imports the secret as a non-extractable HMAC key and hands the page
//   that key, never the secret's bytes.
// - Liveness: the link holds a Web Lock of its own while it is open; the page waits for it, so
//   when the worker is terminated or crashes the page closes the WebRtcLink and the peers hear
//   `bye`. The worker node's own locks (liveness, volumes) go with the worker. If the page dies,
//   its worker dies with it.
import type { NodeOptions } from '../core/options.js';
import type { Link, NodeId } from '../core/ports.js';
import { LinkError, type LinkErrorCode } from '../errors.js';
import { importSecret, type DropReason, type LinkStats } from './auth.js';
import { IdbStores, type Durability } from './idb-stores.js';
import { LinkListeners } from './link-listeners.js';
import { OpfsMedium } from './opfs-medium.js';
import { PortLink } from './port-link.js';
import { runNode, type BrowserNode } from './start-node.js';
import { encodeWire } from './wire.js';

// ---------------------------------------------------------------------------------------------
// The protocol (shared with worker-bridge.ts)

/** The key that marks the two messages on the worker's own channel that hand over a port. */
export const BRIDGE_MARK = 'tandemfsBridge';

/** worker -> page, on the worker's global scope: "give me a port" (repeated until answered). */
export interface BridgeRequest {
  readonly [BRIDGE_MARK]: 'request';
  readonly request: string;
  /** The cluster the worker's node joins: its hub is per cluster. */
  readonly cluster: string;
  /** Whether a port to the hub will do; else it must be a bridge (a BridgedLink asks). */
  readonly hub: boolean;
}

/**
 * page -> worker, on the Worker object: the port for that request (transferred). 'hub': a port to
 * the cluster's hub, for a PortLink (what the page's own nodes use where SharedWorker exists);
 * 'bridge': a port to a WorkerBridge, for a BridgedLink (WebRTC, run by the page).
 */
export interface BridgeAnswer {
  readonly [BRIDGE_MARK]: 'port';
  readonly request: string;
  readonly kind: 'hub' | 'bridge';
  readonly port: MessagePort;
}

export type ToHost =
  | { type: 'open'; cluster: string; self: NodeId; key: CryptoKey | null; lock: string }
  | { type: 'send'; to: NodeId; gen: number; urgent: boolean; frame: Uint8Array<ArrayBuffer> }
  | { type: 'close' };

export type FromHost =
  | { type: 'opened' }
  | { type: 'refused'; code: string; message: string }
  | { type: 'up'; peer: NodeId; gen: number }
  | { type: 'down'; peer: NodeId }
  | { type: 'message'; from: NodeId; message: unknown }
  | { type: 'closed' };

export function isBridgeRequest(data: unknown): data is BridgeRequest {
  return typeof data === 'object' && data !== null
    && (data as Record<string, unknown>)[BRIDGE_MARK] === 'request'
    && typeof (data as Record<string, unknown>).request === 'string'
    && typeof (data as Record<string, unknown>).cluster === 'string'
    && typeof (data as Record<string, unknown>).hub === 'boolean';
}

function isBridgeAnswer(data: unknown, request: string): data is BridgeAnswer {
  return typeof data === 'object' && data !== null
    && (data as Record<string, unknown>)[BRIDGE_MARK] === 'port'
    && (data as Record<string, unknown>).request === request
    && ((data as Record<string, unknown>).kind === 'hub' || (data as Record<string, unknown>).kind === 'bridge')
    && (data as Record<string, unknown>).port instanceof MessagePort;
}

export function isToHost(data: unknown): data is ToHost {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  switch (m.type) {
    case 'open':
      return typeof m.cluster === 'string' && typeof m.self === 'string' && typeof m.lock === 'string'
        && (m.key === null || m.key instanceof CryptoKey);
    case 'send':
      return typeof m.to === 'string' && typeof m.gen === 'number' && typeof m.urgent === 'boolean' && m.frame instanceof Uint8Array;
    case 'close':
      return true;
    default:
      return false;
  }
}

function isFromHost(data: unknown): data is FromHost {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  switch (m.type) {
    case 'opened':
    case 'closed':
      return true;
    case 'refused':
      return typeof m.code === 'string' && typeof m.message === 'string';
    case 'up':
      return typeof m.peer === 'string' && typeof m.gen === 'number';
    case 'down':
      return typeof m.peer === 'string';
    case 'message':
      return typeof m.from === 'string' && 'message' in m;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Asking the page for a port

/** How long a worker waits for its page to answer, unless told otherwise. */
const HOST_TIMEOUT_MS = 10_000;
/** A request is repeated this often, in case the page set up hostWorkerNode after the first. */
const REQUEST_EVERY_MS = 100;

/** The parts of a dedicated worker's global scope the request uses (no WebWorker lib here). */
interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
}

/**
 * Asks the page that started this dedicated worker for a port for a node of `cluster`
 * (WorkerBridge.host, which hostWorkerNode sets up): the request goes on the worker's own channel,
 * again every 100 ms until the page answers, so that it does not matter which side was ready first.
 */
export function requestBridgePort(cluster: string, hub: boolean, timeoutMs = HOST_TIMEOUT_MS): Promise<Pick<BridgeAnswer, 'kind' | 'port'>> {
  if (!('DedicatedWorkerGlobalScope' in globalThis)) {
    return Promise.reject(new LinkError('UNAVAILABLE', 'no port given, and this is no dedicated worker to ask its page for one'));
  }
  const scope = globalThis as unknown as WorkerScope;
  const request = crypto.randomUUID();
  return new Promise((resolve, reject) => {
    const ask = () => scope.postMessage({ [BRIDGE_MARK]: 'request', request, cluster, hub } satisfies BridgeRequest);
    const timer = setInterval(ask, REQUEST_EVERY_MS);
    const deadline = setTimeout(() => {
      done();
      reject(new LinkError('UNAVAILABLE', `the page did not answer within ${timeoutMs} ms: it must call hostWorkerNode(worker) for this worker`));
    }, timeoutMs);
    const answered = (event: MessageEvent<unknown>) => {
      if (!isBridgeAnswer(event.data, request)) return;
      event.stopImmediatePropagation(); // ours alone: the app's own handlers need not see it
      done();
      resolve({ kind: event.data.kind, port: event.data.port });
    };
    const done = () => {
      clearInterval(timer);
      clearTimeout(deadline);
      scope.removeEventListener('message', answered);
    };
    scope.addEventListener('message', answered);
    ask();
  });
}

// ---------------------------------------------------------------------------------------------
// The worker node's link

export interface BridgedLinkOptions {
  readonly cluster: string;
  readonly self: NodeId;
  /** The cluster's shared secret: peers must prove they know it (auth.ts). Only a key made of it reaches the page. */
  readonly secret?: string | Uint8Array;
  /**
   * A port to a WorkerBridge (`bridge.connect()`). By default the link asks the page that started
   * this worker for one (`hostWorkerNode(worker)` there).
   */
  readonly port?: MessagePort;
  /** How long to wait for the page (the port, then its link): 10 s unless given. */
  readonly timeoutMs?: number;
}

/**
 * A Link for a node whose WebRTC side a page runs (WorkerBridge): in a dedicated worker, or
 * anywhere a MessagePort to a bridge reaches.
 */
export class BridgedLink implements Link {
  readonly self: NodeId;
  readonly #port: MessagePort;
  readonly #abort = new AbortController();
  readonly #listeners = new LinkListeners();
  /** The peers up now, each with the generation of its connection in the page. */
  readonly #peers = new Map<NodeId, number>();
  readonly #releaseLock: () => void;
  #opening: { resolve(): void; reject(error: Error): void } | undefined;
  #closed = false;
  /** The page closed its side: no peer comes up again. */
  #hostClosed = false;
  readonly #dropped: Record<DropReason, number> = { unauthenticated: 0, otherCluster: 0, undecodable: 0 };

  /** Opens the link: the page opens the WebRTC side as `self`; peers come up (onPeer) as they pass the handshake. */
  static async open(options: BridgedLinkOptions): Promise<BridgedLink> {
    const timeoutMs = options.timeoutMs ?? HOST_TIMEOUT_MS;
    const key = options.secret === undefined ? null : await importSecret(options.secret);
    const port = options.port ?? (await requestBridgePort(options.cluster, false, timeoutMs)).port;
    const lock = `tandemfs:bridge:${crypto.randomUUID()}`;
    const release = await holdLock(lock);
    const link = new BridgedLink(options.self, port, release);
    try {
      await link.#open({ type: 'open', cluster: options.cluster, self: options.self, key, lock }, timeoutMs);
    } catch (error) {
      link.close();
      throw error;
    }
    return link;
  }

  private constructor(self: NodeId, port: MessagePort, release: () => void) {
    this.self = self;
    this.#port = port;
    this.#releaseLock = release;
    port.addEventListener('message', ({ data }: MessageEvent<unknown>) => this.#hosted(data), { signal: this.#abort.signal });
    port.start();
  }

  #open(request: ToHost & { type: 'open' }, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LinkError('UNAVAILABLE', `the page did not open the link within ${timeoutMs} ms`)), timeoutMs);
      this.#opening = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      this.#post(request);
    }).finally(() => (this.#opening = undefined));
  }

  /**
   * Encodes here (what the wire cannot carry throws here, a LinkError), and hands the frame to
   * the page, which queues it on the peer's connection, on its urgent channel if `urgent`.
   * False when the peer is not up.
   */
  send(to: NodeId, message: unknown, urgent = false): boolean {
    const gen = this.#peers.get(to);
    if (this.#closed || gen === undefined) return false;
    this.#post({ type: 'send', to, gen, urgent, frame: encodeWire(message) });
    this.#listeners.sent();
    return true;
  }

  peers(): NodeId[] {
    return [...this.#peers.keys()].sort();
  }

  onMessage(handler: (from: NodeId, message: unknown) => void): void {
    this.#listeners.onMessage(handler);
  }

  onPeer(handler: (peer: NodeId, up: boolean) => void): void {
    this.#listeners.onPeer(handler);
  }

  /**
   * What this side did: messages sent and received here, and what it dropped. What the page's
   * WebRtcLink refused from strangers counts there (WorkerBridge.links()).
   */
  stats(): LinkStats {
    const { sent, received } = this.#listeners.stats();
    return { sent, received, dropped: { ...this.#dropped } };
  }

  /** Closes the page's side too (its peers hear bye) and the port; every peer is reported down here. */
  close(): void {
    if (this.#closed) return;
    this.#post({ type: 'close' });
    this.#closed = true;
    this.#end();
    this.#listeners.clear();
  }

  /** The port and the lock go, and every peer is reported down. */
  #end(): void {
    this.#abort.abort();
    this.#port.close();
    this.#releaseLock();
    for (const peer of [...this.#peers.keys()]) this.#down(peer);
  }

  #post(message: ToHost): void {
    if (this.#closed || this.#hostClosed) return;
    // The encoded frame's buffer is ours alone: transfer it rather than copy it.
    this.#port.postMessage(message, message.type === 'send' ? [message.frame.buffer] : []);
  }

  #hosted(data: unknown): void {
    if (!isFromHost(data)) return void (this.#dropped.undecodable += 1);
    switch (data.type) {
      case 'opened':
        return this.#opening?.resolve();
      case 'refused': {
        const code = (LINK_CODES as readonly string[]).includes(data.code) ? (data.code as LinkErrorCode) : 'UNAVAILABLE';
        return this.#opening?.reject(new LinkError(code, `the page could not open the link: ${data.message}`));
      }
      case 'up': {
        if (data.peer === this.self) return;
        if (this.#peers.has(data.peer)) this.#down(data.peer); // a new connection: the old one's end first
        this.#peers.set(data.peer, data.gen);
        return this.#listeners.peer(data.peer, true);
      }
      case 'down':
        return this.#down(data.peer);
      case 'message':
        if (!this.#peers.has(data.from)) return void (this.#dropped.unauthenticated += 1);
        return this.#listeners.message(data.from, data.message);
      case 'closed':
        // The page closed the bridge (WorkerBridge.close): nothing reaches the cluster any more.
        this.#opening?.reject(new LinkError('UNAVAILABLE', 'the page closed the bridge'));
        this.#hostClosed = true;
        return this.#end();
    }
  }

  #down(peer: NodeId): void {
    if (!this.#peers.delete(peer)) return;
    this.#listeners.peer(peer, false);
  }
}

const LINK_CODES = ['UNSUPPORTED_VERSION', 'UNKNOWN_KIND', 'UNKNOWN_TAG', 'TRUNCATED', 'TRAILING_BYTES', 'TOO_LARGE', 'BAD_NUMBER', 'BAD_UTF8', 'BAD_FRAGMENT', 'UNENCODABLE', 'UNAVAILABLE'] as const satisfies readonly LinkErrorCode[];

/** Takes a Web Lock and holds it until the returned function is called (or the context dies). */
function holdLock(name: string): Promise<() => void> {
  return new Promise((granted) => {
    void navigator.locks.request(name, () => new Promise<void>((release) => granted(release)));
  });
}

// ---------------------------------------------------------------------------------------------
// The node

export interface WorkerNodeOptions extends Partial<Omit<NodeOptions, 'volumes'>> {
  /** The cluster: tabs and workers of an origin with the same name serve the same volumes together. */
  readonly cluster: string;
  readonly volumes: readonly number[];
  /** A secret every node of the cluster shares; links from nodes that cannot prove it are refused. */
  readonly secret?: string;
  /** IndexedDB durability of journal and mirror writes ('relaxed' unless you need 'strict'). */
  readonly durability?: Durability;
  /** A port to a WorkerBridge; by default the node asks the page that started this worker (hostWorkerNode). */
  readonly port?: MessagePort;
  /** How long to wait for the page to answer: 10 s unless given. */
  readonly hostTimeoutMs?: number;
}

/** A node in a worker: its link runs through the cluster's hub (PortLink) or the page's WebRTC (BridgedLink). */
export type WorkerNode = BrowserNode<BridgedLink | PortLink>;

/**
 * Starts a node in a dedicated worker, as startBrowserNode does in a tab: a fresh id, its
 * IndexedDB stores, the OPFS medium (whose own worker this worker starts: a nested worker), Web
 * Locks, and a link the page hands over, which must call `hostWorkerNode(worker)`: a port to the
 * cluster's hub, or to a bridge through the page's WebRTC.
 */
export async function startWorkerNode(options: WorkerNodeOptions): Promise<WorkerNode> {
  const { cluster, secret, durability, port: given, hostTimeoutMs, ...nodeOptions } = options;
  const self = crypto.randomUUID();
  // The page first: without a host there is no node, and nothing to open and close again.
  const { kind, port } = given ? { kind: 'bridge' as const, port: given } : await requestBridgePort(cluster, true, hostTimeoutMs);
  let stores: IdbStores | undefined;
  let medium: OpfsMedium | undefined;
  try {
    stores = await IdbStores.open({ cluster, node: self, durability });
    medium = await OpfsMedium.create({ cluster });
  } catch (error) {
    stores?.close();
    port.close();
    throw error;
  }
  const opening = kind === 'hub' ? PortLink.open({ cluster, self, secret, port }) : BridgedLink.open({ cluster, self, secret, port, timeoutMs: hostTimeoutMs });
  const link = await opening.catch(async (error: unknown) => {
    await medium!.close();
    stores!.close();
    throw error;
  });
  return runNode({ self, cluster, stores, medium, link }, { ...nodeOptions, volumes: [...options.volumes] });
}
