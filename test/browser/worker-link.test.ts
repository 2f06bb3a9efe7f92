// A node in a dedicated worker as a full member of the cluster, in real Chromium: its link
// (BridgedLink, worker-node.ts) reaches the cluster through a WebRtcLink the page opens as the
// worker's node (WorkerBridge, worker-bridge.ts).
//
// This file is also the worker's script: loaded in a dedicated worker (no `window`), it runs the
// worker's side of each test on command from the page (`worker()` below), so that both sides are
// type-checked together. The Link contract runs inside the worker, on three bridged links; then
// in the page, a bridged link among plain WebRtcLinks; then a worker's link talks to a tab's
// link (messages, urgent messages behind bursts both ways, the handshake, the worker's death and
// the page closing the bridge), and a whole worker node mirrors with a node in the page.
import { expect } from 'chai';
import { startBrowserNode, type BrowserNode } from '../../src/browser/start-node.js';
import { WebRtcLink } from '../../src/browser/webrtc-link.js';
import { hostWorkerNode, WorkerBridge } from '../../src/browser/worker-bridge.js';
import { BridgedLink, isBridgeRequest, startWorkerNode, type WorkerNode } from '../../src/browser/worker-node.js';
import { linkContract, type LinksUnderTest, type MakeLinks } from '../../src/core/link-contract.js';
import type { Link } from '../../src/core/ports.js';
import { sleep, uniqueCluster, until } from './wait.js';

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Polls an asynchronous probe until it gives something truthy or `ms` pass; undefined then. */
async function eventually<T>(probe: () => Promise<T>, ms: number): Promise<T | undefined> {
  const end = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > end) return undefined;
    await sleep(50);
  }
}

/** The 8 MiB burst of the links tests: 128 messages of 64 KiB, each filled with its seq. */
const BURST_COUNT = 128;
const BURST_BYTES = 64 * 1024;

/** Commands the page gives the worker, and what the worker says back. */
type Command =
  | { cmd: 'contract'; id: number; name: string; secret?: string }
  | { cmd: 'peer'; id: number; cluster: string; self: string; secret?: string }
  | { cmd: 'close-peer'; id: number }
  | { cmd: 'node'; id: number; cluster: string; volumes: number[] }
  | { cmd: 'node-status'; id: number }
  | { cmd: 'node-write'; id: number; volume: number; path: string; text: string }
  | { cmd: 'node-close'; id: number };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Reply = { id: number; ok: true; value?: unknown; notes?: string[] } | { id: number; ok: false; error: string };

/** What the worker tells the page about its peer link (the `peer` command) as it happens. */
interface PeerEvent {
  event: 'peer';
  peer: string;
  up: boolean;
}

/** Loaded as a worker: no window. */
const inWorker = typeof window === 'undefined';

// ---------------------------------------------------------------------------------------------
// The worker's side

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
}

function worker(): void {
  const scope = globalThis as unknown as WorkerScope;
  let peerLink: BridgedLink | undefined;
  let node: WorkerNode | undefined;

  /** The bridged links of one contract case, a, b and c, all in this worker. */
  const bridgedLinks = (secret?: string): MakeLinks => async (opened) => {
    const cluster = uniqueCluster('worker-contract');
    const open = async (self: string) => {
      const link = await BridgedLink.open({ cluster, self, secret });
      opened(link); // before anything else is awaited: the case sees every event
      return link;
    };
    const [a, b, c] = [await open('a'), await open('b'), await open('c')];
    return {
      a, b, c, until,
      now: () => performance.now(),
      stop: async (link: Link) => (link as BridgedLink).close(),
      close: async () => {
        for (const link of [a, b, c]) link.close();
      },
    } satisfies LinksUnderTest;
  };

  /**
   * A link that echoes what it is sent, answers a burst request with a burst and an urgent ping
   * right behind it, records the order bursts and pings arrive in, and reports its peers.
   */
  const openPeer = async (cluster: string, self: string, secret?: string): Promise<void> => {
    const link = await BridgedLink.open({ cluster, self, secret });
    peerLink = link;
    const arrivals: string[] = [];
    link.onPeer((peer, up) => {
      scope.postMessage({ event: 'peer', peer, up } satisfies PeerEvent);
      if (up) link.send(peer, { t: 'hello', from: self });
    });
    link.onMessage((from, message) => {
      const m = (typeof message === 'object' && message !== null ? message : {}) as { t?: string; seq?: number; n?: number; data?: Uint8Array };
      if (m.t === 'burst' || m.t === 'ping') {
        const intact = m.t === 'ping' || (m.data?.length === BURST_BYTES && m.data.every((byte) => byte === (m.seq! & 0xff)));
        arrivals.push(`${m.t} ${m.t === 'burst' ? m.seq : m.n}${intact ? '' : ' damaged'}`);
      } else if (m.t === 'arrivals?') {
        link.send(from, { t: 'arrivals', arrivals: arrivals.splice(0) });
      } else if (m.t === 'burst please') {
        for (let seq = 0; seq < BURST_COUNT; seq++) link.send(from, { t: 'burst', seq, data: new Uint8Array(BURST_BYTES).fill(seq & 0xff) });
        link.send(from, { t: 'ping', n: 0 }, true);
      } else {
        link.send(from, { echo: message });
      }
    });
  };

  const run = async (command: Command): Promise<{ value?: unknown; notes?: string[] }> => {
    switch (command.cmd) {
      case 'contract': {
        const found = linkContract().find((c) => c.name === command.name);
        if (!found) throw new Error(`no contract case ${command.name}`);
        const notes: string[] = [];
        await found.run(bridgedLinks(command.secret), (text) => notes.push(text));
        return { notes };
      }
      case 'peer':
        await openPeer(command.cluster, command.self, command.secret);
        return {};
      case 'close-peer':
        peerLink?.close();
        return {};
      case 'node':
        node = await startWorkerNode({ cluster: command.cluster, volumes: command.volumes, heartbeatMs: 100 });
        return { value: { id: node.node.id, access: node.medium.access } };
      case 'node-status':
        return { value: node!.node.status() };
      case 'node-write': {
        const data = new TextEncoder().encode(command.text);
        return { value: await node!.node.submit(command.volume, { type: 'write', path: command.path, offset: 0, data }) };
      }
      case 'node-close':
        await node?.close();
        return {};
    }
  };

  scope.addEventListener('message', ({ data }) => {
    const command = data as Command;
    if (typeof command !== 'object' || command === null || typeof command.cmd !== 'string') return; // a bridge answer
    run(command).then(
      (result) => scope.postMessage({ id: command.id, ok: true, ...result } satisfies Reply),
      (error: unknown) => scope.postMessage({ id: command.id, ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) } satisfies Reply),
    );
  });
  scope.postMessage({ event: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// The page's side

/** A dedicated worker running this file, and what it reports. */
class TestWorker {
  readonly worker: Worker;
  readonly peerEvents: string[] = [];
  readonly #replies = new Map<number, (reply: Reply) => void>();
  #next = 0;
  readonly ready: Promise<void>;

  constructor() {
    this.worker = new Worker(new URL(import.meta.url), { type: 'module' });
    let ready: () => void = () => {};
    this.ready = new Promise((resolve) => (ready = resolve));
    this.worker.addEventListener('message', ({ data }: MessageEvent<unknown>) => {
      const m = data as { event?: string; peer?: string; up?: boolean; id?: unknown };
      if (m.event === 'ready') ready();
      else if (m.event === 'peer') this.peerEvents.push(`${m.peer} ${m.up ? 'up' : 'down'}`);
      else if (typeof m.id === 'number') this.#replies.get(m.id)?.(m as Reply);
    });
    this.worker.addEventListener('error', (event) => console.error(`worker error: ${event.message}`));
  }

  /** Runs a command in the worker; resolves to its result, rejects with its error. */
  async call(command: DistributiveOmit<Command, 'id'>): Promise<{ value?: unknown; notes?: string[] }> {
    await this.ready;
    const id = this.#next++;
    const reply = await new Promise<Reply>((resolve) => {
      this.#replies.set(id, resolve);
      this.worker.postMessage({ ...command, id });
    });
    this.#replies.delete(id);
    if (!reply.ok) throw new Error(`in the worker: ${reply.error}`);
    return reply;
  }

  terminate(): void {
    this.worker.terminate();
  }

  close(): void {
    this.terminate();
  }
}

/** Things to close after each test, whatever happened in it. */
const opened: Array<{ close(): unknown }> = [];

function keep<T extends { close(): unknown }>(thing: T): T {
  opened.push(thing);
  return thing;
}

function page(): void {
  afterEach(async () => {
    for (const thing of opened.splice(0).reverse()) await thing.close();
  });

  // The Link contract on bridged links that live in a real worker: the contract runs there.
  for (const [variant, secret] of [['BridgedLink in a worker', undefined], ['BridgedLink in a worker, with a secret', 'contract secret']] as const) {
    describe(`link contract: ${variant}`, () => {
      let host: TestWorker;
      let bridge: WorkerBridge;
      before(() => {
        host = new TestWorker();
        bridge = hostWorkerNode(host.worker);
      });
      after(() => {
        bridge.close();
        host.terminate();
      });
      for (const contractCase of linkContract()) {
        it(contractCase.name, async () => {
          const { notes } = await host.call({ cmd: 'contract', name: contractCase.name, secret });
          for (const note of notes ?? []) console.log(`${variant}: ${note}`);
        });
      }
    });
  }

  // A bridged link among plain WebRtcLinks, in this page (its port from WorkerBridge.connect):
  // a worker node and tab nodes are one cluster.
  describe('link contract: a BridgedLink among WebRtcLinks', () => {
    const make: MakeLinks = async (opened) => {
      const cluster = uniqueCluster('mixed-contract');
      const bridge = new WorkerBridge();
      const announce = <T extends Link>(link: T) => (opened(link), link);
      const a = announce(await BridgedLink.open({ cluster, self: 'a', secret: 's', port: bridge.connect() }));
      const b = announce(await WebRtcLink.open({ cluster, self: 'b', secret: 's' }));
      const c = announce(await BridgedLink.open({ cluster, self: 'c', secret: 's', port: bridge.connect() }));
      return {
        a, b, c, until,
        now: () => performance.now(),
        stop: async (link: Link) => (link as BridgedLink | WebRtcLink).close(),
        close: async () => {
          for (const link of [a, b, c]) link.close();
          bridge.close();
        },
      };
    };
    for (const contractCase of linkContract()) {
      it(contractCase.name, () => contractCase.run(make, (text) => console.log(`BridgedLink among WebRtcLinks: ${text}`)));
    }
  });

  describe('a worker node and a tab node', () => {
    /** A tab's link `p` (with `secret`), and a worker whose link `w` (secret 'right') is open, hosted by this page. */
    async function pair(secret = 'right') {
      const cluster = uniqueCluster('pair');
      const tab = keep(await WebRtcLink.open({ cluster, self: 'p', secret }));
      const got: Array<{ message: unknown; at: number }> = [];
      tab.onMessage((from, message) => void (from === 'w' && got.push({ message, at: performance.now() })));
      const heard: string[] = [];
      tab.onPeer((peer, up) => heard.push(`${peer} ${up ? 'up' : 'down'}`));
      const host = keep(new TestWorker());
      // The worker asks before the page hosts it: its request is repeated until answered.
      const asked = new Promise<void>((resolve) => host.worker.addEventListener('message', ({ data }) => void (isBridgeRequest(data) && resolve())));
      const opening = host.call({ cmd: 'peer', cluster, self: 'w', secret: 'right' });
      await asked;
      const bridge = keep(hostWorkerNode(host.worker));
      await opening;
      return { cluster, tab, got, heard, host, bridge };
    }

    it('exchange messages both ways, in order and intact; urgent messages overtake an 8 MiB burst both ways', async function () {
      this.timeout(300_000);
      const { tab, got, heard, host } = await pair();
      expect(await until(() => tab.peers().includes('w') && host.peerEvents.includes('p up'), 15_000), 'p and w came up').to.equal(true);
      expect(await until(() => got.length === 1, 5_000)).to.equal(true);
      expect(got[0]!.message).to.deep.equal({ t: 'hello', from: 'w' });

      // Both ways, every kind of value, in order (w echoes).
      const sent = [
        { t: 'mirror', volume: 1, epoch: 2, session: 3, lsns: [4, 5], frames: [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300_000).fill(9)] },
        { numbers: [0, -0, -1, 2 ** 53 - 1, 0.1, Number.NaN, Number.POSITIVE_INFINITY], odd: [null, undefined, true, ''] },
        'a bare string', 42, null, [],
        JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown,
      ];
      for (const message of sent) expect(tab.send('w', message)).to.equal(true);
      expect(await until(() => got.length === 1 + sent.length, 15_000), `${got.length - 1} of ${sent.length} echoes`).to.equal(true);
      expect(got.slice(1).map((g) => g.message)).to.deep.equal(sent.map((message) => ({ echo: message })));
      const proto = (got.at(-1)!.message as { echo: object }).echo;
      expect(Object.getPrototypeOf(proto)).to.equal(Object.prototype);
      expect(Object.keys(proto)).to.deep.equal(['__proto__', 'a']);

      // From the worker: an urgent ping right behind its 8 MiB burst arrives before the burst's end.
      got.length = 0;
      expect(tab.send('w', { t: 'burst please' })).to.equal(true);
      expect(await until(() => got.length === BURST_COUNT + 1, 120_000), `${got.length} of ${BURST_COUNT + 1} arrived`).to.equal(true);
      const order = got.map(({ message }) => message as { t: string; seq?: number; data?: Uint8Array });
      const ping = order.findIndex((m) => m.t === 'ping');
      const bursts = order.filter((m) => m.t === 'burst');
      expect(bursts.map((m) => m.seq)).to.deep.equal([...Array(BURST_COUNT).keys()]);
      expect(bursts.every((m) => m.data!.length === BURST_BYTES && m.data!.every((byte) => byte === (m.seq! & 0xff))), 'the burst arrived intact').to.equal(true);
      console.log(`worker -> tab: the urgent ping arrived after ${ping} of the burst's ${BURST_COUNT} messages`);
      expect(ping, 'the urgent ping overtook the end of the burst').to.be.below(BURST_COUNT);

      // To the worker: an urgent ping sent behind an 8 MiB burst reaches the worker before its end.
      for (let seq = 0; seq < BURST_COUNT; seq++) {
        expect(tab.send('w', { t: 'burst', seq, data: new Uint8Array(BURST_BYTES).fill(seq & 0xff) })).to.equal(true);
      }
      expect(tab.send('w', { t: 'ping', n: 0 }, true)).to.equal(true);
      // Asked on the data channel, the question comes behind the whole burst.
      const arrivals: string[] = [];
      const deadline = performance.now() + 120_000;
      while (arrivals.length < BURST_COUNT + 1 && performance.now() < deadline) {
        got.length = 0;
        tab.send('w', { t: 'arrivals?' });
        if (!(await until(() => got.length > 0, 120_000))) break;
        arrivals.push(...(got[0]!.message as { arrivals: string[] }).arrivals);
      }
      expect(arrivals.length, `${arrivals.length} of ${BURST_COUNT + 1} reached the worker`).to.equal(BURST_COUNT + 1);
      expect(arrivals).to.include('ping 0');
      expect(arrivals.filter((a) => a.startsWith('burst'))).to.deep.equal([...Array(BURST_COUNT).keys()].map((seq) => `burst ${seq}`));
      console.log(`tab -> worker: the urgent ping arrived after ${arrivals.indexOf('ping 0')} of the burst's ${BURST_COUNT} messages`);
      expect(arrivals.indexOf('ping 0'), 'the urgent ping overtook the end of the burst').to.be.below(BURST_COUNT);

      // The worker dies: its lock goes with it, the page closes the link, and p hears bye.
      const killedAt = performance.now();
      host.terminate();
      expect(await until(() => heard.includes('w down'), 5_000), 'p heard the dead worker node go').to.equal(true);
      console.log(`the worker's node was reported down ${(performance.now() - killedAt).toFixed(0)} ms after the worker was terminated`);
      expect(tab.peers()).to.deep.equal([]);
      expect(tab.send('w', { t: 'late' })).to.equal(false);
    });

    it('a worker node with the wrong secret never comes up; a closed bridge cuts the worker node off both ways', async () => {
      const { cluster, tab, heard, host, bridge } = await pair('other secret');
      // w (secret 'right') and p (secret 'other secret'): refused on both sides, w's by the link the page runs for it.
      const forW = bridge.links();
      expect(forW.map((link) => link.self)).to.deep.equal(['w']);
      expect(await until(() => tab.stats().dropped.unauthenticated > 0 && forW[0]!.stats().dropped.unauthenticated > 0, 10_000), 'p and w refused each other').to.equal(true);
      await sleep(300);
      expect(tab.peers()).to.deep.equal([]);
      expect(host.peerEvents).to.deep.equal([]);

      // A tab with the right secret: up with w. Then the bridge closes: each hears the other go.
      const right = keep(await WebRtcLink.open({ cluster, self: 'q', secret: 'right' }));
      const rightHeard: string[] = [];
      right.onPeer((peer, up) => rightHeard.push(`${peer} ${up ? 'up' : 'down'}`));
      expect(await until(() => rightHeard.includes('w up') && host.peerEvents.includes('q up'), 15_000), 'q and w came up').to.equal(true);
      bridge.close();
      expect(await until(() => rightHeard.includes('w down') && host.peerEvents.includes('q down'), 5_000), 'both heard the other go').to.equal(true);
      expect(heard).to.deep.equal([]);
    });
  });

  describe('a whole node in a worker', () => {
    it('mirrors with a node in the page: an op from the page is acked through the worker node, or the other way round', async function () {
      this.timeout(120_000);
      const cluster = `worker-node-${Date.now().toString(36)}`;
      const host = keep(new TestWorker());
      keep(hostWorkerNode(host.worker, { cluster }));
      const { id: workerId, access } = (await host.call({ cmd: 'node', cluster, volumes: [0] })).value as { id: string; access: string };
      // The worker started the medium's own worker, nested, where sync access handles exist.
      expect(access).to.equal('sync');
      const tab: BrowserNode = await startBrowserNode({ cluster, volumes: [0], heartbeatMs: 100 });
      keep({ close: () => tab.close() });
      keep({ close: () => host.call({ cmd: 'node-close' }) });
      // Settled: one of them owns volume 0, mirrored by the other.
      const owner = async () => {
        const inTab = tab.node.status().owns.find((v) => v.volume === 0);
        if (inTab) return inTab.degraded ? undefined : { id: tab.node.id, partner: inTab.partner };
        const status = (await host.call({ cmd: 'node-status' })).value as ReturnType<BrowserNode['node']['status']>;
        const inWorker = status.owns.find((v) => v.volume === 0);
        return inWorker && !inWorker.degraded ? { id: workerId, partner: inWorker.partner } : undefined;
      };
      const settled = await eventually(owner, 30_000);
      expect(settled, 'volume 0 owned and mirrored').to.not.equal(undefined);
      expect(settled!.partner).to.equal(settled!.id === workerId ? tab.node.id : workerId);
      const lsn = await tab.node.submit(0, { type: 'write', path: '/from-tab', offset: 0, data: new TextEncoder().encode('tab') });
      const lsn2 = (await host.call({ cmd: 'node-write', volume: 0, path: '/from-worker', text: 'worker' })).value as number;
      expect(lsn2).to.be.above(lsn);
      for (const [path, text] of [['/from-tab', 'tab'], ['/from-worker', 'worker']] as const) {
        const read = async () => new TextDecoder().decode((await tab.medium.read(0, path, 0, 1 << 20)) ?? new Uint8Array());
        expect(await eventually(async () => (await read().catch(() => '')) === text, 15_000), `${path} in the medium`).to.equal(true);
      }
    });
  });
}

if (inWorker) worker();
else page();
