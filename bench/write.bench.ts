// `npm run bench -- write`: two tabs, on-disk profile. Raw platform costs measured side by side
// with tandemfs: mirrored and degraded ack latency, sustained mirrored throughput, takeover time
// and replay rate after the owner tab crashes. Tab 0 measures; tab 1 is its peer (see run.mjs).
import { startBrowserNode, type BrowserNode } from '../src/browser/start-node.js';
import type { NodeEvent } from '../src/core/node.js';
import type { BenchResult } from './harness.js';
import { median } from './harness.js';

const control = new BroadcastChannel('tandemfs-bench');
const tab = Number(new URLSearchParams(location.search).get('tab') ?? 0);
const KiB = 1024;
const MiB = 1024 * 1024;

type Command = { cmd: 'join'; cluster: string } | { cmd: 'stall' } | { cmd: 'joined'; id: string };

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
      node.link.onMessage((from, raw) => {
        const m = raw as { t?: string; id?: number; data?: Uint8Array; count?: number };
        if (m.t === 'bench-ping') node!.link.send(from, { t: 'bench-pong', id: m.id, data: m.data });
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

async function rawIndexedDb(): Promise<{ put4kP50: number; put60kMiBps: number }> {
  const name = `bench-raw-${Date.now()}`;
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const put = (values: Uint8Array[], key: number) => new Promise<void>((resolve, reject) => {
    const tx = db.transaction('kv', 'readwrite', { durability: 'relaxed' });
    values.forEach((value, i) => tx.objectStore('kv').put(value, key + i));
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  const small = noise(4 * KiB);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const start = performance.now();
    await put([small], i);
    times.push(performance.now() - start);
  }
  const big = noise(60 * KiB);
  const total = 32 * MiB;
  const start = performance.now();
  const batches: Promise<void>[] = [];
  for (let i = 0; i < total / (60 * KiB); i += 8) batches.push(put(Array(8).fill(big), 10_000 + i));
  await Promise.all(batches);
  const seconds = (performance.now() - start) / 1000;
  db.close();
  indexedDB.deleteDatabase(name);
  return { put4kP50: median(times.slice(20)), put60kMiBps: (batches.length * 8 * 60 * KiB) / MiB / seconds };
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

async function rawLink(node: BrowserNode, peerId: string): Promise<{ rttP50: number; oneWayMiBps: number }> {
  const pending = new Map<number, () => void>();
  let bulkDone: (() => void) | undefined;
  node.link.onMessage((_from, raw) => {
    const m = raw as { t?: string; id?: number };
    if (m.t === 'bench-pong') pending.get(m.id!)?.();
    if (m.t === 'bench-bulk-done') bulkDone?.();
  });
  const data = noise(4 * KiB);
  const times: number[] = [];
  for (let id = 0; id < 300; id++) {
    const start = performance.now();
    await new Promise<void>((resolve) => {
      pending.set(id, resolve);
      node.link.send(peerId, { t: 'bench-ping', id, data });
    });
    times.push(performance.now() - start);
  }
  const big = noise(64 * KiB);
  const count = 400;
  const start = performance.now();
  const done = new Promise<void>((resolve) => (bulkDone = resolve));
  for (let id = 0; id < count; id++) node.link.send(peerId, { t: 'bench-bulk', id, count, data: big });
  await done;
  return { rttP50: median(times.slice(20)), oneWayMiBps: (count * 64 * KiB) / MiB / ((performance.now() - start) / 1000) };
}

// ---------------------------------------------------------------------------------------------
// tandemfs

async function ackLatencies(node: BrowserNode, count: number): Promise<number[]> {
  const data = noise(4 * KiB);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await node.node.submit(1, { type: 'write', path: `/lat/${i % 16}`, offset: 0, data, mtimeMs: 0 });
    times.push(performance.now() - start);
  }
  return times.slice(20);
}

async function throughput(node: BrowserNode, totalBytes: number, inFlight: number): Promise<number> {
  const data = noise(64 * KiB);
  const count = totalBytes / data.length;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await node.node.submit(1, { type: 'write', path: `/bulk/${i % 64}`, offset: Math.floor(i / 64) * data.length, data, mtimeMs: 0 });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return totalBytes / MiB / ((performance.now() - start) / 1000);
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
  const idb = await rawIndexedDb();
  const writableMs = await rawOpfsWritable();
  const syncHandleMs = await rawSyncAccessHandle();

  const cluster = `bench-m-${Date.now()}`;
  const node = await startBrowserNode({ cluster, volumes: [1] });
  await until(() => node.node.status().owns.length === 1);
  const peerId = await tell({ cmd: 'join', cluster });
  await until(() => mirrored(node));
  const link = await rawLink(node, peerId);
  const mirroredTimes = await ackLatencies(node, 300);
  const mirroredMiBps = await throughput(node, 32 * MiB, 32);

  const alone = await startBrowserNode({ cluster: `bench-d-${Date.now()}`, volumes: [1] });
  await until(() => alone.node.status().owns.length === 1);
  const degradedTimes = await ackLatencies(alone, 300);
  await alone.close();
  await node.close();

  const t = await takeover();

  const ackP50 = median(mirroredTimes);
  const rawSum = idb.put4kP50 + link.rttP50;
  const slowerRaw = Math.min(idb.put60kMiBps, link.oneWayMiBps);
  const figures = {
    raw_idb_put_4k_p50_ms: round(idb.put4kP50),
    raw_idb_60k_mibps: round(idb.put60kMiBps, 1),
    raw_link_rtt_4k_p50_ms: round(link.rttP50),
    raw_link_64k_mibps: round(link.oneWayMiBps, 1),
    raw_opfs_writable_4k_p50_ms: round(writableMs),
    raw_sync_handle_4k_flush_p50_ms: round(syncHandleMs),
    mirrored_ack_4k_p50_ms: round(ackP50),
    mirrored_ack_4k_p99_ms: round(quantile(mirroredTimes, 0.99)),
    degraded_ack_4k_p50_ms: round(median(degradedTimes)),
    degraded_ack_4k_p99_ms: round(quantile(degradedTimes, 0.99)),
    mirrored_64k_mibps: round(mirroredMiBps, 1),
    takeover_ms: round(t.takeoverMs, 1),
    replay_ms: round(t.replayMs, 1),
    replay_mibps: round(t.replayMiBps, 1),
    ack_over_raw_sum: round(ackP50 / rawSum, 2),
    ack_over_writable: round(ackP50 / writableMs, 2),
    throughput_over_slower_raw: round(mirroredMiBps / slowerRaw, 2),
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
      ['raw OPFS createWritable write 4 KiB + close (ms)', figures.raw_opfs_writable_4k_p50_ms, ''],
      ['raw sync access handle write 4 KiB + flush (ms)', figures.raw_sync_handle_4k_flush_p50_ms, ''],
      ['tandemfs mirrored ack 4 KiB p50 (ms)', figures.mirrored_ack_4k_p50_ms, `<= 1.25 x ${round(rawSum)} and < ${figures.raw_opfs_writable_4k_p50_ms}`],
      ['tandemfs mirrored ack 4 KiB p99 (ms)', figures.mirrored_ack_4k_p99_ms, ''],
      ['tandemfs degraded ack 4 KiB p50 / p99 (ms)', `${figures.degraded_ack_4k_p50_ms} / ${figures.degraded_ack_4k_p99_ms}`, ''],
      ['tandemfs mirrored 64 KiB writes, 32 in flight (MiB/s)', figures.mirrored_64k_mibps, `>= 0.6 x ${round(slowerRaw, 1)}`],
      ['takeover: owner crash to first new ack (ms)', figures.takeover_ms, `<= 150 + replay (${figures.replay_ms})`],
      [`replay of ${t.replayedOps} records, 10 MiB (MiB/s)`, figures.replay_mibps, '>= 50'],
    ],
    figures,
  };
}

if (tab === 0) globalThis.tandemBench = main();
else void peer();
