// The browser links in real Chromium: the wire codec; the Link contract against WebRtcLink
// (several links in this one page, talking through a real BroadcastChannel and real
// RTCPeerConnections) and against PortLink (in the page and in a dedicated worker); the
// handshake; and hostile bytes on a real data channel.
import { expect } from 'chai';
import fc from 'fast-check';
import { importSecret, PeerGate, type LinkStats } from '../../src/browser/auth.js';
import { hubPort } from '../../src/browser/hub.js';
import { PortLink, PortRelay } from '../../src/browser/port-link.js';
import { WebRtcLink, type Signal } from '../../src/browser/webrtc-link.js';
import {
  decodeWire, encodeWire, fragment, MAX_DEPTH, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, Reassembler, WIRE_VERSION,
} from '../../src/browser/wire.js';
import { linkContract, type LinksUnderTest, type MakeLinks } from '../../src/core/link-contract.js';
import type { Link } from '../../src/core/ports.js';
import { LinkError, type LinkErrorCode } from '../../src/errors.js';
import { sleep, uniqueCluster, until } from './wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Links to close after each test, whatever happened in it. */
const opened: Array<{ close(): void }> = [];
afterEach(() => {
  for (const thing of opened.splice(0)) thing.close();
});

function keep<T extends { close(): void }>(thing: T): T {
  opened.push(thing);
  return thing;
}

async function openWebRtc(cluster: string, self: string, options: { secret?: string; signal?: BroadcastChannel } = {}): Promise<WebRtcLink> {
  return keep(await WebRtcLink.open({ cluster, self, ...options }));
}

function codeOf(run: () => unknown): LinkErrorCode | 'NO ERROR' {
  try {
    run();
    return 'NO ERROR';
  } catch (error) {
    if (error instanceof LinkError) return error.code;
    throw error; // anything else (a RangeError, a TypeError) fails the test
  }
}

function totalDropped(stats: LinkStats): number {
  return stats.dropped.unauthenticated + stats.dropped.otherCluster + stats.dropped.undecodable;
}

// ---------------------------------------------------------------------------------------------
// Wire format

/** Values the wire carries: JSON's, plus undefined, -0, NaN, the infinities and Uint8Arrays. */
const wireValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(undefined, null, true, false, -0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 - 1, -(2 ** 53 - 1)),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('wire', () => {
  it('decode(encode(v)) equals v for every value the wire carries', () => {
    fc.assert(fc.property(wireValue, (value) => {
      const { kind, value: back } = decodeWire(encodeWire(value));
      expect(kind).to.equal('message');
      expect(back).to.deep.equal(value);
    }), { numRuns: 3000 });
  });

  it('carries core messages, keys named __proto__, and control frames', () => {
    const mirror = { t: 'mirror', volume: 1, epoch: 2, session: 3, lsns: [4, 5], frames: [new Uint8Array([1, 2]), new Uint8Array(0)] };
    expect(decodeWire(encodeWire(mirror)).value).to.deep.equal(mirror);
    const tricky = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object;
    const back = decodeWire(encodeWire(tricky)).value as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).to.equal(Object.prototype);
    expect(Object.keys(back)).to.deep.equal(['__proto__', 'a']);
    expect(decodeWire(encodeWire({ t: 'hello' }, 'control'))).to.deep.equal({ kind: 'control', value: { t: 'hello' } });
  });

  it('is compact: bytes travel raw, behind a few bytes of framing', () => {
    const record = new Uint8Array(262_144);
    const frame = encodeWire({ t: 'mirror', volume: 1, epoch: 1, session: 1, lsns: [1], frames: [record] });
    expect(frame.length - record.length).to.be.below(64);
    expect(frame[0]).to.equal(WIRE_VERSION);
  });

  it('returns bytes as fresh arrays, not views of the frame', () => {
    const frame = encodeWire({ data: new Uint8Array([1, 2, 3]) });
    const { data } = decodeWire(frame).value as { data: Uint8Array };
    expect(data.buffer).to.not.equal(frame.buffer);
    expect(data.buffer.byteLength).to.equal(3);
  });

  it('refuses to encode what would not come back the same', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [new Map(), new Date(), () => 1, Symbol('s'), 1n, new Uint16Array(2), new ArrayBuffer(2), cycle, '\ud800', { ['\udc00']: 1 }]) {
      expect(codeOf(() => encodeWire(value)), String(typeof value)).to.equal('UNENCODABLE');
    }
    expect(codeOf(() => encodeWire(new Uint8Array(MAX_MESSAGE_BYTES)))).to.equal('TOO_LARGE');
  });

  it('throws a LinkError naming what is wrong with a malformed frame', () => {
    const deep = [WIRE_VERSION, 1, ...new Array<number>(MAX_DEPTH + 1).fill(9).flatMap((tag) => [tag, 1]), 1];
    const cases: Array<[number[], LinkErrorCode]> = [
      [[], 'TRUNCATED'],
      [[WIRE_VERSION], 'TRUNCATED'],
      [[WIRE_VERSION + 1, 1, 1], 'UNSUPPORTED_VERSION'],
      [[1, 1, 1], 'UNSUPPORTED_VERSION'], // version 1 had no urgent channel
      [[WIRE_VERSION, 9, 1], 'UNKNOWN_KIND'],
      [[WIRE_VERSION, 3, 0, 0, 0, 0], 'BAD_FRAGMENT'],
      [[WIRE_VERSION, 1], 'TRUNCATED'],
      [[WIRE_VERSION, 1, 99], 'UNKNOWN_TAG'],
      [[WIRE_VERSION, 1, 1, 0], 'TRAILING_BYTES'],
      [[WIRE_VERSION, 1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 'BAD_NUMBER'],
      [[WIRE_VERSION, 1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 'BAD_NUMBER'], // 2^56 - 1
      [[WIRE_VERSION, 1, 5, 0], 'BAD_NUMBER'],
      [[WIRE_VERSION, 1, 6, 0, 0, 0], 'TRUNCATED'],
      [[WIRE_VERSION, 1, 7, 10, 0x61], 'TRUNCATED'],
      [[WIRE_VERSION, 1, 7, 2, 0xc3, 0x28], 'BAD_UTF8'],
      [[WIRE_VERSION, 1, 8, 0xff, 0xff, 0xff, 0xff, 0x0f], 'TRUNCATED'],
      [[WIRE_VERSION, 1, 9, 0xff, 0xff, 0xff, 0xff, 0x0f, 1], 'TRUNCATED'], // 2^32 - 1 items in 1 byte
      [[WIRE_VERSION, 1, 10, 3, 1, 0x61, 1], 'TRUNCATED'],
      [deep, 'TOO_LARGE'],
    ];
    for (const [bytes, code] of cases) expect(codeOf(() => decodeWire(new Uint8Array(bytes))), JSON.stringify(bytes)).to.equal(code);
  });

  it('throws nothing but LinkErrors on random bytes or damaged frames', () => {
    const valid = encodeWire({ t: 'mirror', volume: 1, lsns: [1, 2], frames: [new Uint8Array(40)], s: 'ä€', n: -1.5, o: { a: [null] } });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void codeOf(() => decodeWire(bytes))), { numRuns: 5000 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(valid.length), (edits, length) => {
      const damaged = valid.slice(0, Math.max(length, 2));
      for (const [at, byte] of edits) if (at < damaged.length) damaged[at] = byte;
      void codeOf(() => decodeWire(damaged));
    }), { numRuns: 5000 });
  });

  it('cuts a long frame into fragments a data channel takes, and joins them back', () => {
    const abandoned: number[] = [];
    const reassembler = new Reassembler(() => abandoned.push(1));
    for (const size of [MAX_FRAME_BYTES - 2, MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES * 3 + 17, 5 * 1024 * 1024]) {
      const frame = encodeWire({ data: new Uint8Array(size).map((_, i) => i) });
      const fragments = fragment(frame);
      expect(fragments.every((piece) => piece.length <= MAX_FRAME_BYTES)).to.equal(true);
      expect(fragments.length).to.equal(frame.length <= MAX_FRAME_BYTES ? 1 : Math.ceil((frame.length + 4) / (MAX_FRAME_BYTES - 2)));
      const joined = fragments.map((piece) => reassembler.accept(piece));
      expect(joined.slice(0, -1).every((result) => result === undefined)).to.equal(true);
      expect(joined.at(-1)).to.deep.equal(frame);
    }
    expect(abandoned).to.have.length(0);
  });

  it('refuses fragments out of place, gives up a half-joined frame, and allocates nothing for a lying total', () => {
    let abandoned = 0;
    const reassembler = new Reassembler(() => (abandoned += 1));
    const fragments = fragment(encodeWire({ data: new Uint8Array(MAX_FRAME_BYTES * 2) }));
    expect(codeOf(() => reassembler.accept(fragments[1]!))).to.equal('BAD_FRAGMENT');
    const huge = new Uint8Array([WIRE_VERSION, 3, 0, 0, 0, 0, 1]);
    new DataView(huge.buffer).setUint32(2, MAX_MESSAGE_BYTES + 1, true);
    expect(codeOf(() => reassembler.accept(huge))).to.equal('TOO_LARGE');
    new DataView(huge.buffer).setUint32(2, MAX_MESSAGE_BYTES, true);
    expect(reassembler.accept(huge)).to.equal(undefined); // 32 MiB claimed, 1 byte held
    const whole = encodeWire({ t: 'x' });
    expect(reassembler.accept(whole)).to.equal(whole);
    expect(abandoned).to.equal(1);
    expect(reassembler.accept(fragments[0]!)).to.equal(undefined);
    const tooLong = new Uint8Array(MAX_FRAME_BYTES * 2);
    tooLong.set([WIRE_VERSION, 4]);
    expect(codeOf(() => reassembler.accept(tooLong))).to.equal('BAD_FRAGMENT');
    expect(abandoned).to.equal(2);
  });
});

// ---------------------------------------------------------------------------------------------
// The Link contract

function webRtcLinks(options: { secret?: string } = {}): MakeLinks {
  return async (opened) => {
    const cluster = uniqueCluster('contract');
    const open = async (self: string) => announce(await WebRtcLink.open({ cluster, self, ...options }), opened);
    return harness([await open('a'), await open('b'), await open('c')]);
  };
}

function portLinks(options: { secret?: string } = {}): MakeLinks {
  return async (opened) => {
    const cluster = uniqueCluster('contract');
    const relay = new PortRelay();
    const open = async (self: string) => announce(await PortLink.open({ cluster, self, port: relay.connect(), ...options }), opened);
    return harness([await open('a'), await open('b'), await open('c')], relay);
  };
}

/** PortLinks through the cluster's hub, the SharedWorker that tabs use by default (hub.ts). */
function hubLinks(options: { secret?: string } = {}): MakeLinks {
  return async (opened) => {
    const cluster = uniqueCluster('contract');
    const open = async (self: string) => announce(await PortLink.open({ cluster, self, port: hubPort(cluster), ...options }), opened);
    return harness([await open('a'), await open('b'), await open('c')]);
  };
}

/** Hands a link to the case the moment it is open (before anything else is awaited). */
function announce<T extends Link>(link: T, opened: (link: Link) => void): T {
  opened(link);
  return link;
}

function harness([a, b, c]: Array<WebRtcLink | PortLink>, relay?: PortRelay): LinksUnderTest {
  return {
    a: a!,
    b: b!,
    c: c!,
    until,
    now: () => performance.now(),
    stop: async (link: Link) => (link as WebRtcLink | PortLink).close(),
    close: async () => {
      for (const link of [a, b, c]) link!.close();
      relay?.close();
    },
  };
}

const contracts = {
  WebRtcLink: webRtcLinks(),
  'WebRtcLink with a secret': webRtcLinks({ secret: 'contract secret' }),
  PortLink: portLinks(),
  'PortLink with a secret': portLinks({ secret: 'contract secret' }),
  'PortLink through the hub': hubLinks(),
  'PortLink through the hub, with a secret': hubLinks({ secret: 'contract secret' }),
};

for (const [name, make] of Object.entries(contracts)) {
  describe(`link contract: ${name}`, () => {
    for (const contractCase of linkContract()) {
      it(contractCase.name, () => contractCase.run(make, (text) => console.log(`${name}: ${text}`)));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// A raw peer: the test's own end of a real data channel to a WebRtcLink

/**
 * Speaks the link's signalling from the test, then owns a real data channel to the link: it can
 * run the handshake with a PeerGate of its choosing, and send any bytes at all.
 */
class RawPeer {
  readonly id: string;
  readonly received: unknown[] = [];
  readonly #pc = new RTCPeerConnection({ iceServers: [] });
  readonly #channel: RTCDataChannel;
  readonly #urgent: RTCDataChannel;
  readonly #signal: BroadcastChannel;
  #gate: PeerGate | undefined;
  /** Frames that came before the test chose a handshake: the link's hello comes at once. */
  readonly #early: Uint8Array[] = [];

  /** Connects to `target` on `cluster`. Ids below the links' make the raw peer the one that offers. */
  static async connect(cluster: string, target: string, id = '0-raw'): Promise<RawPeer> {
    const peer = keep(new RawPeer(cluster, target, id));
    await peer.#offer(cluster, target);
    expect(await until(() => peer.#channel.readyState === 'open', 10_000), 'the raw data channel opened').to.equal(true);
    return peer;
  }

  private constructor(cluster: string, target: string, id: string) {
    this.id = id;
    this.#signal = new BroadcastChannel(`tandemfs:${cluster}`);
    this.#channel = this.#pc.createDataChannel('raw', { negotiated: true, id: 0, ordered: true });
    this.#channel.binaryType = 'arraybuffer';
    this.#channel.onmessage = ({ data }) => {
      const frame = new Uint8Array(data as ArrayBuffer);
      if (this.#gate) this.#gate.receive(frame);
      else this.#early.push(frame);
    };
    // The link's urgent channel: the same id on this side (no urgent frame comes before a handshake).
    this.#urgent = this.#pc.createDataChannel('raw-urgent', { negotiated: true, id: 1, ordered: true });
    this.#urgent.binaryType = 'arraybuffer';
    this.#urgent.onmessage = ({ data }) => this.#gate?.receiveUrgent(new Uint8Array(data as ArrayBuffer));
  }

  async #offer(cluster: string, target: string): Promise<void> {
    const session = crypto.randomUUID();
    let steps = Promise.resolve();
    this.#signal.onmessage = ({ data }: MessageEvent<Signal>) => {
      if (data.to !== this.id || !('session' in data) || data.session !== session) return;
      if (data.kind === 'answer') steps = steps.then(() => this.#pc.setRemoteDescription({ type: 'answer', sdp: data.sdp }));
      if (data.kind === 'candidate') steps = steps.then(() => this.#pc.addIceCandidate(data.candidate)).catch(() => {});
    };
    await this.#pc.setLocalDescription();
    await until(() => this.#pc.iceGatheringState === 'complete', 5_000); // every candidate in the offer
    const offer: Signal = { cluster, from: this.id, to: target, kind: 'offer', session, sdp: this.#pc.localDescription!.sdp };
    this.#signal.postMessage(offer);
  }

  /** Runs the handshake as a node of `cluster` with `key` (or none) would. */
  handshake(cluster: string, target: string, key?: CryptoKey): PeerGate {
    this.#gate = new PeerGate({ cluster, self: this.id, peer: target, key }, {
      send: (frame) => this.#channel.send(frame),
      admitted: () => {},
      message: (value) => this.received.push(value),
      dropped: () => {},
    });
    this.#gate.start();
    for (const frame of this.#early.splice(0)) this.#gate.receive(frame);
    return this.#gate;
  }

  /** Sends a message as the link would: encoded, cut into fragments, on its urgent channel if `urgent`. */
  send(message: unknown, urgent = false): void {
    for (const piece of fragment(encodeWire(message))) (urgent ? this.#urgent : this.#channel).send(piece);
  }

  sendRaw(bytes: Uint8Array<ArrayBuffer>): void {
    this.#channel.send(bytes);
  }

  /** The data channel's bytes still waiting to go. */
  get buffered(): number {
    return this.#channel.bufferedAmount;
  }

  /** Ends the connection the way a crashed tab would: no bye. */
  close(): void {
    this.#pc.close();
    this.#signal.close();
  }
}

/** Waits until a sender has handed everything to the network, so a burst cannot overflow it. */
async function drained(peer: RawPeer): Promise<void> {
  await until(() => peer.buffered < 1 << 20, 30_000);
}

// ---------------------------------------------------------------------------------------------
// The handshake

describe('handshake', () => {
  it('a WebRtcLink with the wrong secret never comes up, and its frames are dropped and counted', async () => {
    const cluster = uniqueCluster('auth');
    const a = await openWebRtc(cluster, 'a', { secret: 'right' });
    const b = await openWebRtc(cluster, 'b', { secret: 'right' });
    const c = await openWebRtc(cluster, 'c', { secret: 'wrong' });
    const heard: string[] = [];
    for (const link of [a, b, c]) link.onPeer((peer, up) => heard.push(`${link.self}: ${peer} ${up ? 'up' : 'down'}`));
    expect(await until(() => a.peers().includes('b') && b.peers().includes('a'), 10_000)).to.equal(true);
    expect(await until(() => a.stats().dropped.unauthenticated > 0 && c.stats().dropped.unauthenticated >= 2, 5_000)).to.equal(true);
    await sleep(500);
    expect(heard.sort()).to.deep.equal(['a: b up', 'b: a up']);
    expect(c.peers()).to.deep.equal([]);
    expect(c.send('a', { t: 'let me in' })).to.equal(false);
  });

  it('a raw peer with the wrong secret is refused; the messages it sends anyway are dropped and counted', async () => {
    const cluster = uniqueCluster('auth');
    const link = await openWebRtc(cluster, 'n', { secret: 'right' });
    const raw = await RawPeer.connect(cluster, 'n');
    raw.handshake(cluster, 'n', await importSecret('wrong'));
    expect(await until(() => link.stats().dropped.unauthenticated >= 1, 5_000)).to.equal(true);
    const before = link.stats().dropped.unauthenticated;
    for (let i = 0; i < 100; i++) raw.send({ t: 'op', id: i });
    expect(await until(() => link.stats().dropped.unauthenticated >= before + 100, 5_000)).to.equal(true);
    expect(link.peers()).to.deep.equal([]);
    expect(link.stats().received).to.equal(0);
  });

  it('a peer with a secret and one without never pass each other', async () => {
    const cluster = uniqueCluster('auth');
    const a = await openWebRtc(cluster, 'a', { secret: 'only a has one' });
    const b = await openWebRtc(cluster, 'b');
    expect(await until(() => a.stats().dropped.unauthenticated > 0 && b.stats().dropped.unauthenticated > 0, 5_000)).to.equal(true);
    expect([...a.peers(), ...b.peers()]).to.deep.equal([]);
  });

  it('a node of another cluster is ignored, by its signals and by its hello', async () => {
    const cluster = uniqueCluster('home');
    const a = await openWebRtc(cluster, 'a');
    // Another cluster's node on our signalling channel: its announcement goes no further.
    const stranger = await openWebRtc(uniqueCluster('away'), 's', { signal: keep(new BroadcastChannel(`tandemfs:${cluster}`)) });
    expect(await until(() => a.stats().dropped.otherCluster === 1, 5_000)).to.equal(true);
    // A peer that gets a data channel up but says hello for another cluster is refused there.
    const raw = await RawPeer.connect(cluster, 'a');
    raw.handshake('away', 'a');
    expect(await until(() => a.stats().dropped.otherCluster >= 2, 5_000)).to.equal(true);
    raw.send({ t: 'heartbeat', owns: [], adopts: true });
    expect(await until(() => a.stats().dropped.unauthenticated >= 1, 5_000)).to.equal(true);
    expect(stranger.stats().dropped.otherCluster).to.be.above(0); // the raw peer's signals, to it
    expect([...a.peers(), ...stranger.peers()]).to.deep.equal([]);
  });

  it('a PortLink with the wrong secret or of another cluster never comes up on a shared relay', async () => {
    const cluster = uniqueCluster('auth');
    const relay = keep(new PortRelay());
    const open = (self: string, options: { cluster?: string; secret?: string }) =>
      PortLink.open({ cluster, self, port: relay.connect(), ...options }).then(keep);
    const [a, b] = [await open('a', { secret: 'right' }), await open('b', { secret: 'right' })];
    const [wrong, other] = [await open('w', { secret: 'wrong' }), await open('o', { cluster: 'other', secret: 'right' })];
    expect(await until(() => a.peers().includes('b') && b.peers().includes('a'), 5_000)).to.equal(true);
    expect(await until(() => a.stats().dropped.unauthenticated >= 1 && a.stats().dropped.otherCluster >= 1, 5_000)).to.equal(true);
    await sleep(200);
    expect([a.peers(), b.peers(), wrong.peers(), other.peers()]).to.deep.equal([['b'], ['a'], [], []]);
  });

  it('a proof recorded on one connection is refused on the next (fresh nonces)', async () => {
    const key = await importSecret('s');
    const recorded: Array<Uint8Array<ArrayBuffer>> = [];
    const connect = (admitted: string[]) => {
      const gates: Record<string, PeerGate> = {};
      const events = (self: string, peer: string) => ({
        send: (frame: Uint8Array<ArrayBuffer>) => {
          if (self === 'b') recorded.push(frame);
          queueMicrotask(() => gates[peer]!.receive(frame));
        },
        admitted: () => admitted.push(`${self} admits ${peer}`),
        message: () => {},
        dropped: () => {},
      });
      gates.a = new PeerGate({ cluster: 'c', self: 'a', peer: 'b', key }, events('a', 'b'));
      gates.b = new PeerGate({ cluster: 'c', self: 'b', peer: 'a', key }, events('b', 'a'));
      gates.a.start();
      gates.b.start();
    };
    const admitted: string[] = [];
    connect(admitted);
    expect(await until(() => admitted.length === 2, 2_000)).to.equal(true);
    expect(admitted.sort()).to.deep.equal(['a admits b', 'b admits a']);
    // b's hello and proof from that connection, played to a new connection's gate of a.
    const dropped: string[] = [];
    const replayedTo = new PeerGate({ cluster: 'c', self: 'a', peer: 'b', key }, {
      send: () => {},
      admitted: () => {},
      message: () => {},
      dropped: (reason) => dropped.push(reason),
    });
    replayedTo.start();
    for (const frame of recorded) replayedTo.receive(frame);
    expect(await until(() => dropped.length > 0, 2_000)).to.equal(true);
    expect(replayedTo.admitted).to.equal(false);
    expect(dropped).to.deep.equal(['unauthenticated']);
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile bytes on a real data channel

/** A seeded generator, so that a failing fuzz run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Valid frames to damage: core messages, a handshake frame, and the fragments of a long message. */
function corpus(): Array<Uint8Array<ArrayBuffer>> {
  const long = fragment(encodeWire({ t: 'mirror', volume: 1, epoch: 1, session: 1, lsns: [1, 2, 3], frames: [new Uint8Array(300_000), new Uint8Array(10)] }));
  return [
    encodeWire({ t: 'heartbeat', owns: [[1, 1]], adopts: true }),
    encodeWire({ t: 'mirror', volume: 2, epoch: 1, session: 4, lsns: [5], frames: [new Uint8Array(64).fill(7)] }),
    encodeWire({ t: 'op', id: 1, volume: 2, opId: 3, op: { type: 'write', path: '/é', offset: 0, data: new Uint8Array(9) } }),
    encodeWire({ t: 'opResult', id: 1, error: { code: 'EIO', message: 'x' } }),
    encodeWire({ t: 'hello', cluster: 'c', from: 'x', to: 'y' }, 'control'),
    ...long,
  ];
}

/** A frame as an attacker would send it: random bytes, a damaged valid frame, or a fragment out of place. */
function hostileFrame(next: () => number, valid: Array<Uint8Array<ArrayBuffer>>): Uint8Array<ArrayBuffer> {
  const int = (n: number) => Math.floor(next() * n);
  const randomBytes = (length: number) => Uint8Array.from({ length }, () => int(256));
  const choice = next();
  if (choice < 0.15) return randomBytes(int(600));
  if (choice < 0.3) return new Uint8Array([WIRE_VERSION, 1 + int(4), ...randomBytes(int(300))]);
  if (choice < 0.4) {
    const first = new Uint8Array([WIRE_VERSION, 3, 0, 0, 0, 0, ...randomBytes(1 + int(100))]);
    new DataView(first.buffer).setUint32(2, next() < 0.5 ? int(2_000) : int(2 ** 32), true);
    return first;
  }
  const frame = valid[int(valid.length)]!.slice();
  const damage = next();
  if (damage < 0.5) {
    for (let flips = 1 + int(4); flips > 0; flips--) frame[int(frame.length)]! ^= 1 << int(8);
    return frame;
  }
  if (damage < 0.7) return frame.slice(0, int(frame.length));
  if (damage < 0.8) return new Uint8Array([...frame.subarray(0, Math.min(frame.length, 4096)), ...randomBytes(1 + int(50))]);
  frame[2 + int(Math.min(frame.length - 2, 64))] = int(256);
  return frame;
}

describe('hostile bytes on a real data channel', () => {
  /** Errors thrown from anywhere in the page while a test runs: the links must throw none. */
  let errors: string[] = [];
  const onError = (event: ErrorEvent | PromiseRejectionEvent) => errors.push(String('reason' in event ? event.reason : event.message));
  beforeEach(() => {
    errors = [];
    window.addEventListener('error', onError);
    window.addEventListener('unhandledrejection', onError);
  });
  afterEach(() => {
    window.removeEventListener('error', onError);
    window.removeEventListener('unhandledrejection', onError);
  });

  it('survives thousands of random and damaged frames from an admitted peer, counts them, and keeps working', async function () {
    this.timeout(300_000);
    const seed = Date.now() % 1_000_000;
    const cluster = uniqueCluster('fuzz');
    const link = await openWebRtc(cluster, 'n');
    const other = await openWebRtc(cluster, 'm');
    const raw = await RawPeer.connect(cluster, 'n');
    raw.handshake(cluster, 'n');
    expect(await until(() => link.peers().includes(raw.id) && link.peers().includes('m'), 10_000)).to.equal(true);
    const arrived: unknown[] = [];
    link.onMessage((from, message) => void (from === raw.id && arrived.push(message)));

    const next = random(seed);
    const valid = corpus();
    const FRAMES = 4_000;
    for (let i = 0; i < FRAMES; i++) {
      raw.sendRaw(hostileFrame(next, valid));
      if (i % 100 === 99) await drained(raw);
    }
    // Then valid traffic, a long message included: it must all arrive, in order, intact.
    const after = [{ t: 'after', n: 1 }, { t: 'after', n: 2, data: new Uint8Array(700_000).fill(3) }, { t: 'after', n: 3 }];
    for (const message of after) raw.send(message);
    const whole = await until(() => arrived.slice(-3).every((m, i) => (m as { t?: string; n?: number }).t === 'after' && (m as { n: number }).n === i + 1), 60_000);
    const stats = link.stats();
    console.log(`fuzz (seed ${seed}): ${FRAMES} hostile frames; ${arrived.length - after.length} decoded to some message, dropped ${JSON.stringify(stats.dropped)}`);
    expect(whole, `the valid messages after the fuzz arrived (seed ${seed})`).to.equal(true);
    expect(arrived.slice(-3)).to.deep.equal(after);
    expect(errors, `errors thrown (seed ${seed})`).to.deep.equal([]);
    expect(stats.dropped.undecodable).to.be.above(FRAMES / 4);
    expect(link.peers()).to.deep.equal(['0-raw', 'm']);
    // And the link still talks both ways: to the raw peer, and to a real link.
    expect(link.send(raw.id, { t: 'back', data: new Uint8Array([1]) })).to.equal(true);
    expect(await until(() => raw.received.length > 0, 5_000)).to.equal(true);
    expect(raw.received).to.deep.equal([{ t: 'back', data: new Uint8Array([1]) }]);
    const fromLink: unknown[] = [];
    other.onMessage((_, message) => fromLink.push(message));
    link.send('m', { t: 'still fine' });
    expect(await until(() => fromLink.length === 1, 5_000)).to.equal(true);
  });

  it('never admits a peer that sends random and damaged frames instead of a handshake', async function () {
    this.timeout(120_000);
    const seed = Date.now() % 1_000_000;
    const cluster = uniqueCluster('fuzz');
    const link = await openWebRtc(cluster, 'n', { secret: 's' });
    const raw = await RawPeer.connect(cluster, 'n');
    const next = random(seed);
    const valid = corpus();
    const FRAMES = 2_000;
    for (let i = 0; i < FRAMES; i++) {
      raw.sendRaw(hostileFrame(next, valid));
      if (i % 100 === 99) await drained(raw);
    }
    expect(await until(() => totalDropped(link.stats()) >= FRAMES - 100, 30_000), `drops counted (seed ${seed})`).to.equal(true);
    console.log(`fuzz before the handshake (seed ${seed}): ${FRAMES} frames, dropped ${JSON.stringify(link.stats().dropped)}`);
    expect(link.peers(), `seed ${seed}`).to.deep.equal([]);
    expect(link.stats().received).to.equal(0);
    expect(errors).to.deep.equal([]);
  });

  it('drops signals of the wrong shape', async () => {
    const cluster = uniqueCluster('fuzz');
    const link = await openWebRtc(cluster, 'n');
    const signal = keep(new BroadcastChannel(`tandemfs:${cluster}`));
    for (const junk of [null, 1, 'announce', { cluster }, { cluster, from: 'x', kind: 'offer' }, { cluster, from: 'x', kind: 'nope' }]) signal.postMessage(junk);
    expect(await until(() => link.stats().dropped.undecodable === 6, 2_000)).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Urgent messages: liveness must not wait behind a burst of data

/** The write bench's burst: 8 MiB of 64 KiB messages (each two frames on the wire). */
const BURST_COUNT = 128;
const BURST_BYTES = 64 * 1024;
/** The heartbeats' period (options.ts, heartbeatMs). */
const PING_EVERY_MS = 200;

interface BurstWithPings {
  /** What b received of the round, in arrival order: `burst <seq>` or `ping <n>`. */
  readonly order: string[];
  /** When each ping was sent and when it arrived (one page, one clock). */
  readonly pings: Array<{ sentAt: number; arrivedAt?: number }>;
  /** When the burst was queued, and when its last message arrived. */
  readonly queuedAt: number;
  readonly lastAt: number;
}

/**
 * Queues a burst from `a` to `b`, then sends an urgent ping at once and every PING_EVERY_MS until
 * the burst has arrived, and one more. Checks that all of it arrived: the burst whole, intact and
 * in order, the pings in order.
 */
async function burstWithPings(a: Link, b: Link, round: number): Promise<BurstWithPings> {
  const order: string[] = [];
  const pings: Array<{ sentAt: number; arrivedAt?: number }> = [];
  let lastAt = 0;
  let damaged = '';
  b.onMessage((from, message) => {
    const m = message as { t?: string; round?: number; seq?: number; n?: number; data?: unknown };
    if (from !== a.self || m.round !== round) return;
    if (m.t === 'burst') {
      order.push(`burst ${m.seq}`);
      if (!(m.data instanceof Uint8Array) || m.data.length !== BURST_BYTES || m.data.some((byte) => byte !== (m.seq! & 0xff))) damaged ||= `burst ${m.seq} arrived damaged`;
      if (m.seq === BURST_COUNT - 1) lastAt = performance.now();
    } else if (m.t === 'ping') {
      order.push(`ping ${m.n}`);
      pings[m.n!]!.arrivedAt = performance.now();
    }
  });
  const ping = () => {
    pings.push({ sentAt: performance.now() });
    expect(a.send(b.self, { t: 'ping', round, n: pings.length - 1 }, true), 'an urgent send returned false').to.equal(true);
  };
  const queuedAt = performance.now();
  for (let seq = 0; seq < BURST_COUNT; seq++) {
    const data = new Uint8Array(BURST_BYTES).fill(seq & 0xff);
    expect(a.send(b.self, { t: 'burst', round, seq, data }), 'a send of the burst returned false').to.equal(true);
  }
  ping();
  while (lastAt === 0 && performance.now() - queuedAt < 120_000) {
    await sleep(PING_EVERY_MS);
    if (lastAt === 0) ping();
  }
  ping();
  expect(await until(() => lastAt > 0 && pings.every((p) => p.arrivedAt !== undefined), 30_000), 'the burst and every ping arrived').to.equal(true);
  expect(damaged).to.equal('');
  expect(order.filter((item) => item.startsWith('burst')), 'the burst, in order').to.deep.equal(range(BURST_COUNT).map((seq) => `burst ${seq}`));
  expect(order.filter((item) => item.startsWith('ping')), 'the pings, in order').to.deep.equal(range(pings.length).map((n) => `ping ${n}`));
  return { order, pings, queuedAt, lastAt };
}

/**
 * The longest the receiver went without a ping while the burst was arriving: from the first
 * ping's send (right behind the burst) through each ping's arrival to the burst's last message.
 */
function largestPingGap(run: BurstWithPings): number {
  const marks = [run.pings[0]!.sentAt, ...run.pings.map((p) => p.arrivedAt!).filter((at) => at < run.lastAt), run.lastAt];
  return Math.max(...marks.slice(1).map((at, i) => at - marks[i]!));
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

describe('urgent messages', () => {
  it('WebRtcLink: an urgent message sent behind an 8 MiB burst arrives before the burst\'s last message', async function () {
    this.timeout(300_000);
    const cluster = uniqueCluster('urgent');
    const [a, b] = [await openWebRtc(cluster, 'a'), await openWebRtc(cluster, 'b')];
    expect(await until(() => a.peers().includes('b') && b.peers().includes('a'), 10_000)).to.equal(true);
    // Round 0 on a fresh connection, the others on a warm one, as in the write bench.
    const runs: BurstWithPings[] = [];
    for (let round = 0; round < 4; round++) runs.push(await burstWithPings(a, b, round));
    const gaps = runs.map((run) => largestPingGap(run).toFixed(0));
    console.log(`WebRtcLink, 8 MiB bursts: largest gap between urgent pings (sent every ${PING_EVERY_MS} ms) at the receiver, per round: ${gaps.join(', ')} ms`);
    runs.forEach((run, round) => {
      const before = run.pings.filter((p) => p.arrivedAt! < run.lastAt).length;
      console.log(`WebRtcLink, 8 MiB burst round ${round}: ${(run.lastAt - run.queuedAt).toFixed(0)} ms; ping 0 arrived after ${run.order.indexOf('ping 0')} of the burst's messages; ${before} of ${run.pings.length} pings before the burst's last`);
    });
    runs.forEach((run, round) => {
      const [first, last] = [run.order.indexOf('ping 0'), run.order.indexOf(`burst ${BURST_COUNT - 1}`)];
      expect(first, `round ${round}: ping 0 arrived before the burst's last message`).to.be.below(last);
    });
  });

  it('a PeerGate holds urgent frames that overtake the handshake, and judges them by it', async () => {
    const key = await importSecret('s');
    /** Two gates; `early` reach b's urgent side before anything else, `keyB` is b's secret. */
    const pair = (early: Array<Uint8Array<ArrayBuffer>>, keyB: CryptoKey) => {
      const got: unknown[] = [];
      const dropped: string[] = [];
      const admitted: string[] = [];
      const gates: Record<string, PeerGate> = {};
      const events = (self: string, peer: string) => ({
        send: (frame: Uint8Array<ArrayBuffer>) => queueMicrotask(() => gates[peer]!.receive(frame)),
        admitted: () => admitted.push(self),
        message: (value: unknown) => got.push(value),
        dropped: (reason: string) => dropped.push(`${self}: ${reason}`),
      });
      gates.a = new PeerGate({ cluster: 'c', self: 'a', peer: 'b', key }, events('a', 'b'));
      gates.b = new PeerGate({ cluster: 'c', self: 'b', peer: 'a', key: keyB }, events('b', 'a'));
      for (const frame of early) gates.b.receiveUrgent(frame);
      gates.a.start();
      gates.b.start();
      return { got, dropped, admitted, b: gates.b };
    };
    const early = [encodeWire({ t: 'heartbeat', n: 1 }), ...fragment(encodeWire({ t: 'heartbeat', n: 2, data: new Uint8Array(3000) }), 1024)];
    const passed = pair(early, key);
    expect(await until(() => passed.admitted.length === 2 && passed.got.length === 2, 2_000)).to.equal(true);
    expect(passed.got).to.deep.equal([{ t: 'heartbeat', n: 1 }, { t: 'heartbeat', n: 2, data: new Uint8Array(3000) }]);
    expect(passed.dropped).to.deep.equal([]);
    // After the handshake an urgent frame is a message at once; a control frame there is not one.
    passed.b.receiveUrgent(encodeWire({ t: 'later' }));
    passed.b.receiveUrgent(encodeWire({ t: 'hello' }, 'control'));
    expect(passed.got.at(-1)).to.deep.equal({ t: 'later' });
    expect(passed.dropped).to.deep.equal(['b: undecodable']);

    // A peer that fails the handshake: what it sent early is dropped and counted, never read.
    const failed = pair(early, await importSecret('wrong'));
    expect(await until(() => failed.dropped.filter((d) => d === 'b: unauthenticated').length >= 1 + early.length, 2_000)).to.equal(true);
    failed.b.receiveUrgent(encodeWire({ t: 'later' }));
    expect(failed.got).to.deep.equal([]);
    expect(failed.dropped.filter((d) => d.startsWith('b:'))).to.deep.equal(new Array(2 + early.length).fill('b: unauthenticated'));

    // An unproven peer makes us hold at most 64 KiB.
    const floodDrops: string[] = [];
    const flood = new PeerGate({ cluster: 'c', self: 'b', peer: 'a', key }, {
      send: () => {}, admitted: () => {}, message: () => {}, dropped: (reason) => floodDrops.push(reason),
    });
    for (let i = 0; i < 20; i++) flood.receiveUrgent(new Uint8Array(4096));
    expect(floodDrops).to.deep.equal(new Array(4).fill('unauthenticated'));
  });

  it('WebRtcLink: the urgent channel passes the same handshake, and joins its fragments apart from the other channel\'s', async () => {
    const cluster = uniqueCluster('urgent-auth');
    // A raw peer that fails the handshake: what it sends on the urgent channel is dropped and counted.
    const guarded = await openWebRtc(cluster, 'n', { secret: 'right' });
    const intruder = await RawPeer.connect(cluster, 'n');
    intruder.handshake(cluster, 'n', await importSecret('wrong'));
    expect(await until(() => guarded.stats().dropped.unauthenticated >= 1, 5_000)).to.equal(true);
    const before = guarded.stats().dropped.unauthenticated;
    for (let i = 0; i < 50; i++) intruder.send({ t: 'heartbeat', owns: [], adopts: true }, true);
    expect(await until(() => guarded.stats().dropped.unauthenticated >= before + 50, 5_000)).to.equal(true);
    expect(guarded.stats().received).to.equal(0);
    expect(guarded.peers()).to.deep.equal([]);

    // An admitted raw peer: a long urgent message goes while the other channel is half-way
    // through a long message of its own; both arrive whole.
    const link = await openWebRtc(cluster, 'm', { secret: 'right' });
    const raw = await RawPeer.connect(cluster, 'm', '0-raw2');
    raw.handshake(cluster, 'm', await importSecret('right'));
    expect(await until(() => link.peers().includes(raw.id), 10_000)).to.equal(true);
    const got: unknown[] = [];
    link.onMessage((_, message) => got.push(message));
    const long = { t: 'mirror', data: new Uint8Array(600_000).map((_, i) => i) };
    const urgent = { t: 'heartbeat', data: new Uint8Array(300_000).fill(7) };
    const pieces = fragment(encodeWire(long));
    raw.sendRaw(pieces[0]!);
    raw.send(urgent, true);
    expect(await until(() => got.length === 1, 5_000), 'the urgent message arrived before the rest of the long one was sent').to.equal(true);
    for (const piece of pieces.slice(1)) raw.sendRaw(piece);
    expect(await until(() => got.length === 2, 5_000)).to.equal(true);
    expect(got).to.deep.equal([urgent, long]);
    expect(link.stats().dropped).to.deep.equal({ unauthenticated: 0, otherCluster: 0, undecodable: 0 });
    // And the link's own urgent messages reach the raw peer's urgent channel.
    expect(link.send(raw.id, { t: 'ping' }, true)).to.equal(true);
    expect(await until(() => raw.received.length === 1, 5_000)).to.equal(true);
    expect(raw.received).to.deep.equal([{ t: 'ping' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Life of a WebRtcLink

describe('WebRtcLink', () => {
  it('tries again to reach a peer whose connection failed (no bye)', async () => {
    const cluster = uniqueCluster('retry');
    const link = await openWebRtc(cluster, 'n');
    const heard: string[] = [];
    link.onPeer((peer, up) => heard.push(`${peer} ${up ? 'up' : 'down'}`));
    const raw = await RawPeer.connect(cluster, 'n');
    raw.handshake(cluster, 'n');
    expect(await until(() => heard.length === 1, 5_000)).to.equal(true);
    const watcher = keep(new BroadcastChannel(`tandemfs:${cluster}`));
    const announced: Signal[] = [];
    watcher.onmessage = ({ data }: MessageEvent<Signal>) => void (data.kind === 'announce' && data.to === raw.id && announced.push(data));
    raw.close();
    expect(await until(() => heard.length === 2, 10_000), 'the failed peer was reported down').to.equal(true);
    // The link is the higher id, so it asks the raw peer to offer again.
    expect(await until(() => announced.length === 1, 2_000), 'the link asked the peer to connect again').to.equal(true);
    expect(heard).to.deep.equal([`${raw.id} up`, `${raw.id} down`]);
  });

  it('keeps going when a handler throws, and stops listening once closed', async () => {
    const cluster = uniqueCluster('life');
    const [a, b] = [await openWebRtc(cluster, 'a'), await openWebRtc(cluster, 'b')];
    const reported: unknown[] = [];
    // The handler's exception is reported as uncaught (reportError): count it, and keep it from
    // mocha's window.onerror, which would fail the test with it.
    const mochaOnError = window.onerror;
    window.onerror = (_message, _source, _line, _column, error) => {
      reported.push(error);
      return true; // handled: not logged as uncaught
    };
    try {
      const got: unknown[] = [];
      b.onMessage(() => {
        throw new Error('a careless handler');
      });
      b.onMessage((_, message) => got.push(message));
      expect(await until(() => a.peers().includes('b') && b.peers().includes('a'), 10_000)).to.equal(true);
      a.send('b', 1);
      a.send('b', 2);
      expect(await until(() => got.length === 2, 5_000)).to.equal(true);
      expect(got).to.deep.equal([1, 2]);
      expect(reported).to.have.length(2);
    } finally {
      window.onerror = mochaOnError;
    }
    b.close();
    const signal = keep(new BroadcastChannel(`tandemfs:${cluster}`));
    signal.postMessage('junk');
    await sleep(50);
    expect(b.stats().dropped.undecodable).to.equal(0);
    expect(a.stats().dropped.undecodable).to.equal(1);
    expect(b.peers()).to.deep.equal([]);
    expect(b.send('a', 3)).to.equal(false);
  });
});

// ---------------------------------------------------------------------------------------------
// PortLinks: the relay, and a node in a dedicated worker

describe('PortLink', () => {
  it('every node hears every peer go down when the relay closes', async () => {
    const cluster = uniqueCluster('relay');
    const relay = keep(new PortRelay());
    const links = [await PortLink.open({ cluster, self: 'a', port: relay.connect() }), await PortLink.open({ cluster, self: 'b', port: relay.connect() })];
    const heard: string[] = [];
    for (const link of links) link.onPeer((peer, up) => heard.push(`${link.self}: ${peer} ${up ? 'up' : 'down'}`));
    expect(await until(() => heard.length === 2, 5_000)).to.equal(true);
    relay.close();
    expect(await until(() => heard.length === 4, 5_000)).to.equal(true);
    expect(heard.slice(2).sort()).to.deep.equal(['a: b down', 'b: a down']);
    expect(links.map((link) => link.send(link.self === 'a' ? 'b' : 'a', 1))).to.deep.equal([false, false]);
    for (const link of links) link.close();
  });

  it('frames go straight from node to node: the relay sees joins and leaves, never a frame', async () => {
    const cluster = uniqueCluster('direct');
    const relay = keep(new PortRelay());
    // A tap between each link and the relay: it passes every message on (and the ports they
    // carry), and keeps the ones each link sent the relay.
    const toRelay: unknown[] = [];
    const tapped = () => {
      const link = new MessageChannel();
      const relayEnd = relay.connect();
      link.port2.onmessage = ({ data, ports }) => {
        toRelay.push(data);
        relayEnd.postMessage(data, [...ports]);
      };
      relayEnd.onmessage = ({ data, ports }) => link.port2.postMessage(data, [...ports]);
      return link.port1;
    };
    const a = keep(await PortLink.open({ cluster, self: 'a', port: tapped(), secret: 's' }));
    const b = keep(await PortLink.open({ cluster, self: 'b', port: tapped(), secret: 's' }));
    const got: unknown[] = [];
    b.onMessage((_, message) => got.push(message));
    expect(await until(() => a.peers().includes('b'), 5_000), 'b came up').to.equal(true);
    for (let i = 0; i < 50; i++) expect(a.send('b', { i })).to.equal(true);
    expect(await until(() => got.length === 50, 5_000)).to.equal(true);
    expect(got).to.deep.equal(Array.from({ length: 50 }, (_, i) => ({ i })));
    expect(toRelay.map((m) => (m as { type: string }).type)).to.deep.equal(['join', 'join']);
  });

  it('a node in a worker talks to a node in the page through the relay, and goes down with the worker', async () => {
    const cluster = uniqueCluster('worker');
    const relay = keep(new PortRelay());
    const page = keep(await PortLink.open({ cluster, self: 'page', port: relay.connect(), secret: 's' }));
    const heard: string[] = [];
    page.onPeer((peer, up) => heard.push(`${peer} ${up ? 'up' : 'down'}`));
    const echoes: unknown[] = [];
    page.onMessage((_, message) => echoes.push(message));
    const moduleUrl = new URL('../../src/browser/port-link.ts', import.meta.url).href;
    const source = `import { PortLink } from '${moduleUrl}';
      onmessage = async ({ data: { cluster, port } }) => {
        const link = await PortLink.open({ cluster, self: 'worker', port, secret: 's' });
        link.onMessage((from, message) => link.send(from, { echo: message }));
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })), { type: 'module' });
    keep({ close: () => worker.terminate() });
    const port = relay.connect();
    worker.postMessage({ cluster, port }, [port]);
    expect(await until(() => page.peers().includes('worker'), 10_000), 'the worker node came up').to.equal(true);
    const message = { t: 'mirror', frames: [new Uint8Array([1, 2, 3])], lsns: [1] };
    expect(page.send('worker', message)).to.equal(true);
    expect(await until(() => echoes.length === 1, 5_000)).to.equal(true);
    expect(echoes).to.deep.equal([{ echo: message }]);
    worker.terminate();
    // The worker's Web Lock is released with it, and the relay, waiting for it, says it left.
    expect(await until(() => heard.includes('worker down'), 5_000), 'the worker node went down').to.equal(true);
  });
});
