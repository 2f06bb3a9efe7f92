// The link over MessagePorts: between the tabs and workers of an origin, through the cluster's
// hub (a SharedWorker running a PortRelay: hub-worker.ts), and in tests. Each node holds one port
// to the relay, which tells it who joins and leaves. For each pair of nodes the relay makes a
// MessageChannel and gives one end to each, so their frames go straight from one to the other:
// through the relay, every message took two port hops instead of one, a round trip four, and the
// relay's thread sat on the write path. The relay never sees a frame and knows no cluster, so
// every pair of nodes still runs the handshake end to end (auth.ts).
//
// A port says nothing when the context at its other end dies (this Chromium has no `close`
// event on MessagePort), so each link holds a Web Lock of its own while it is open and names it
// when it joins; the relay waits for that lock, and once it is granted (the link closed, or its
// worker was terminated or crashed) tells the other nodes the node left.
//
// Frames are the wire format (wire.ts), although a port could carry structured clones of the
// messages themselves. That costs about what structured cloning costs (one copy in, one out; the
// encoded buffer is transferred, not copied), and buys what the WebRTC link has: a message that
// works in tests over ports works between tabs (a Map, a class instance or a cycle fails here
// too, at `send`); the handshake and the checks on hostile input are the same code; and the
// relay moves opaque buffers. Ports have no message size limit, so frames are never cut up.
//
//   node -> relay:  join { node, lock } · leave
//   relay -> node:  joined { node, port } · left { node }
//   node -> node:   a frame, on the pair's port
import type { Link, NodeId } from '../core/ports.js';
import { importSecret, PeerGate, type LinkStats } from './auth.js';
import { LinkListeners } from './link-listeners.js';
import { encodeWire } from './wire.js';

type ToRelay = { type: 'join'; node: NodeId; lock: string } | { type: 'leave' };
type FromRelay = { type: 'joined'; node: NodeId; port: MessagePort } | { type: 'left'; node: NodeId };

/** The hub in the page: hand each node a port from `connect()`. */
export class PortRelay {
  readonly #nodes = new Map<NodeId, MessagePort>();
  readonly #ports = new Set<MessagePort>();
  readonly #abort = new AbortController();

  /** A port for one more node: give it to PortLink.open here, or transfer it to a worker. */
  connect(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.adopt(port1);
    return port2;
  }

  /** Serves one more node on `port`, whose other end runs a PortLink (the hub's connections). */
  adopt(port: MessagePort): void {
    let node: NodeId | undefined;
    const leave = () => {
      if (node !== undefined) this.#left(node, port);
      node = undefined;
    };
    port.addEventListener('message', ({ data }: MessageEvent<unknown>) => {
      if (!isToRelay(data)) return;
      if (data.type === 'join' && node === undefined && !this.#nodes.has(data.node)) {
        this.#joined((node = data.node), port);
        this.#watch(data.lock, leave);
      } else if (data.type === 'leave') {
        leave();
      }
    }, { signal: this.#abort.signal });
    port.start();
    this.#ports.add(port);
  }

  /** Tells every node that the others left, and closes every port. */
  close(): void {
    this.#abort.abort();
    for (const [node, port] of this.#nodes) {
      for (const other of this.#nodes.keys()) if (other !== node) post(port, { type: 'left', node: other });
    }
    for (const port of this.#ports) port.close();
    this.#ports.clear();
    this.#nodes.clear();
  }

  /** Calls `gone` once the node's lock is free: its link closed, or its context died. */
  #watch(lock: string, gone: () => void): void {
    navigator.locks.request(lock, { signal: this.#abort.signal }, gone).catch(() => {}); // aborted: the relay closed
  }

  /** Tells the node and each other node of the other, each with its end of a port of their own. */
  #joined(node: NodeId, port: MessagePort): void {
    for (const [other, otherPort] of this.#nodes) {
      const pair = new MessageChannel();
      post(otherPort, { type: 'joined', node, port: pair.port1 });
      post(port, { type: 'joined', node: other, port: pair.port2 });
    }
    this.#nodes.set(node, port);
  }

  #left(node: NodeId, port: MessagePort): void {
    if (this.#nodes.get(node) !== port) return;
    this.#nodes.delete(node);
    this.#ports.delete(port);
    port.close();
    for (const other of this.#nodes.values()) post(other, { type: 'left', node });
  }
}

export interface PortLinkOptions {
  readonly cluster: string;
  readonly self: NodeId;
  /** The cluster's shared secret: peers must prove they know it (auth.ts). */
  readonly secret?: string | Uint8Array;
  /** This node's port to the relay (PortRelay.connect). The link closes it when it closes. */
  readonly port: MessagePort;
}

export class PortLink implements Link {
  readonly self: NodeId;
  readonly #cluster: string;
  readonly #key: CryptoKey | undefined;
  readonly #port: MessagePort;
  readonly #abort = new AbortController();
  readonly #peers = new Map<NodeId, Peer>();
  readonly #listeners = new LinkListeners();
  /** Lets go of the lock the relay watches to learn that this link is gone. */
  readonly #releaseLock: () => void;
  #closed = false;

  /** Opens the link and joins the relay; peers come up (onPeer) as they pass the handshake. */
  static async open(options: PortLinkOptions): Promise<PortLink> {
    const key = options.secret === undefined ? undefined : await importSecret(options.secret);
    const lock = `tandemfs:port-link:${crypto.randomUUID()}`;
    const release = await holdLock(lock);
    return new PortLink(options, key, lock, release);
  }

  private constructor(options: PortLinkOptions, key: CryptoKey | undefined, lock: string, release: () => void) {
    this.self = options.self;
    this.#cluster = options.cluster;
    this.#key = key;
    this.#port = options.port;
    this.#releaseLock = release;
    this.#port.addEventListener('message', ({ data }: MessageEvent<unknown>) => this.#relayed(data), { signal: this.#abort.signal });
    this.#port.start();
    this.#post({ type: 'join', node: this.self, lock });
  }

  /**
   * `urgent` changes nothing here: the link queues nothing, every frame goes to the port at once
   * (there is nothing for an urgent message to go ahead of), so urgent messages keep their order.
   */
  send(to: NodeId, message: unknown, _urgent = false): boolean {
    const peer = this.#peers.get(to);
    if (this.#closed || !peer?.gate.admitted) return false;
    peer.send(encodeWire(message));
    this.#listeners.sent();
    return true;
  }

  peers(): NodeId[] {
    return [...this.#peers].filter(([, peer]) => peer.gate.admitted).map(([id]) => id).sort();
  }

  onMessage(handler: (from: NodeId, message: unknown) => void): void {
    this.#listeners.onMessage(handler);
  }

  onPeer(handler: (peer: NodeId, up: boolean) => void): void {
    this.#listeners.onPeer(handler);
  }

  stats(): LinkStats {
    return this.#listeners.stats();
  }

  /** Leaves the relay and closes the port; every peer is reported down here too. */
  close(): void {
    if (this.#closed) return;
    this.#post({ type: 'leave' });
    this.#closed = true;
    this.#abort.abort();
    this.#port.close();
    this.#releaseLock();
    for (const peer of [...this.#peers.keys()]) this.#left(peer);
    this.#listeners.clear();
  }

  #post(message: ToRelay): void {
    if (this.#closed) return;
    this.#port.postMessage(message);
  }

  #relayed(data: unknown): void {
    if (!isFromRelay(data)) return this.#listeners.dropped('undecodable');
    if (data.type === 'joined') this.#joined(data.node, data.port);
    else this.#left(data.node);
  }

  #joined(id: NodeId, port: MessagePort): void {
    if (id === this.self || this.#peers.has(id)) return port.close();
    const gate = new PeerGate({ cluster: this.#cluster, self: this.self, peer: id, key: this.#key }, {
      send: (frame) => peer.send(frame),
      admitted: () => this.#listeners.peer(id, true),
      message: (value) => this.#listeners.message(id, value),
      dropped: (reason) => this.#listeners.dropped(reason),
    });
    const peer = new Peer(gate, port, () => this.#listeners.dropped('undecodable'));
    this.#peers.set(id, peer);
    gate.start();
  }

  #left(id: NodeId): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    this.#peers.delete(id);
    peer.close();
    if (peer.gate.admitted) this.#listeners.peer(id, false);
  }

}


/** A peer: its handshake (and then its messages) through the gate, over the pair's own port. */
class Peer {
  readonly gate: PeerGate;
  readonly #port: MessagePort;

  constructor(gate: PeerGate, port: MessagePort, undecodable: () => void) {
    this.gate = gate;
    this.#port = port;
    port.onmessage = ({ data }: MessageEvent<unknown>) => (data instanceof Uint8Array ? gate.receive(data) : undecodable());
  }

  /** The encoded frame's buffer is ours alone: transfer it rather than copy it. */
  send(frame: Uint8Array): void {
    this.#port.postMessage(frame, [frame.buffer]);
  }

  close(): void {
    this.gate.close();
    this.#port.close();
  }
}

/** Takes a Web Lock and holds it until the returned function is called (or the context dies). */
function holdLock(name: string): Promise<() => void> {
  return new Promise((granted) => {
    void navigator.locks.request(name, () => new Promise<void>((release) => granted(release)));
  });
}

function post(port: MessagePort, message: FromRelay): void {
  port.postMessage(message, message.type === 'joined' ? [message.port] : []);
}

function isToRelay(data: unknown): data is ToRelay {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  return (m.type === 'join' && typeof m.node === 'string' && typeof m.lock === 'string') || m.type === 'leave';
}

function isFromRelay(data: unknown): data is FromRelay {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  return (m.type === 'joined' && typeof m.node === 'string' && m.port instanceof MessagePort)
    || (m.type === 'left' && typeof m.node === 'string');
}
