// The contract every Link keeps (./ports.ts): peers come up and go down, messages arrive in
// order and intact, and a burst of them all arrives. Framework-free, so that the same cases run
// under node:test against the simulator's links and in a browser against the WebRTC and
// MessagePort links.
//
// Time is the harness's: the simulator's links move only while its virtual time runs, real
// links on their own. So a case never sleeps; it asks the harness to run `until` a condition
// holds, and reads the harness's clock for the timings it notes.
import type { Link, NodeId } from './ports.js';

/** Fresh links, each its own node, on a fresh cluster. */
export interface LinksUnderTest {
  readonly a: Link;
  readonly b: Link;
  /** A third node, for the cases with more than two. */
  readonly c?: Link;
  /** Lets the links' world run until `done()` holds or `ms` of its time pass; true when it held. */
  until(done: () => boolean, ms: number): Promise<boolean>;
  /** The links' clock, in milliseconds. */
  now(): number;
  /** The node behind `link` stops: a browser link closes, a simulated node crashes. */
  stop(link: Link): Promise<void>;
  /** Breaks the connection between two running nodes, where the implementation can. */
  cut?(x: Link, y: Link): Promise<void>;
  /** Ends everything the links hold (connections, channels, timers); called after every case. */
  close(): Promise<void>;
}

/**
 * Makes fresh links. It must call `opened` with each link as soon as the link exists, before it
 * awaits anything else: links may connect while others are still opening, and the case's
 * handlers must see every event.
 */
export type MakeLinks = (opened: (link: Link) => void) => Promise<LinksUnderTest>;

export interface LinkCase {
  readonly name: string;
  /** `note` hears what a case measured (the burst timings). */
  run(make: MakeLinks, note?: (text: string) => void): Promise<void>;
}

/** Time allowed for peers to find each other and for a message to arrive. */
const CONNECT_MS = 15_000;
/** Time allowed for a burst to arrive. */
const BURST_MS = 120_000;

export function linkContract(): LinkCase[] {
  return [...peerCases, ...messageCases, ...burstCases];
}

// ---------------------------------------------------------------------------------------------
// Peers

const peerCases: LinkCase[] = [
  {
    name: 'every node sees the others: onPeer reports each one up once, and peers() lists them',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const all = nodes(t);
      const watches = all.map(watchOf);
      await connected(t, watches);
      for (const w of watches) {
        const others = all.filter((link) => link !== w.link).map((link) => link.self).sort();
        check(same(w.link.peers(), others), `${w.link.self}.peers() is ${show(w.link.peers())}, not ${show(others)}`);
        const heard = w.events.map(({ peer, up }) => `${peer} ${up ? 'up' : 'down'}`).sort();
        check(same(heard, others.map((peer) => `${peer} up`)), `${w.link.self} heard ${show(heard)}, not each of ${show(others)} up once`);
      }
    }),
  },
  {
    name: 'sending to a node that is not a connected peer returns false',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const watches = [watchOf(t.a), watchOf(t.b)];
      check(!t.a.send('no-such-node', { t: 'hello' }), 'a send to an unknown node returned true');
      await connected(t, watches);
      check(!t.a.send('no-such-node', { t: 'hello' }), 'a send to an unknown node returned true once connected');
    }),
  },
  {
    name: 'when a node stops, its peers hear it go down, sends to it return false, and the others still talk',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const watches = nodes(t).map(watchOf);
      await connected(t, watches);
      await t.stop(t.b);
      const rest = watches.filter((w) => w.link !== t.b);
      const heard = await t.until(() => rest.every((w) => w.saw(t.b.self, false)), CONNECT_MS);
      check(heard, `${rest.filter((w) => !w.saw(t.b.self, false)).map((w) => w.link.self)} never heard ${t.b.self} go down`);
      for (const w of rest) {
        check(!w.link.peers().includes(t.b.self), `${w.link.self}.peers() still lists ${t.b.self}`);
        check(!w.link.send(t.b.self, { t: 'late' }), `${w.link.self}'s send to the stopped ${t.b.self} returned true`);
      }
      if (t.c) await exchange(t, watches[0]!, watches[2]!, { t: 'still here' });
    }),
  },
  {
    name: 'a cut connection reports each side down to the other, and sends across it return false',
    run: (make, note) => withLinks(make, async (t, watchOf) => {
      if (!t.cut) return note?.('not run: this harness cannot cut a connection');
      const watches = [watchOf(t.a), watchOf(t.b)];
      await connected(t, watches);
      await t.cut(t.a, t.b);
      const heard = await t.until(() => watches[0]!.saw(t.b.self, false) && watches[1]!.saw(t.a.self, false), CONNECT_MS);
      check(heard, 'a cut connection was not reported down on both sides');
      check(!t.a.send(t.b.self, { t: 'late' }) && !t.b.send(t.a.self, { t: 'late' }), 'a send across a cut returned true');
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// Messages

/** Messages with every kind of value the core sends, and the edges of each. */
function samples(): unknown[] {
  const bytes = (length: number, seed: number) => pattern(length, seed);
  return [
    { t: 'heartbeat', owns: [[1, 2], [3, 4]], partners: [[1, 'n2', 3], [3, null, 1]], adopts: true },
    { t: 'mirror', volume: 7, epoch: 3, session: 9, lsns: [1, 2, 3], frames: [bytes(100, 1), bytes(0, 2), bytes(4096, 3)] },
    { t: 'op', id: 1, volume: 2, opId: 2 ** 53 - 1, op: { type: 'write', path: '/ä/€/😀', offset: 0, data: bytes(10, 4), mtimeMs: 1.5 } },
    { t: 'opResult', id: 1, error: { code: 'EIO', message: 'the medium failed' } },
    { numbers: [0, -1, 127, 128, 2 ** 31, -(2 ** 53 - 1), 0.1, -0, 1e300, Number.MAX_VALUE, Number.MIN_VALUE] },
    { odd: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, true, false, '', undefined] },
    { nested: { deeper: { still: [[[{ bytes: bytes(3, 5) }]]] } }, empty: {}, none: [] },
    'a bare string',
    42,
    null,
    bytes(300, 6),
    [],
  ];
}

const messageCases: LinkCase[] = [
  {
    name: 'messages arrive in the order sent and intact, both ways, from the moment the peer is up',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const [wa, wb] = [watchOf(t.a), watchOf(t.b)];
      await connected(t, [wa, wb]);
      const sent = samples();
      for (const message of sent) check(t.a.send(t.b.self, message), 'a send to a connected peer returned false');
      for (const message of sent) check(t.b.send(t.a.self, message), 'a send to a connected peer returned false');
      const expected = (from: Link) => [{ t: 'first', from: from.self }, ...sent];
      const arrived = await t.until(() => wb.from(t.a.self).length > sent.length && wa.from(t.b.self).length > sent.length, CONNECT_MS);
      check(arrived, `b got ${wb.from(t.a.self).length} of ${sent.length + 1} messages, a got ${wa.from(t.b.self).length} of ${sent.length + 1}`);
      checkSame(wb.from(t.a.self), expected(t.a), 'a to b');
      checkSame(wa.from(t.b.self), expected(t.b), 'b to a');
    }, (link) => {
      // The first message leaves the moment a peer is up: it must not be lost to a handshake.
      link.onPeer((peer, up) => void (up && link.send(peer, { t: 'first', from: link.self })));
    }),
  },
  {
    name: 'urgent messages all arrive, in order among themselves, and so do the others, from the moment the peer is up',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const [wa, wb] = [watchOf(t.a), watchOf(t.b)];
      await connected(t, [wa, wb]);
      // Ordinary messages (some of them large) and urgent ones, interleaved. An urgent message
      // may overtake ordinary ones sent before it; within each kind the order holds.
      const sent: Array<{ message: unknown; urgent: boolean }> = [];
      for (let i = 0; i < 60; i++) {
        const urgent = i % 3 === 1;
        const message = urgent
          ? { t: 'urgent', from: t.a.self, n: i }
          : { t: 'ordinary', n: i, data: pattern(i % 12 === 0 ? 300_000 : 64, i) };
        check(t.a.send(t.b.self, message, urgent), `a send (urgent: ${urgent}) to a connected peer returned false`);
        sent.push({ message, urgent });
      }
      const kind = (urgent: boolean) => (message: unknown) => ((message as { t?: unknown }).t === 'urgent') === urgent;
      const expected = (from: Link, urgent: boolean) => [
        ...(urgent ? [{ t: 'urgent', from: from.self, n: -1 }] : []),
        ...sent.filter((s) => s.urgent === urgent).map((s) => s.message),
      ];
      const total = sent.length + 1;
      const arrived = await t.until(() => wb.from(t.a.self).length >= total && wa.from(t.b.self).length >= 1, CONNECT_MS);
      check(arrived, `b got ${wb.from(t.a.self).length} of ${total} messages, a got ${wa.from(t.b.self).length} of 1`);
      checkSame(wb.from(t.a.self).filter(kind(true)), expected(t.a, true), 'urgent messages, a to b');
      checkSame(wb.from(t.a.self).filter(kind(false)), expected(t.a, false), 'ordinary messages, a to b');
      checkSame(wa.from(t.b.self), expected(t.b, true).slice(0, 1), 'the urgent message b sent when a came up');
    }, (link) => {
      // An urgent message leaves the moment a peer is up: it must not be lost to the handshake.
      link.onPeer((peer, up) => void (up && link.send(peer, { t: 'urgent', from: link.self, n: -1 }, true)));
    }),
  },
  {
    name: 'messages larger than 256 KiB arrive whole: a 256 KiB record with its headers, a 1 MiB one, a group of 16',
    run: (make) => withLinks(make, async (t, watchOf) => {
      const [wa, wb] = [watchOf(t.a), watchOf(t.b)];
      await connected(t, [wa, wb]);
      const sent = [
        { t: 'mirror', volume: 1, epoch: 1, session: 1, lsns: [1], frames: [pattern(262_144, 1)] },
        { t: 'op', id: 2, volume: 1, opId: 2, op: { type: 'write', path: '/big', offset: 0, data: pattern(1 << 20, 2) } },
        { t: 'mirror', volume: 1, epoch: 1, session: 1, lsns: range(16), frames: range(16).map((i) => pattern(262_144 - i, i)) },
        { t: 'after', data: pattern(10, 3) },
      ];
      for (const message of sent) check(t.a.send(t.b.self, message), 'a send to a connected peer returned false');
      check(await t.until(() => wb.from(t.a.self).length >= sent.length, CONNECT_MS), `b got ${wb.from(t.a.self).length} of ${sent.length} large messages`);
      checkSame(wb.from(t.a.self), sent, 'large messages');
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// Bursts: where a fresh WebRTC channel stalls unless its sender paces itself

const burstCases: LinkCase[] = [
  burst(2_000, 4 * 1024),
  burst(200, 200 * 1024),
];

function burst(count: number, size: number): LinkCase {
  return {
    name: `a burst of ${count} messages of ${size / 1024} KiB on a fresh connection arrives whole and in order`,
    run: (make, note) => withLinks(make, async (t, watchOf) => {
      await connected(t, [watchOf(t.a), watchOf(t.b)]);
      let last = -1;
      let disorder = '';
      let arrivedAt = 0;
      t.b.onMessage((from, message) => {
        const seq = (message as { seq?: unknown }).seq;
        if (typeof seq !== 'number') return;
        const data = (message as { data?: unknown }).data;
        if (seq !== last + 1) disorder ||= `message ${seq} arrived after ${last}`;
        else if (!(data instanceof Uint8Array) || !samePattern(data, size, seq)) disorder ||= `message ${seq} arrived damaged`;
        last = seq;
        if (seq === count - 1) arrivedAt = t.now();
      });
      const start = t.now();
      for (let seq = 0; seq < count; seq++) {
        check(t.a.send(t.b.self, { t: 'burst', seq, data: pattern(size, seq) }), `send ${seq} of the burst returned false`);
      }
      const queuedAt = t.now();
      const whole = await t.until(() => last === count - 1 || disorder !== '', BURST_MS);
      check(disorder === '', disorder);
      check(whole, `${last + 1} of ${count} messages arrived within ${BURST_MS} ms`);
      const ms = arrivedAt - start;
      const mib = (count * size) / (1 << 20);
      note?.(`${count} x ${size / 1024} KiB: ${ms.toFixed(0)} ms (send() calls took ${(queuedAt - start).toFixed(0)} ms), ${(mib / (ms / 1000)).toFixed(1)} MiB/s`);
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Runs a case's body on fresh links, each watched (and `prepare`d) from the moment it opens, and
 * closes them however the body ends. The body finds each link's watch with `watchOf`.
 */
async function withLinks(
  make: MakeLinks,
  body: (t: LinksUnderTest, watchOf: (link: Link) => Watch) => Promise<void>,
  prepare?: (link: Link) => void,
): Promise<void> {
  const watches = new Map<Link, Watch>();
  const t = await make((link) => {
    watches.set(link, watch(link));
    prepare?.(link);
  });
  const watchOf = (link: Link) => {
    const found = watches.get(link);
    check(found !== undefined, `the harness never passed ${link.self} to opened()`);
    return found;
  };
  try {
    await body(t, watchOf);
  } finally {
    await t.close();
  }
}

function nodes(t: LinksUnderTest): Link[] {
  return t.c ? [t.a, t.b, t.c] : [t.a, t.b];
}

interface Watch {
  readonly link: Link;
  readonly events: Array<{ peer: NodeId; up: boolean }>;
  readonly messages: Array<{ from: NodeId; message: unknown }>;
  saw(peer: NodeId, up: boolean): boolean;
  from(peer: NodeId): unknown[];
}

/** Records what a link reports, from now on. */
function watch(link: Link): Watch {
  const events: Watch['events'] = [];
  const messages: Watch['messages'] = [];
  link.onPeer((peer, up) => events.push({ peer, up }));
  link.onMessage((from, message) => messages.push({ from, message }));
  return {
    link,
    events,
    messages,
    saw: (peer, up) => events.some((e) => e.peer === peer && e.up === up),
    from: (peer) => messages.filter((m) => m.from === peer).map((m) => m.message),
  };
}

/** Waits until every watched link heard every other one come up. */
async function connected(t: LinksUnderTest, watches: readonly Watch[]): Promise<void> {
  const missing = () => watches.flatMap((w) => watches.filter((o) => o !== w && !w.saw(o.link.self, true)).map((o) => `${w.link.self} -> ${o.link.self}`));
  check(await t.until(() => missing().length === 0, CONNECT_MS), `never reported up: ${missing().join(', ')}`);
}

/** One message each way between two connected links, checked on arrival. */
async function exchange(t: LinksUnderTest, x: Watch, y: Watch, message: unknown): Promise<void> {
  const before = [x.from(y.link.self).length, y.from(x.link.self).length] as const;
  check(x.link.send(y.link.self, message) && y.link.send(x.link.self, message), `${x.link.self} and ${y.link.self} could not send`);
  const arrived = await t.until(() => x.from(y.link.self).length > before[0] && y.from(x.link.self).length > before[1], CONNECT_MS);
  check(arrived, `${x.link.self} and ${y.link.self} did not hear each other`);
  checkSame(y.from(x.link.self).slice(before[1]), [message], `${x.link.self} to ${y.link.self}`);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/** Bytes that tell where they belong: byte i of message `seed` is (i * 31 + seed * 7) mod 256. */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

function samePattern(bytes: Uint8Array, length: number, seed: number): boolean {
  if (bytes.length !== length) return false;
  for (let i = 0; i < length; i++) if (bytes[i] !== ((i * 31 + seed * 7) & 0xff)) return false;
  return true;
}

function checkSame(got: unknown[], want: unknown[], what: string): void {
  check(got.length === want.length, `${what}: ${got.length} messages arrived, not ${want.length}`);
  want.forEach((message, i) => check(same(got[i], message), `${what}: message ${i} arrived as ${show(got[i])}, not ${show(message)}`));
}

/** Deep equality over what links carry: -0 is not 0, NaN is NaN, bytes compare by content. */
function same(x: unknown, y: unknown): boolean {
  if (Object.is(x, y)) return true;
  if (x instanceof Uint8Array || y instanceof Uint8Array) {
    return x instanceof Uint8Array && y instanceof Uint8Array && x.length === y.length && x.every((byte, i) => byte === y[i]);
  }
  if (Array.isArray(x) || Array.isArray(y)) {
    return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((item, i) => same(item, y[i]));
  }
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  const [xs, ys] = [Object.keys(x).sort(), Object.keys(y).sort()];
  return same(xs, ys) && xs.every((key) => same((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key]));
}

function show(value: unknown): string {
  const text = JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v === undefined ? '<undefined>' : v));
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
