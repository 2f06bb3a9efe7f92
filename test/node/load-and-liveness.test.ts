// A node under load and slow parts: housekeeping that does not grow with the backlog, liveness
// that data cannot starve, a fence that meets work still out, a journal cap that holds when many
// ops wait at once. Scripted runs of the real core in the simulator, on its virtual clock (so the
// timings asserted here are the simulator's, the same on any machine).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeId, RecordStore, StoreDirectory } from '../../src/core/ports.js';
import type { SimCluster, Submitted } from '../../src/sim/cluster.js';
import { acked, cluster, events, noViolations, roles, write } from './sim-helpers.js';

/** Watches the store calls a node makes through its store directory (what housekeeping uses). */
function watchDirectory(sim: SimCluster, watch: (node: NodeId, store: NodeId, kind: 'journal' | 'mirror', call: 'list' | 'deleteRange', done: Promise<unknown>) => void): void {
  const ports = sim.world.ports.bind(sim.world);
  sim.world.ports = (node, random) => {
    const made = ports(node, random);
    const wrap = (store: NodeId, kind: 'journal' | 'mirror', inner: RecordStore): RecordStore => ({
      put: (records) => inner.put(records),
      list: (volume, from) => {
        const done = inner.list(volume, from);
        watch(node, store, kind, 'list', done);
        return done;
      },
      deleteRange: (volume, from, to) => {
        const done = inner.deleteRange(volume, from, to);
        watch(node, store, kind, 'deleteRange', done);
        return done;
      },
    });
    const stores: StoreDirectory = {
      nodes: () => made.stores.nodes(),
      journal: (store) => wrap(store, 'journal', made.stores.journal(store)),
      mirror: (store) => wrap(store, 'mirror', made.stores.mirror(store)),
    };
    return { ...made, stores };
  };
}

const kib = (n: number, i: number) => write(`/f${i % 8}`, 'x'.repeat(n * 1024), i * 64);

describe('housekeeping', () => {
  test('while flushing is held up, the sweep reads none of the stores the write path uses, and acks stay as fast as at the start', async () => {
    // As in the write bench: the owner's medium stalls (a slow disk, a full quota) and the
    // journal grows to megabytes. Every sweep used to read it whole, and the journal puts
    // queued behind those reads until acks passed the op timeout.
    const sim = await cluster(2, { journalCapBytes: 64 << 20 });
    const { owner, partner } = roles(sim);
    let bytesRead = 0;
    watchDirectory(sim, () => {});
    const journal = sim.world.stores.get(owner)!.journal;
    const mirror = sim.world.stores.get(partner)!.mirror;
    for (const store of [journal, mirror]) {
      const sorted = store.sorted.bind(store);
      store.sorted = (volume) => {
        const records = sorted(volume);
        for (const record of records) bytesRead += record.frame.length;
        return records;
      };
    }
    sim.world.setMediumFault(owner, 'full');
    const latency: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const started = sim.now;
      const op = sim.submit(owner, 1, kib(4, i));
      void op.done.then(() => latency.push(sim.now - started), () => {});
      await sim.run(20);
    }
    assert.ok(journal.sorted(1).length > 1000, 'the backlog did not pile up');
    bytesRead = 0; // the check above read the journal itself
    await sim.run(5000);
    assert.equal(bytesRead, 0, 'housekeeping read the stores in use');
    const first = Math.max(...latency.slice(0, 100));
    const last = Math.max(...latency.slice(-100));
    assert.ok(last <= 2 * first + 5, `acks slowed from ${first.toFixed(1)} ms to ${last.toFixed(1)} ms as the backlog grew`);
    sim.world.setMediumFault(owner, 'ok');
    await noViolations(sim);
  });

  test('a sweep slower than the sweep interval is not overlapped by the next one', async () => {
    const sim = await cluster(2);
    const { owner } = roles(sim);
    let watched: NodeId | undefined;
    let out = 0;
    let most = 0;
    watchDirectory(sim, (node, _store, _kind, _call, done) => {
      if (node !== watched) return;
      most = Math.max(most, ++out);
      void done.finally(() => out--);
    });
    watched = sim.start(); // a node whose store calls are watched from its start
    assert.ok(await sim.runUntil(() => sim.node(watched).status().peers.length === 2));
    sim.world.setStoreSlowdown(watched, 4000); // each store call takes seconds: one sweep spans several intervals
    for (let i = 0; i < 20; i++) {
      sim.submit(owner, 1, write(`/s${i}`, 'x'));
      await sim.run(500);
    }
    assert.ok(most === 1, `${most} housekeeping store calls were out at once`);
    sim.world.setStoreSlowdown(watched, 1);
    await noViolations(sim);
  });
});

describe('liveness', () => {
  test('a data channel that stalls for longer than the hang timeout does not make a live owner look hung', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const seen = events(sim, partner);
    sim.world.stallLinks(owner, 5000);
    const ops: Submitted[] = [];
    for (let i = 0; i < 20; i++) {
      ops.push(sim.submit(owner, 1, kib(16, i)));
      await sim.run(100);
    }
    await acked(sim, ops);
    assert.deepEqual(seen.filter((e) => e.type === 'takeover-started'), [], 'the partner took the volume of a live owner');
    assert.equal(sim.ownerOf(1), owner);
    await noViolations(sim);
  });

  test('a node that mirrored a volume in an earlier pairing does not take it over: only the current partner does', async () => {
    const sim = await cluster(3);
    const { owner, partner: first } = roles(sim);
    const third = sim.up().find((id) => id !== owner && id !== first)!;
    const firstEvents = events(sim, first);
    sim.world.hang(first); // the owner pairs with the third node instead
    assert.ok(await sim.runUntil(() => sim.node(owner).status().owns[0]?.partner === third, 5000), 'the owner did not pair again');
    sim.world.resume(first);
    await sim.run(1000);
    sim.world.hang(owner);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === third, 10_000), 'the current partner did not take over');
    sim.world.resume(owner);
    assert.deepEqual(firstEvents.filter((e) => e.type === 'takeover-started'), [], 'the former partner stole the volume');
    await noViolations(sim);
  });
});

describe('fencing meets work still out', () => {
  test('an owner fenced while a flush and a journal write are out ignores their late completions', async () => {
    // A slow disk and slow stores, then a hang: the partner steals the volume while both are out;
    // they complete after the fence. The ended volume must ignore them (a late flush once drove
    // its count of acked records negative, and the next journal write then threw).
    const sim = await cluster(2, { flushDelayMs: 0 });
    const { owner, partner } = roles(sim);
    const uncaught: unknown[] = [];
    const hear = (error: unknown) => uncaught.push(error);
    process.on('unhandledRejection', hear);
    sim.scheduler.onError = hear;
    try {
      // A flush of three ops takes about 5 s, a journal write about 12 s: both end after the
      // steal, which comes some 1.6 s into the hang.
      sim.world.setMediumSlowdown(owner, 4000);
      sim.world.setStoreSlowdown(owner, 20_000);
      const ops = [0, 1, 2].map((i) => sim.submit(owner, 1, write(`/a${i}`, 'a'))); // one group, one batch
      assert.ok(await sim.runUntil(() => sim.world.volume(1).busy === owner, 60_000), 'no flush went out');
      ops.push(sim.submit(owner, 1, write('/b', 'b'))); // a journal write goes out too
      await sim.run(1);
      sim.world.hang(owner);
      assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner, 120_000), 'the partner did not take over');
      await sim.run(15_000);
      sim.world.resume(owner);
      sim.world.setMediumSlowdown(owner, 1);
      sim.world.setStoreSlowdown(owner, 1);
      await sim.run(3000);
      assert.deepEqual(uncaught.map(String), []);
      await noViolations(sim);
    } finally {
      process.off('unhandledRejection', hear);
    }
  });
});

describe('journal cap', () => {
  test('ops that wait for room together do not all slip under the cap at once', async () => {
    const cap = 8192;
    const sim = await cluster(2, { journalCapBytes: cap });
    const { owner } = roles(sim);
    sim.world.setMediumFault(owner, 'full');
    const ops = Array.from({ length: 10 }, (_, i) => sim.submit(owner, 1, kib(3, i)));
    await sim.run(500);
    const journal = sim.world.stores.get(owner)!.journal.sorted(1);
    const bytes = journal.reduce((sum, r) => sum + r.frame.length, 0);
    const largest = Math.max(...journal.map((r) => r.frame.length));
    assert.ok(bytes <= cap + largest, `${journal.length} records, ${bytes} bytes, past the cap of ${cap} by more than one record`);
    sim.world.setMediumFault(owner, 'ok');
    await acked(sim, ops);
    await noViolations(sim);
  });
});
