// Who may talk on a link. Every connection starts with a handshake carried in control frames;
// until the peer has passed it, the link does not report it up and drops its frames.
//
// Without a secret each side sends  hello { cluster, from, to }  and admits a peer whose hello
// names our cluster, the node id the connection was made for, and us.
//
// With a shared secret (one per cluster) the hello also carries a fresh 32-byte random nonce,
// and each side then proves it knows the secret:
//   proof { mac = HMAC-SHA-256(secret, encode([PROTOCOL, cluster, prover, verifier,
//                                              prover's nonce, verifier's nonce])) }
// The verifier's fresh nonce makes a recorded proof useless later; naming prover and verifier
// makes a proof useless in the other direction or towards another node; the cluster keeps
// clusters that share a secret apart. A side admits its peer once the peer's proof verifies,
// and by then its own proof is already on the wire (frames are handled one after the other),
// so both directions are proven before either side sends a message.
//
// A WebRtcLink's urgent channel (receiveUrgent) carries no handshake of its own: its frames are
// judged by this one, and held while it runs, since nothing orders them after it.
import type { NodeId } from '../core/ports.js';
import { decodeWire, encodeWire, frameKind, MAX_MESSAGE_BYTES, Reassembler, type WireFrame } from './wire.js';

/** Why a link dropped a frame. */
export type DropReason = 'unauthenticated' | 'otherCluster' | 'undecodable';

/** What a link has done so far. */
export interface LinkStats {
  /** Messages accepted by `send` (it returned true). */
  sent: number;
  /** Messages handed to the `onMessage` handlers. */
  received: number;
  dropped: Record<DropReason, number>;
}

export function emptyStats(): LinkStats {
  return { sent: 0, received: 0, dropped: { unauthenticated: 0, otherCluster: 0, undecodable: 0 } };
}

/** Names the handshake in every MAC, so no other use of the secret can stand in for a proof. */
const PROTOCOL = 'tandemfs-link-auth-1';
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
/** Control frames are small: a larger one is not a handshake, and we will not decode it. */
const MAX_CONTROL_BYTES = 4096;
/** Urgent frames held for a peer still in its handshake: a few heartbeats' worth, no more. */
const MAX_EARLY_URGENT_BYTES = 64 * 1024;

/** The cluster's secret as an HMAC key, to hand to every gate of the link. */
export async function importSecret(secret: string | Uint8Array): Promise<CryptoKey> {
  const raw = typeof secret === 'string' ? new TextEncoder().encode(secret) : Uint8Array.from(secret);
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export interface GateOptions {
  readonly cluster: string;
  readonly self: NodeId;
  /** The node this connection was made for. */
  readonly peer: NodeId;
  /** The cluster's secret (importSecret); without it the hello alone admits a peer. */
  readonly key?: CryptoKey;
}

/** How a gate talks back to its link. */
export interface GateEvents {
  /** Sends a frame to the peer, in order with the link's other frames to it. */
  send(frame: Uint8Array<ArrayBuffer>): void;
  /** The peer passed the handshake: report it up. */
  admitted(): void;
  /** A message from the admitted peer, decoded. */
  message(value: unknown): void;
  dropped(reason: DropReason): void;
}

type GateState = 'hello' | 'proof' | 'admitted' | 'refused';

interface Hello {
  t: 'hello';
  cluster: string;
  from: NodeId;
  to: NodeId;
  nonce?: Uint8Array;
}

/**
 * One connection's inbound side: the handshake, then the peer's frames joined and decoded.
 * Frames are handled strictly in arrival order; those that arrive while a handshake step awaits
 * WebCrypto wait for it, so a message right behind a proof is judged after the proof.
 */
export class PeerGate {
  readonly #options: GateOptions;
  readonly #events: GateEvents;
  readonly #reassembler: Reassembler;
  /** The urgent lane's own: its fragments interleave with the other lane's. */
  readonly #urgentReassembler: Reassembler;
  #state: GateState = 'hello';
  /** Ours, fresh for this connection; made up front so that a proof can never sign a missing one. */
  readonly #nonce: Uint8Array | undefined;
  #peerNonce: Uint8Array | undefined;
  /** Frames waiting for a handshake step to finish; undefined when none is running. */
  #backlog: Uint8Array[] | undefined;
  #backlogBytes = 0;
  /** Urgent frames that came before the handshake was over (see receiveUrgent). */
  #early: Uint8Array[] | undefined = [];
  #earlyBytes = 0;
  #closed = false;

  constructor(options: GateOptions, events: GateEvents) {
    this.#options = options;
    this.#events = events;
    this.#reassembler = new Reassembler(() => events.dropped('undecodable'));
    this.#urgentReassembler = new Reassembler(() => events.dropped('undecodable'));
    if (options.key) this.#nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  }

  get admitted(): boolean {
    return this.#state === 'admitted';
  }

  /** Sends our hello: call once, when the connection can carry frames. */
  start(): void {
    const { cluster, self, peer } = this.#options;
    const hello: Hello = { t: 'hello', cluster, from: self, to: peer };
    if (this.#nonce) hello.nonce = this.#nonce;
    this.#events.send(encodeWire(hello, 'control'));
  }

  /** A frame from the peer, as it arrived. */
  receive(frame: Uint8Array): void {
    if (this.#closed) return;
    if (this.#backlog) return this.#defer(frame);
    let kind: ReturnType<typeof frameKind>;
    try {
      kind = frameKind(frame);
    } catch {
      return this.#events.dropped('undecodable');
    }
    if (kind === 'control') return this.#control(frame);
    // Checked before joining or decoding: an unproven peer costs us nothing but this test.
    if (this.#state !== 'admitted') return this.#events.dropped('unauthenticated');
    this.#message(frame);
  }

  /**
   * A frame from the peer's urgent lane (a second channel beside the one `receive` hears):
   * messages only, never the handshake, joined apart from the other lane's. Nothing orders the
   * two lanes, so the peer's first urgent message may overtake the hello or proof that admits
   * it: until the handshake is over, urgent frames wait (up to MAX_EARLY_URGENT_BYTES), and are
   * judged the moment it ends, dropped if the peer failed it.
   */
  receiveUrgent(frame: Uint8Array): void {
    if (this.#closed) return;
    if (this.#state === 'admitted') return this.#message(frame, this.#urgentReassembler);
    if (this.#state === 'refused' || this.#early === undefined) return this.#events.dropped('unauthenticated');
    if (this.#earlyBytes + frame.length > MAX_EARLY_URGENT_BYTES) return this.#events.dropped('unauthenticated');
    this.#early.push(frame);
    this.#earlyBytes += frame.length;
  }

  /** The connection ended: handshake steps still running change nothing. */
  close(): void {
    this.#closed = true;
    this.#backlog = undefined;
    this.#early = undefined;
  }

  #defer(frame: Uint8Array): void {
    // Only a peer flooding us during one HMAC computation gets here; it is not a peer we want.
    if (this.#backlogBytes + frame.length > MAX_MESSAGE_BYTES) return this.#refuse('unauthenticated');
    this.#backlog!.push(frame);
    this.#backlogBytes += frame.length;
  }

  #message(frame: Uint8Array, reassembler = this.#reassembler): void {
    let decoded: WireFrame;
    try {
      const whole = reassembler.accept(frame);
      if (whole === undefined) return;
      decoded = decodeWire(whole);
    } catch {
      return this.#events.dropped('undecodable');
    }
    if (decoded.kind !== 'message') return this.#events.dropped('undecodable');
    this.#events.message(decoded.value);
  }

  #control(frame: Uint8Array): void {
    if (frame.length > MAX_CONTROL_BYTES) return this.#events.dropped('undecodable');
    let value: unknown;
    try {
      value = decodeWire(frame).value;
    } catch {
      return this.#events.dropped('undecodable');
    }
    if (this.#state === 'hello') return this.#hello(value);
    if (this.#state === 'proof') return this.#proof(value);
    // A handshake frame once the handshake is over: not something a correct peer sends.
    this.#events.dropped(this.#state === 'admitted' ? 'undecodable' : 'unauthenticated');
  }

  #hello(value: unknown): void {
    const { cluster, self, peer, key } = this.#options;
    if (!isHello(value)) return this.#refuse('undecodable');
    if (value.cluster !== cluster) return this.#refuse('otherCluster');
    if (value.from !== peer || value.to !== self) return this.#refuse('unauthenticated');
    // A peer with a secret when we have none (or the other way round) cannot pass.
    if ((value.nonce !== undefined) !== (key !== undefined)) return this.#refuse('unauthenticated');
    if (!key) return this.#admit();
    this.#peerNonce = value.nonce;
    this.#state = 'proof';
    this.#step(async () => {
      const mac = await crypto.subtle.sign('HMAC', key, this.#proofInput(self, peer));
      if (!this.#closed) this.#events.send(encodeWire({ t: 'proof', mac: new Uint8Array(mac) }, 'control'));
    });
  }

  #proof(value: unknown): void {
    const { self, peer, key } = this.#options;
    const mac = isProof(value) ? value.mac : undefined;
    if (!mac) return this.#refuse('unauthenticated');
    this.#step(async () => {
      const valid = await crypto.subtle.verify('HMAC', key!, mac, this.#proofInput(peer, self));
      if (valid) this.#admit();
      else this.#refuse('unauthenticated');
    });
  }

  /** The bytes a proof by `prover` to `verifier` signs: each field length-prefixed, so unambiguous. */
  #proofInput(prover: NodeId, verifier: NodeId): Uint8Array<ArrayBuffer> {
    const [proverNonce, verifierNonce] = prover === this.#options.self
      ? [this.#nonce, this.#peerNonce]
      : [this.#peerNonce, this.#nonce];
    const input = encodeWire([PROTOCOL, this.#options.cluster, prover, verifier, proverNonce, verifierNonce], 'control');
    return input.slice(); // an exact ArrayBuffer, as WebCrypto wants
  }

  /** Runs an asynchronous handshake step; the frames that arrive meanwhile are handled after it. */
  #step(work: () => Promise<void>): void {
    this.#backlog = [];
    this.#backlogBytes = 0;
    work()
      .catch(() => this.#refuse('unauthenticated'))
      .finally(() => {
        const backlog = this.#backlog ?? [];
        this.#backlog = undefined;
        for (const frame of backlog) this.receive(frame);
      });
  }

  #admit(): void {
    if (this.#closed || this.#state === 'refused') return; // refused while the proof was checked
    this.#state = 'admitted';
    this.#events.admitted();
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const frame of early) this.receiveUrgent(frame);
  }

  /** The peer failed the handshake: from now on everything it sends is dropped. */
  #refuse(reason: DropReason): void {
    this.#state = 'refused';
    this.#events.dropped(reason);
    const held = this.#early?.length ?? 0;
    this.#early = undefined;
    for (let i = 0; i < held; i++) this.#events.dropped('unauthenticated');
  }
}

function isHello(value: unknown): value is Hello {
  if (typeof value !== 'object' || value === null) return false;
  const hello = value as Partial<Hello>;
  return hello.t === 'hello'
    && typeof hello.cluster === 'string'
    && typeof hello.from === 'string'
    && typeof hello.to === 'string'
    && (hello.nonce === undefined || (hello.nonce instanceof Uint8Array && hello.nonce.length === NONCE_BYTES));
}

function isProof(value: unknown): value is { t: 'proof'; mac: Uint8Array<ArrayBuffer> } {
  if (typeof value !== 'object' || value === null) return false;
  const proof = value as { t?: unknown; mac?: unknown };
  return proof.t === 'proof' && proof.mac instanceof Uint8Array && proof.mac.length === MAC_BYTES;
}
