// `npm run bench -- write`: two tabs, on-disk profile. Raw platform costs measured side by side
// with tandemfs: mirrored and degraded ack latency, sustained mirrored throughput, takeover time
// and replay rate after the owner tab crashes. Tab 0 measures; tab 1 is its peer (see run.mjs).
// The 4 KiB latencies are taken in interleaved rounds (a raw put, a raw round trip, a raw
// mirrored write, a tandemfs write, ...), and so are the throughputs (8 MiB of each in turn), so
// that a slow moment of this noisy machine falls on all of them alike.
import { startBrowserNode, type BrowserNode } from '../src/browser/start-node.js';
import type { NodeEvent } from '../src/core/node.js';
import type { BenchResult } from './harness.js';
import { median } from './harness.js';

const control = new BroadcastChannel('tandemfs-bench');
const tab = Number(new URLSearchParams(location.search).get('tab') ?? 0);
const KiB = 1024;
const MiB = 1024 * 1024;

type Command = { cmd: 'join'; cluster: string } | { cmd: 'stall' } | { cmd: 'joined'; id: string };

/** A database with one object store, `kv`, for the raw measurements. */
function openRawDb(tag: string): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open(`bench-raw-${tag}-${Date.now()}`, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

/** Puts the values under keys from `key` on, in one relaxed transaction; resolves on commit. */
function rawPut(db: IDBDatabase, values: Uint8Array[], key: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const tx = db.transaction('kv', 'readwrite', { durability: 'relaxed' });
    values.forEach((value, i) => tx.objectStore('kv').put(value, key + i));
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const noise = (n: number) => {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
};

// ---------------------------------------------------------------------------------------------
// Tab 1: the peer. It joins clusters when told, echoes link pings, and can stall its medium.

async function peer(): Promise<void> {
  let node: BrowserNode | undefined;
  control.onmessage = async (event: MessageEvent<Command>) => {
    const message = event.data;
    if (message.cmd === 'join') {
      node = await startBrowserNode({ cluster: message.cluster, volumes: [1] });
      const db = await openRawDb('peer');
      node.link.onMessage((from, raw) => {
        const m = raw as { t?: string; id?: number; data?: Uint8Array; count?: number };
        if (m.t === 'bench-ping') node!.link.send(from, { t: 'bench-pong', id: m.id, data: m.data });
        if (m.t === 'bench-mirror') void rawPut(db, [m.data!], m.id!).then(() => node!.link.send(from, { t: 'bench-pong', id: m.id }));
        if (m.t === 'bench-bulk' && m.id === m.count! - 1) node!.link.send(from, { t: 'bench-bulk-done' });
      });
      control.postMessage({ cmd: 'joined', id: node.node.id } satisfies Command);
    } else if (message.cmd === 'stall') {
      await node?.medium.failNext(1_000_000_000, 'quota');
    }
  };
}

function tell(command: Command): Promise<string> {
  return new Promise((resolve) => {
    if (command.cmd !== 'join') {
      control.postMessage(command);
      resolve('');
      return;
    }
    const listener = (event: MessageEvent<Command>) => {
      if (event.data.cmd === 'joined') {
        control.removeEventListener('message', listener);
        resolve(event.data.id);
      }
    };
    control.addEventListener('message', listener);
    control.postMessage(command);
  });
}

async function until(probe: () => boolean, ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error('bench: condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const mirrored = (node: BrowserNode) => node.node.status().owns.some((v) => v.volume === 1 && !v.degraded);

// ---------------------------------------------------------------------------------------------
// Raw platform costs

/** IndexedDB throughput with 60 KiB values, 8 to a transaction, many transactions in flight. */
async function rawIndexedDbThroughput(db: IDBDatabase, total: number): Promise<number> {
  const big = noise(60 * KiB);
  const start = performance.now();
  const batches: Promise<void>[] = [];
  for (let i = 0; i < total / (60 * KiB); i += 8) batches.push(rawPut(db, Array(8).fill(big), 1_000_000 + i));
  await Promise.all(batches);
  const seconds = (performance.now() - start) / 1000;
  return (batches.length * 8 * 60 * KiB) / MiB / seconds;
}

async function rawOpfsWritable(): Promise<number> {
  const root = await navigator.storage.getDirectory();
  const file = await root.getFileHandle(`bench-writable-${Date.now()}`, { create: true });
  const data = noise(4 * KiB);
  const times: number[] = [];
  for (let i = 0; i < 100; i++) {
    const start = performance.now();
    const writable = await file.createWritable({ keepExistingData: true });
    await writable.write({ type: 'write', position: i * 4 * KiB, data });
    await writable.close();
    times.push(performance.now() - start);
  }
  await root.removeEntry(file.name);
  return median(times.slice(10));
}

async function rawSyncAccessHandle(): Promise<number> {
  const worker = new Worker(new URL('./sync-handle-worker.js', import.meta.url), { type: 'module' });
  const result = await new Promise<number>((resolve) => {
    worker.onmessage = (event: MessageEvent<number>) => resolve(event.data);
    worker.postMessage('go');
  });
  worker.terminate();
  return result;
}

/** Messages to the peer that resolve on its answer (bench-pong), and one-way bulk throughput. */
class RawLink {
  readonly #node: BrowserNode;
  readonly #peer: string;
  readonly #pending = new Map<number, () => void>();
  #bulkDone?: () => void;
  #id = 0;

  constructor(node: BrowserNode, peer: string) {
    this.#node = node;
    this.#peer = peer;
    node.link.onMessage((_from, raw) => {
      const m = raw as { t?: string; id?: number };
      if (m.t === 'bench-pong') this.#pending.get(m.id!)?.();
      if (m.t === 'bench-bulk-done') this.#bulkDone?.();
    });
  }

  /** A round trip: `t` is 'bench-ping' (echoed) or 'bench-mirror' (put there, then answered). */
  ask(t: 'bench-ping' | 'bench-mirror', data: Uint8Array): Promise<void> {
    const id = ++this.#id;
    return new Promise<void>((resolve) => {
      this.#pending.set(id, () => {
        this.#pending.delete(id);
        resolve();
      });
      this.#node.link.send(this.#peer, { t, id, data });
    });
  }

  async oneWayMiBps(total: number): Promise<number> {
    const big = noise(64 * KiB);
    const count = total / big.length;
    const start = performance.now();
    const done = new Promise<void>((resolve) => (this.#bulkDone = resolve));
    for (let id = 0; id < count; id++) this.#node.link.send(this.#peer, { t: 'bench-bulk', id, count, data: big });
    await done;
    return (count * 64 * KiB) / MiB / ((performance.now() - start) / 1000);
  }
}

interface Latencies {
  idbPut: number[];
  linkRtt: number[];
  /** The raw mirrored write: a put here beside a message, a put there, and the answer. */
  rawMirrored: number[];
  ack: number[];
}

/** The 4 KiB latencies, interleaved: `rounds` rounds of 30 of each, the first 5 of each dropped. */
async function latencies(node: BrowserNode, db: IDBDatabase, link: RawLink, rounds: number): Promise<Latencies> {
  const data = noise(4 * KiB);
  let key = 0;
  let write = 0;
  const kinds: Record<keyof Latencies, () => Promise<unknown>> = {
    idbPut: () => rawPut(db, [data], key++),
    linkRtt: () => link.ask('bench-ping', data),
    rawMirrored: () => Promise.all([rawPut(db, [data], key++), link.ask('bench-mirror', data)]),
    ack: () => node.node.submit(1, { type: 'write', path: `/lat/${write++ % 16}`, offset: 0, data, mtimeMs: 0 }),
  };
  const out: Latencies = { idbPut: [], linkRtt: [], rawMirrored: [], ack: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [kind, run] of Object.entries(kinds) as Array<[keyof Latencies, () => Promise<unknown>]>) {
      for (let i = 0; i < 30; i++) {
        const start = performance.now();
        await run();
        if (i >= 5) out[kind].push(performance.now() - start);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tandemfs

async function degradedLatencies(node: BrowserNode, count: number): Promise<number[]> {
  const data = noise(4 * KiB);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await node.node.submit(1, { type: 'write', path: `/lat/${i % 16}`, offset: 0, data, mtimeMs: 0 });
    times.push(performance.now() - start);
  }
  return times.slice(20);
}

/** Mirrored 64 KiB writes with `inFlight` writers; `first` numbers the first write (its place). */
async function throughput(node: BrowserNode, first: number, totalBytes: number, inFlight: number): Promise<number> {
  const data = noise(64 * KiB);
  const end = first + totalBytes / data.length;
  let next = first;
  const start = performance.now();
  const worker = async () => {
    while (next < end) {
      const i = next++;
      await node.node.submit(1, { type: 'write', path: `/bulk/${i % 64}`, offset: Math.floor(i / 64) * data.length, data, mtimeMs: 0 });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return totalBytes / MiB / ((performance.now() - start) / 1000);
}

interface Throughputs {
  idb: number[];
  link: number[];
  mirrored: number[];
}

/** Raw IndexedDB, raw link and tandemfs throughput in MiB/s, interleaved: `rounds` of 8 MiB each. */
async function throughputs(node: BrowserNode, db: IDBDatabase, link: RawLink, rounds: number): Promise<Throughputs> {
  const out: Throughputs = { idb: [], link: [], mirrored: [] };
  const chunk = 8 * MiB;
  for (let round = 0; round < rounds; round++) {
    out.idb.push(await rawIndexedDbThroughput(db, chunk));
    out.link.push(await link.oneWayMiBps(chunk));
    out.mirrored.push(await throughput(node, round * (chunk / (64 * KiB)), chunk, 32));
  }
  return out;
}

async function takeover(): Promise<{ takeoverMs: number; replayMs: number; replayMiBps: number; replayedOps: number }> {
  const cluster = `bench-t-${Date.now()}`;
  await tell({ cmd: 'join', cluster }); // the peer joins first: it owns the volume
  const node = await startBrowserNode({ cluster, volumes: [1] });
  const events: Array<NodeEvent & { at: number }> = [];
  node.node.onEvent((event) => events.push({ ...event, at: performance.now() }));
  await until(() => node.node.status().mirrors.length > 0);
  await tell({ cmd: 'stall' }); // the owner keeps every record unflushed: all of them must be replayed
  await new Promise((resolve) => setTimeout(resolve, 100));
  const data = noise(64 * KiB);
  const count = 160; // 10 MiB to replay
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++;
      await node.node.submit(1, { type: 'write', path: `/t/${i % 32}`, offset: Math.floor(i / 32) * data.length, data, mtimeMs: 0 });
    }
  }));
  console.log('bench:crash-peer');
  const state = globalThis as unknown as { peerCrashedAt?: number };
  await until(() => state.peerCrashedAt !== undefined, 10_000);
  const crashed = state.peerCrashedAt!;
  await node.node.submit(1, { type: 'write', path: '/t/after', offset: 0, data: data.subarray(0, 4096), mtimeMs: 0 });
  const firstAck = performance.now();
  const started = events.find((e) => e.type === 'takeover-started')!;
  const finished = events.find((e) => e.type === 'takeover-finished')! as NodeEvent & { at: number; replayed: number };
  const replayMs = finished.at - started.at;
  await node.close().catch(() => {});
  return {
    takeoverMs: firstAck - crashed,
    replayMs,
    replayMiBps: (count * 64 * KiB) / MiB / (replayMs / 1000),
    replayedOps: finished.replayed,
  };
}

async function main(): Promise<BenchResult> {
  const db = await openRawDb('owner');
  const writableMs = await rawOpfsWritable();
  const syncHandleMs = await rawSyncAccessHandle();

  const cluster = `bench-m-${Date.now()}`;
  const node = await startBrowserNode({ cluster, volumes: [1] });
  await until(() => node.node.status().owns.length === 1);
  const peerId = await tell({ cmd: 'join', cluster });
  await until(() => mirrored(node));
  const link = new RawLink(node, peerId);
  const lat = await latencies(node, db, link, 12);
  const rates = await throughputs(node, db, link, 4);
  const [idbMiBps, linkMiBps, mirroredMiBps] = [median(rates.idb), median(rates.link), median(rates.mirrored)];

  const alone = await startBrowserNode({ cluster: `bench-d-${Date.now()}`, volumes: [1] });
  await until(() => alone.node.status().owns.length === 1);
  const degradedTimes = await degradedLatencies(alone, 300);
  await alone.close();
  await node.close();

  const t = await takeover();

  const ackP50 = median(lat.ack);
  const rawSum = median(lat.idbPut) + median(lat.linkRtt);
  const slowerRaw = Math.min(idbMiBps, linkMiBps);
  const figures = {
    raw_idb_put_4k_p50_ms: round(median(lat.idbPut)),
    raw_idb_60k_mibps: round(idbMiBps, 1),
    raw_link_rtt_4k_p50_ms: round(median(lat.linkRtt)),
    raw_link_64k_mibps: round(linkMiBps, 1),
    raw_mirrored_write_4k_p50_ms: round(median(lat.rawMirrored)),
    raw_opfs_writable_4k_p50_ms: round(writableMs),
    raw_sync_handle_4k_flush_p50_ms: round(syncHandleMs),
    mirrored_ack_4k_p50_ms: round(ackP50),
    mirrored_ack_4k_p99_ms: round(quantile(lat.ack, 0.99)),
    degraded_ack_4k_p50_ms: round(median(degradedTimes)),
    degraded_ack_4k_p99_ms: round(quantile(degradedTimes, 0.99)),
    mirrored_64k_mibps: round(mirroredMiBps, 1),
    takeover_ms: round(t.takeoverMs, 1),
    replay_ms: round(t.replayMs, 1),
    replay_mibps: round(t.replayMiBps, 1),
    ack_over_raw_sum: round(ackP50 / rawSum, 2),
    ack_over_raw_mirrored_write: round(ackP50 / median(lat.rawMirrored), 2),
    ack_over_writable: round(ackP50 / writableMs, 2),
    // The median of the rounds' own ratios: each round's three runs met the same moment.
    throughput_over_slower_raw: round(median(rates.mirrored.map((rate, i) => rate / Math.min(rates.idb[i]!, rates.link[i]!))), 2),
    takeover_minus_replay_ms: round(t.takeoverMs - t.replayMs, 1),
  };
  return {
    title: 'write — two tabs, on-disk profile (ms are medians unless p99)',
    columns: ['measure', 'value', 'target'],
    rows: [
      ['raw IndexedDB put 4 KiB (ms)', figures.raw_idb_put_4k_p50_ms, ''],
      ['raw IndexedDB 60 KiB values (MiB/s)', figures.raw_idb_60k_mibps, ''],
      ['raw link round trip 4 KiB (ms)', figures.raw_link_rtt_4k_p50_ms, ''],
      ['raw link one-way 64 KiB (MiB/s)', figures.raw_link_64k_mibps, ''],
      ['raw mirrored write 4 KiB: put here, and put there + answer (ms)', figures.raw_mirrored_write_4k_p50_ms, ''],
      ['raw OPFS createWritable write 4 KiB + close (ms)', figures.raw_opfs_writable_4k_p50_ms, ''],
      ['raw sync access handle write 4 KiB + flush (ms)', figures.raw_sync_handle_4k_flush_p50_ms, ''],
      ['tandemfs mirrored ack 4 KiB p50 (ms)', figures.mirrored_ack_4k_p50_ms, `<= 1.25 x ${round(rawSum)} and < ${figures.raw_opfs_writable_4k_p50_ms}`],
      ['tandemfs mirrored ack 4 KiB p99 (ms)', figures.mirrored_ack_4k_p99_ms, ''],
      ['  ... over the raw mirrored write', figures.ack_over_raw_mirrored_write, ''],
      ['tandemfs degraded ack 4 KiB p50 / p99 (ms)', `${figures.degraded_ack_4k_p50_ms} / ${figures.degraded_ack_4k_p99_ms}`, ''],
      ['tandemfs mirrored 64 KiB writes, 32 in flight (MiB/s)', figures.mirrored_64k_mibps, `>= 0.6 x ${round(slowerRaw, 1)}`],
      ['  ... over the slower raw, per round (median)', figures.throughput_over_slower_raw, '>= 0.6'],
      ['takeover: owner crash to first new ack (ms)', figures.takeover_ms, `<= 150 + replay (${figures.replay_ms})`],
      [`replay of ${t.replayedOps} records, 10 MiB (MiB/s)`, figures.replay_mibps, '>= 50'],
    ],
    figures,
  };
}

if (tab === 0) globalThis.tandemBench = main();
else void peer();
