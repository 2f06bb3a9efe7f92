// The link between the tabs of an origin: one RTCPeerConnection per peer with two ordered,
// reliable data channels — one for urgent messages, one for the rest — set up over a
// BroadcastChannel named `tandemfs:<cluster>`.
//
// Signalling. A link announces itself when it opens. Of two nodes, the one with the lower id
// offers (so two offers never cross); the higher one answers an announcement with an
// announcement addressed to the lower, which then offers. Offers, answers and ICE candidates
// are addressed by node id and carry the offer's session id, so late signals of an earlier
// attempt are ignored. `bye` says a link closed. A connection that fails, or does not pass its
// handshake in time, is retried a few times with growing delays.
//
// Flow control. A fresh data channel stalls for seconds when a burst is pushed into it at once
// (ENVIRONMENT.md), so each connection queues its frames and keeps at most a window of bytes
// buffered in the channel (`bufferedAmount`). The window starts small and doubles each time the
// channel drains below half of it (`bufferedamountlow`), up to a maximum that stays small, and
// long messages go in 64 KiB fragments: see DEFAULT_FLOW and FRAME_BYTES for what was measured.
// `send` stays synchronous: it queues and returns false only when the peer is not connected.
//
// Urgent messages (heartbeats). A burst of data queues megabytes per peer, and a heartbeat behind
// it would arrive seconds late: the peer would judge a live node hung. So urgent messages take a
// channel of their own (a second stream of the same SCTP association, which schedules its
// streams side by side), with its own queue and window: they wait only for each other. Measured
// between two tabs, 8 MiB bursts of 64 KiB messages with a ping every 200 ms: behind the burst
// the receiver went 1-5 s without a ping; on the urgent channel 0.4 s at the median and 0.7 s at
// p90 of 78 bursts (1.0 and 1.7 s at worst), following the receiving tab's own main-thread
// delays. A second RTCPeerConnection for the pings did about the same (0.9 s at worst of 44).
// The urgent channel carries messages only: the handshake runs on the other one, and PeerGate
// judges urgent frames by it (receiveUrgent).

// webrtc-adapter's shims, from its self-contained build: its ESM entry imports the CommonJS `sdp`
// package, which a plain ES module server (the test runner's) cannot hand a browser.
import 'webrtc-adapter/out/adapter_no_global.js';
import type { Link, NodeId } from '../core/ports.js';
import { LinkError } from '../errors.js';
import { importSecret, PeerGate, type DropReason, type LinkStats } from './auth.js';
import { LinkListeners } from './link-listeners.js';
import { encodeWire, fragment, frameKind } from './wire.js';

/** Where signals travel: a BroadcastChannel, or anything that behaves like one. */
export type SignalChannel = Pick<BroadcastChannel, 'postMessage' | 'addEventListener' | 'removeEventListener'>;

/** A signal on the channel; `to` addresses one node, its absence every node. */
export type Signal = { cluster: string; from: NodeId } & (
  | { kind: 'announce' | 'bye'; to?: NodeId }
  | { kind: 'offer' | 'answer'; to: NodeId; session: string; sdp: string }
  | { kind: 'candidate'; to: NodeId; session: string; candidate: RTCIceCandidateInit }
);

/** A signal as a link posts it: the link adds its cluster and id. */
type OutgoingSignal = Signal extends infer S ? (S extends Signal ? Omit<S, 'cluster' | 'from'> : never) : never;

export interface FlowOptions {
  /** Bytes a fresh channel may hold buffered before the sender waits. */
  readonly initialWindow: number;
  /** The most the window grows to. */
  readonly maxWindow: number;
}

/**
 * Measured in Chromium 156 (test/browser/links.test.ts and two tabs): with windows up to 32 KiB a
 * fresh channel took bursts of 2,000 x 4 KiB and 200 x 200 KiB without a stall; windows of
 * 64 KiB and more brought stalls back, and windows that grew to MiBs stalled most runs for
 * 0.4-15 s (chains of 400 ms retransmission waits). They were no faster: between the tabs of
 * one machine the path holds only a few KiB in flight.
 */
export const DEFAULT_FLOW: FlowOptions = { initialWindow: 16 * 1024, maxWindow: 32 * 1024 };

export interface WebRtcLinkOptions {
  readonly cluster: string;
  readonly self: NodeId;
  /**
   * The cluster's shared secret: peers must prove they know it (auth.ts). Also as the HMAC key
   * `importSecret` makes of it (non-extractable), so that a host can run a link for a worker's
   * node without ever holding the secret's bytes (worker-bridge.ts).
   */
  readonly secret?: string | Uint8Array | CryptoKey;
  /**
   * Signalling; by default a BroadcastChannel named `tandemfs:<cluster>`, closed with the link.
   * A channel given here stays open. Each link needs its own: a BroadcastChannel does not hear
   * its own posts.
   */
  readonly signal?: SignalChannel;
  /** Flow-control tuning; DEFAULT_FLOW otherwise. */
  readonly flow?: Partial<FlowOptions>;
}

/**
 * Frames are cut at 64 KiB, not at the channel's 256 KiB limit: a frame always goes whole into
 * an empty channel, so this keeps what is buffered near the window. Measured between two tabs
 * (200 x 200 KiB, 12 fresh channels each): 256 KiB frames had a 0.4 s hiccup in 4 runs, 64 KiB
 * frames in 1 (0.15 s); the medians were the same.
 */
const FRAME_BYTES = 64 * 1024;
/** How long a connection may take to open and pass its handshake before it counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Delays before each new attempt to reach a peer whose connection failed; then we give up. */
const RETRY_DELAYS_MS = [250, 1_000, 4_000];

export class WebRtcLink implements Link {
  readonly self: NodeId;
  readonly #cluster: string;
  readonly #key: CryptoKey | undefined;
  readonly #flow: FlowOptions;
  readonly #signal: SignalChannel;
  readonly #ownSignal: BroadcastChannel | undefined;
  readonly #abort = new AbortController();
  readonly #connections = new Map<NodeId, Connection>();
  readonly #retries = new Map<NodeId, { attempts: number; timer: ReturnType<typeof setTimeout> }>();
  readonly #listeners = new LinkListeners();
  #closed = false;

  /** Opens the link and announces it; peers come up (onPeer) as their connections pass the handshake. */
  static async open(options: WebRtcLinkOptions): Promise<WebRtcLink> {
    if (typeof RTCPeerConnection !== 'function') {
      throw new LinkError('UNAVAILABLE', 'WebRTC is not available in this context (a worker?): start a worker\'s node with startWorkerNode, hosted by its page (hostWorkerNode)');
    }
    const { secret } = options;
    const key = secret === undefined ? undefined : secret instanceof CryptoKey ? checkedKey(secret) : await importSecret(secret);
    return new WebRtcLink(options, key);
  }

  private constructor(options: WebRtcLinkOptions, key: CryptoKey | undefined) {
    this.self = options.self;
    this.#cluster = options.cluster;
    this.#key = key;
    this.#flow = { ...DEFAULT_FLOW, ...options.flow };
    this.#ownSignal = options.signal ? undefined : new BroadcastChannel(`tandemfs:${options.cluster}`);
    this.#signal = options.signal ?? this.#ownSignal!;
    this.#signal.addEventListener('message', (event) => this.#signalled(event.data), { signal: this.#abort.signal });
    this.#post({ kind: 'announce' });
  }

  send(to: NodeId, message: unknown, urgent = false): boolean {
    const connection = this.#connections.get(to);
    if (this.#closed || !connection?.up) return false;
    connection.send(fragment(encodeWire(message), FRAME_BYTES), urgent);
    this.#listeners.sent();
    return true;
  }

  /**
   * `send` for a message someone else encoded already (`encodeWire(message)`, a whole message
   * frame): a worker's node whose link this page runs (worker-bridge.ts) encodes in the worker,
   * so that what the wire cannot carry fails at its own `send`, and the page only moves bytes.
   * Throws a LinkError for a frame that is no whole message frame.
   */
  sendEncoded(to: NodeId, frame: Uint8Array<ArrayBuffer>, urgent = false): boolean {
    if (frameKind(frame) !== 'message') throw new LinkError('BAD_FRAGMENT', 'sendEncoded takes a whole message frame');
    const connection = this.#connections.get(to);
    if (this.#closed || !connection?.up) return false;
    connection.send(fragment(frame, FRAME_BYTES), urgent);
    this.#listeners.sent();
    return true;
  }

  peers(): NodeId[] {
    return [...this.#connections.values()].filter((c) => c.up).map((c) => c.peer).sort();
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

  /** Says bye, closes every connection (reporting its peer down here too) and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#post({ kind: 'bye' });
    this.#closed = true;
    this.#abort.abort();
    for (const { timer } of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    for (const connection of [...this.#connections.values()]) connection.end(false);
    this.#ownSignal?.close();
    this.#listeners.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Signalling

  #post(signal: OutgoingSignal): void {
    if (this.#closed) return;
    try {
      this.#signal.postMessage({ cluster: this.#cluster, from: this.self, ...signal });
    } catch {
      // A signal channel given to us and already closed by its owner: there is no one to tell.
    }
  }

  #signalled(data: unknown): void {
    if (!isSignal(data)) return this.#listeners.dropped('undecodable');
    if (data.cluster !== this.#cluster) return this.#listeners.dropped('otherCluster');
    if (data.from === this.self || (data.to !== undefined && data.to !== this.self)) return;
    const connection = this.#connections.get(data.from);
    const current = connection !== undefined && 'session' in data && data.session === connection.session;
    switch (data.kind) {
      case 'announce':
        return this.#reach(data.from);
      case 'offer':
        return this.#offered(data.from, data.session, data.sdp);
      case 'answer':
        if (current) connection.answered(data.sdp);
        return;
      case 'candidate':
        if (current) connection.candidate(data.candidate);
        return;
      case 'bye':
        this.#stopRetrying(data.from);
        connection?.end(false);
    }
  }

  /** Sets up a connection to `peer` unless one exists: the lower id offers, the higher asks it to. */
  #reach(peer: NodeId): void {
    if (this.#closed || this.#connections.has(peer)) return;
    if (this.self > peer) return this.#post({ kind: 'announce', to: peer });
    const connection = this.#connect(peer, crypto.randomUUID());
    connection.offer();
  }

  #offered(peer: NodeId, session: string, sdp: string): void {
    // Only the lower id offers; an offer from a higher one breaks the protocol.
    if (peer > this.self) return this.#listeners.dropped('undecodable');
    // A new offer from a peer we think we are connected to: it saw our connection fail first.
    this.#connections.get(peer)?.end(false);
    this.#connect(peer, session).answer(sdp);
  }

  #connect(peer: NodeId, session: string): Connection {
    const connection = new Connection(peer, session, {
      cluster: this.#cluster,
      self: this.self,
      key: this.#key,
      flow: this.#flow,
      signal: (signal) => this.#post(signal),
      admitted: () => this.#admitted(connection),
      message: (value) => this.#listeners.message(peer, value),
      dropped: (reason) => this.#listeners.dropped(reason),
      ended: (failed) => this.#ended(connection, failed),
    });
    this.#connections.set(peer, connection);
    return connection;
  }

  // ------------------------------------------------------------------------------------------
  // Connections coming and going

  #admitted(connection: Connection): void {
    if (this.#connections.get(connection.peer) !== connection) return;
    this.#stopRetrying(connection.peer);
    this.#listeners.peer(connection.peer, true);
  }

  #ended(connection: Connection, failed: boolean): void {
    if (this.#connections.get(connection.peer) !== connection) return;
    this.#connections.delete(connection.peer);
    if (connection.admitted) this.#listeners.peer(connection.peer, false);
    if (failed) this.#retry(connection.peer);
  }

  #retry(peer: NodeId): void {
    if (this.#closed) return;
    const attempts = this.#retries.get(peer)?.attempts ?? 0;
    const delay = RETRY_DELAYS_MS[attempts];
    if (delay === undefined) return void this.#retries.delete(peer);
    const timer = setTimeout(() => this.#reach(peer), delay);
    this.#retries.set(peer, { attempts: attempts + 1, timer });
  }

  #stopRetrying(peer: NodeId): void {
    clearTimeout(this.#retries.get(peer)?.timer);
    this.#retries.delete(peer);
  }

}


// ---------------------------------------------------------------------------------------------
// One peer's connection

interface ConnectionHost {
  readonly cluster: string;
  readonly self: NodeId;
  readonly key: CryptoKey | undefined;
  readonly flow: FlowOptions;
  signal(signal: OutgoingSignal): void;
  admitted(): void;
  message(value: unknown): void;
  dropped(reason: DropReason): void;
  /** The connection is over; `failed` unless it was closed on purpose (ours or the peer's bye). */
  ended(failed: boolean): void;
}

class Connection {
  readonly peer: NodeId;
  readonly session: string;
  readonly #host: ConnectionHost;
  readonly #pc: RTCPeerConnection;
  /** The handshake and every message but the urgent ones. */
  readonly #data: Lane;
  /** Urgent messages (liveness): they never wait behind the data lane's queue or buffer. */
  readonly #urgent: Lane;
  readonly #gate: PeerGate;
  readonly #abort = new AbortController();
  readonly #timeout: ReturnType<typeof setTimeout>;
  /** Signalling steps (descriptions, candidates) run one after the other, in signal order. */
  #steps: Promise<void> = Promise.resolve();
  /** Candidates found before our offer or answer went out: a peer cannot use them before it. */
  #early: RTCIceCandidateInit[] | undefined = [];
  #ended = false;

  constructor(peer: NodeId, session: string, host: ConnectionHost) {
    this.peer = peer;
    this.session = session;
    this.#host = host;
    this.#pc = new RTCPeerConnection({ iceServers: [] });
    // Negotiated: both sides make the same channels at once, no `datachannel` event to wait for.
    // Two streams of one SCTP association, which sends them side by side.
    const failed = () => this.end(true);
    this.#data = new Lane(this.#pc.createDataChannel('tandemfs', { negotiated: true, id: 0, ordered: true }), host.flow, failed);
    this.#urgent = new Lane(this.#pc.createDataChannel('tandemfs-urgent', { negotiated: true, id: 1, ordered: true }), host.flow, failed);
    this.#gate = new PeerGate({ cluster: host.cluster, self: host.self, peer, key: host.key }, {
      send: (frame) => this.send([frame], false),
      admitted: () => this.#admitted(),
      message: (value) => host.message(value),
      dropped: (reason) => host.dropped(reason),
    });
    this.#listen();
    this.#timeout = setTimeout(() => this.end(true), CONNECT_TIMEOUT_MS);
  }

  get admitted(): boolean {
    return this.#gate.admitted;
  }

  get up(): boolean {
    return this.#gate.admitted && !this.#ended;
  }

  #listen(): void {
    const options = { signal: this.#abort.signal };
    this.#pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!candidate) return;
      if (this.#early) this.#early.push(candidate.toJSON());
      else this.#signalCandidate(candidate.toJSON());
    }, options);
    this.#pc.addEventListener('connectionstatechange', () => {
      if (this.#pc.connectionState === 'failed') this.end(true);
    }, options);
    for (const lane of [this.#data, this.#urgent]) {
      const channel = lane.channel;
      const urgent = lane === this.#urgent;
      channel.addEventListener('open', () => {
        if (!urgent) this.#gate.start();
        lane.pump();
      }, options);
      channel.addEventListener('message', ({ data }) => {
        if (!(data instanceof ArrayBuffer)) return this.#host.dropped('undecodable'); // text: nothing we send
        if (urgent) this.#gate.receiveUrgent(new Uint8Array(data));
        else this.#gate.receive(new Uint8Array(data));
      }, options);
      channel.addEventListener('close', () => this.end(true), options);
      channel.addEventListener('bufferedamountlow', () => lane.drained(), options);
    }
  }

  offer(): void {
    this.#step(() => this.#describe('offer'));
  }

  answer(sdp: string): void {
    this.#step(async () => {
      await this.#pc.setRemoteDescription({ type: 'offer', sdp });
      await this.#describe('answer');
    });
  }

  /** Makes our offer or answer, signals it, then the candidates found meanwhile. */
  async #describe(kind: 'offer' | 'answer'): Promise<void> {
    await this.#pc.setLocalDescription();
    this.#host.signal({ kind, to: this.peer, session: this.session, sdp: this.#pc.localDescription!.sdp });
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const candidate of early) this.#signalCandidate(candidate);
  }

  #signalCandidate(candidate: RTCIceCandidateInit): void {
    this.#host.signal({ kind: 'candidate', to: this.peer, session: this.session, candidate });
  }

  answered(sdp: string): void {
    this.#step(() => this.#pc.setRemoteDescription({ type: 'answer', sdp }));
  }

  candidate(candidate: RTCIceCandidateInit): void {
    // A candidate we cannot use is not a failed connection: ICE goes on with the others.
    this.#step(() => this.#pc.addIceCandidate(candidate).catch(() => {}));
  }

  #step(work: () => Promise<void>): void {
    this.#steps = this.#steps.then(() => (this.#ended ? undefined : work())).catch(() => this.end(true));
  }

  /**
   * Queues frames for the peer, in order with the others of their lane, and sends what the
   * lane's window allows now. Urgent frames take their own lane.
   */
  send(frames: Array<Uint8Array<ArrayBuffer>>, urgent: boolean): void {
    if (this.#ended) return;
    (urgent ? this.#urgent : this.#data).push(frames);
  }

  #admitted(): void {
    clearTimeout(this.#timeout);
    this.#host.admitted();
  }

  /** Ends the connection: listeners off, channels and peer connection closed, queues dropped. */
  end(failed: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timeout);
    this.#abort.abort();
    this.#gate.close();
    this.#data.close();
    this.#urgent.close();
    this.#pc.close();
    this.#host.ended(failed);
  }
}

// ---------------------------------------------------------------------------------------------
// One data channel of a connection, with its send queue

/**
 * A data channel and the frames waiting for it: at most a window of bytes sits in the channel
 * (`bufferedAmount`); the window starts at `flow.initialWindow` and doubles, up to
 * `flow.maxWindow`, each time the channel drains below half of it.
 */
class Lane {
  readonly channel: RTCDataChannel;
  readonly #flow: FlowOptions;
  readonly #failed: () => void;
  /** Frames waiting for room in the window; #head is the next to send. */
  #queue: Array<Uint8Array<ArrayBuffer>> = [];
  #head = 0;
  #window: number;
  #closed = false;

  constructor(channel: RTCDataChannel, flow: FlowOptions, failed: () => void) {
    this.channel = channel;
    this.channel.binaryType = 'arraybuffer';
    this.#flow = flow;
    this.#failed = failed;
    this.#window = flow.initialWindow;
  }

  /** Queues frames, in order, and sends what the window allows now. */
  push(frames: Array<Uint8Array<ArrayBuffer>>): void {
    if (this.#closed) return;
    this.#queue.push(...frames);
    this.pump();
  }

  pump(): void {
    const channel = this.channel;
    if (this.#closed || channel.readyState !== 'open') return; // the open event pumps
    while (this.#head < this.#queue.length) {
      const frame = this.#queue[this.#head]!;
      const buffered = channel.bufferedAmount;
      // An empty channel always takes the next frame, so a frame larger than the window moves.
      if (buffered > 0 && buffered + frame.length > this.#window) {
        // `bufferedamountlow` fires only when the amount falls to the threshold from above it.
        channel.bufferedAmountLowThreshold = Math.min(this.#window / 2, buffered - 1);
        return;
      }
      this.#queue[this.#head++] = EMPTY; // let the frame go once sent
      try {
        channel.send(frame);
      } catch {
        return this.#failed(); // the channel closed under us, or its own buffer overflowed
      }
    }
    this.#queue = [];
    this.#head = 0;
  }

  /** The channel drained to the threshold: the path took what we gave it, so offer it more. */
  drained(): void {
    this.#window = Math.min(this.#flow.maxWindow, this.#window * 2);
    this.pump();
  }

  /** Closes the channel and drops the queue. */
  close(): void {
    this.#closed = true;
    this.channel.close();
    this.#queue = [];
    this.#head = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** A key handed to `open` must be one `importSecret` could have made: HMAC-SHA-256, to sign and verify. */
function checkedKey(key: CryptoKey): CryptoKey {
  const algorithm = key.algorithm as HmacKeyAlgorithm;
  if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== 'SHA-256' || !key.usages.includes('sign') || !key.usages.includes('verify')) {
    throw new TypeError('a link secret given as a CryptoKey must be an HMAC SHA-256 key for sign and verify (importSecret)');
  }
  return key;
}

function isSignal(value: unknown): value is Signal {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  if (typeof s.cluster !== 'string' || typeof s.from !== 'string' || (s.to !== undefined && typeof s.to !== 'string')) return false;
  switch (s.kind) {
    case 'announce':
    case 'bye':
      return true;
    case 'offer':
    case 'answer':
      return typeof s.to === 'string' && typeof s.session === 'string' && typeof s.sdp === 'string';
    case 'candidate':
      return typeof s.to === 'string' && typeof s.session === 'string' && typeof s.candidate === 'object' && s.candidate !== null;
    default:
      return false;
  }
}
