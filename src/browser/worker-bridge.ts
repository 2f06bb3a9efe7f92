// The page's half of a worker-hosted node (worker-node.ts has the worker's half and the
// protocol). A dedicated worker has no RTCPeerConnection, so for each BridgedLink a worker opens
// the page opens a WebRtcLink *as the worker's node* (its id, its cluster, its secret's key) and
// forwards between that link and the worker's port: the worker's frames go out on the peer's data
// or urgent channel, what peers send is posted to the worker, and peers coming up and going down
// are told in order with the messages. To the rest of the cluster the worker node is a node like
// any tab's: same signalling, same handshake, same channels.
//
// Liveness: the worker's link holds a Web Lock while it is open, and the bridge waits for it. A
// worker that is terminated or crashes while the page lives loses the lock, and the bridge then
// closes the WebRtcLink: its peers hear `bye` and report the node down at once (its liveness lock,
// which the core's partners watch, went with the worker too). A page that dies takes its workers
// with it, and its connections fail as a crashed tab's do.
//
// What the page sees: every message of the worker node, in the clear, and a usable (though
// non-extractable) HMAC key of the cluster's secret, never the secret's bytes. The page started
// the worker and runs in its origin, where the node's journal, mirror and medium lie open anyway:
// it is trusted, as a tab's node trusts its own page.
import type { NodeId } from '../core/ports.js';
import { LinkError } from '../errors.js';
import { defaultLink, hubPort, type LinkKind } from './hub.js';
import { WebRtcLink, type FlowOptions } from './webrtc-link.js';
import { BRIDGE_MARK, isBridgeRequest, isToHost, type BridgeAnswer, type FromHost, type ToHost } from './worker-node.js';

export interface WorkerHostOptions {
  /** When given, the worker's links may join this cluster only (others are refused). */
  readonly cluster?: string;
  /** How the worker's nodes reach their peers: as the page's nodes do (defaultLink() unless told). */
  readonly link?: LinkKind;
  /** Flow-control tuning of the WebRTC links (DEFAULT_FLOW otherwise). */
  readonly flow?: Partial<FlowOptions>;
}

/**
 * Bridges the links of worker-hosted nodes to the cluster: `host(worker)` answers a dedicated
 * worker's requests (startWorkerNode, BridgedLink.open there); `connect()` hands out a port
 * for a BridgedLink anywhere else.
 */
export class WorkerBridge {
  readonly #options: WorkerHostOptions;
  readonly #bridges = new Set<Bridge>();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(options: WorkerHostOptions = {}) {
    this.#options = options;
  }

  /** Answers every bridge request `worker` makes with a port of its own, once per request. */
  host(worker: Worker): void {
    const answered = new Set<string>();
    worker.addEventListener('message', (event: MessageEvent<unknown>) => {
      const { data } = event;
      if (!isBridgeRequest(data)) return;
      event.stopImmediatePropagation(); // ours alone: the app's own handlers need not see it
      if (this.#closed || answered.has(data.request)) return; // a repeat sent before our answer arrived
      answered.add(data.request);
      // A request for another cluster than ours gets a bridge, which refuses it with the reason.
      const hub = data.hub && (this.#options.link ?? defaultLink()) === 'hub' && (this.#options.cluster ?? data.cluster) === data.cluster;
      const port = hub ? hubPort(data.cluster) : this.connect();
      const answer: BridgeAnswer = { [BRIDGE_MARK]: 'port', request: data.request, kind: hub ? 'hub' : 'bridge', port };
      worker.postMessage(answer, [port]);
    }, { signal: this.#abort.signal });
  }

  /** A port for one BridgedLink (`BridgedLink.open({ port })`): transfer it to where that link runs. */
  connect(): MessagePort {
    if (this.#closed) throw new LinkError('UNAVAILABLE', 'the worker bridge is closed');
    const { port1, port2 } = new MessageChannel();
    const bridge = new Bridge(port1, this.#options, () => this.#bridges.delete(bridge));
    this.#bridges.add(bridge);
    return port2;
  }

  /** The WebRtcLinks this page runs for worker nodes now (their `stats()` count what peers sent them). */
  links(): WebRtcLink[] {
    return [...this.#bridges].flatMap((bridge) => (bridge.link ? [bridge.link] : []));
  }

  /**
   * Closes every bridge: the peers hear `bye` from each worker node, and each worker's link
   * reports its peers down and stays cut off. The workers go on running: to stop a worker node,
   * close it in the worker (a planned hand-over) or terminate the worker.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const bridge of [...this.#bridges]) bridge.close(true);
  }
}

/**
 * In the page that starts a dedicated worker which runs `startWorkerNode`: bridges that node (and
 * any other BridgedLink the worker opens) to the cluster over WebRTC. Call it right after `new
 * Worker(...)`; the worker asks until it is answered, so the order does not matter.
 */
export function hostWorkerNode(worker: Worker, options: WorkerHostOptions = {}): WorkerBridge {
  const bridge = new WorkerBridge(options);
  bridge.host(worker);
  return bridge;
}

// ---------------------------------------------------------------------------------------------
// One worker link's bridge

class Bridge {
  readonly #port: MessagePort;
  readonly #options: WorkerHostOptions;
  readonly #ended: () => void;
  readonly #abort = new AbortController();
  /** The generation of each peer's connection now up: sends meant for an older one are dropped. */
  readonly #gens = new Map<NodeId, number>();
  #nextGen = 0;
  #link: WebRtcLink | undefined;
  #opening = false;
  #closed = false;

  constructor(port: MessagePort, options: WorkerHostOptions, ended: () => void) {
    this.#port = port;
    this.#options = options;
    this.#ended = ended;
    port.addEventListener('message', ({ data }: MessageEvent<unknown>) => this.#received(data), { signal: this.#abort.signal });
    port.start();
  }

  get link(): WebRtcLink | undefined {
    return this.#link;
  }

  #received(data: unknown): void {
    if (!isToHost(data)) return;
    switch (data.type) {
      case 'open':
        return void this.#open(data);
      case 'send':
        return this.#send(data);
      case 'close':
        return this.close(false);
    }
  }

  async #open({ cluster, self, key, lock }: ToHost & { type: 'open' }): Promise<void> {
    if (this.#opening) return;
    this.#opening = true;
    const wanted = this.#options.cluster;
    if (wanted !== undefined && cluster !== wanted) return this.#refuse('UNAVAILABLE', `this page hosts nodes of cluster ${JSON.stringify(wanted)} only`);
    let link: WebRtcLink;
    try {
      link = await WebRtcLink.open({ cluster, self, secret: key ?? undefined, flow: this.#options.flow });
    } catch (error) {
      return this.#refuse(error instanceof LinkError ? error.code : 'UNAVAILABLE', String(error));
    }
    if (this.#closed) return link.close();
    this.#link = link;
    // Registered before anything can happen on the link: it reports nothing before our next task.
    link.onPeer((peer, up) => this.#peer(peer, up));
    link.onMessage((from, message) => this.#post({ type: 'message', from, message }, buffersOf(message)));
    this.#post({ type: 'opened' });
    // The worker holds this lock while its link is open: granted to us once it closed or died.
    navigator.locks.request(lock, { signal: this.#abort.signal }, () => this.close(false)).catch(() => {}); // aborted: we closed first
  }

  #refuse(code: string, message: string): void {
    this.#post({ type: 'refused', code, message });
    this.close(false);
  }

  #peer(peer: NodeId, up: boolean): void {
    if (up) {
      const gen = ++this.#nextGen;
      this.#gens.set(peer, gen);
      this.#post({ type: 'up', peer, gen });
    } else if (this.#gens.delete(peer)) {
      this.#post({ type: 'down', peer });
    }
  }

  #send({ to, gen, urgent, frame }: ToHost & { type: 'send' }): void {
    // Meant for a connection that is gone (the worker had not heard yet): lost with it.
    if (!this.#link || this.#gens.get(to) !== gen) return;
    try {
      this.#link.sendEncoded(to, frame as Uint8Array<ArrayBuffer>, urgent);
    } catch {
      // Not a whole message frame: our worker's link never sends one.
    }
  }

  #post(message: FromHost, transfer: Transferable[] = []): void {
    if (this.#closed) return;
    this.#port.postMessage(message, transfer);
  }

  /** Closes the WebRtcLink (its peers hear bye) and the port; `tell` the worker when it was not its wish. */
  close(tell: boolean): void {
    if (this.#closed) return;
    if (tell) this.#post({ type: 'closed' });
    this.#closed = true;
    this.#abort.abort();
    this.#link?.close();
    this.#gens.clear();
    this.#port.close();
    this.#ended();
  }
}

/**
 * The buffers of the byte arrays in a decoded message, to transfer rather than copy: the decoder
 * gives each its own exact buffer (wire.ts), which nothing in this page keeps.
 */
function buffersOf(message: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const visit = (value: unknown): void => {
    if (value instanceof Uint8Array) {
      if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) found.add(value.buffer);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (typeof value === 'object' && value !== null) {
      for (const item of Object.values(value)) visit(item);
    }
  };
  visit(message);
  return [...found];
}
