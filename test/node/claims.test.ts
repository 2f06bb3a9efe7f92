// The claims of seed-claims.txt, as scripted runs of the real core in the simulator. Each test
// ends with the simulator's own invariant checks (acked ops in the medium, LSN order, no fenced
// writes, no damaged record applied, stores drained).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeId } from '../../src/core/ports.js';
import { NodeError } from '../../src/errors.js';
import { SimCluster, type Submitted } from '../../src/sim/cluster.js';
import { acked, cluster, events, fileText, holds, noViolations, roles, write } from './sim-helpers.js';

describe('write path (claims 1, 4, 5, 6, 21, 24, 27, 29, 30)', () => {
  test('an op from any node is acked only once the owner\'s journal and the partner\'s mirror hold it', async () => {
    const sim = await cluster(3);
    const { owner, partner } = roles(sim);
    const client = sim.up().find((id) => id !== owner)!;
    const op = sim.submit(client, 1, write('/a', 'hello'));
    await sim.runUntil(() => op.lsn !== undefined);
    assert.equal(op.lsn, 1);
    assert.ok(holds(sim, owner, 'journal', 1), 'journal');
    assert.ok(holds(sim, partner, 'mirror', 1), 'mirror');
    await noViolations(sim);
  });

  test('after the flush the medium holds the op, and both the journal and mirror copies are deleted', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    await acked(sim, [sim.submit(owner, 1, write('/a', 'hello'))]);
    assert.ok(await sim.runUntil(() => !holds(sim, owner, 'journal', 1) && !holds(sim, partner, 'mirror', 1)));
    assert.equal(fileText(sim, '/a'), 'hello');
    await noViolations(sim);
  });

  for (const mirrorConcurrently of [true, false]) {
    test(`mirroring runs ${mirrorConcurrently ? 'beside' : 'after'} the journal write, as configured`, async () => {
      const sim = await cluster(2, { mirrorConcurrently });
      const { owner } = roles(sim);
      let journaledWhenSent: boolean | undefined;
      const watching = sim.world.onSend;
      sim.world.onSend = (from, to, message) => {
        watching?.(from, to, message);
        if (from === owner && (message as { t: string }).t === 'mirror') journaledWhenSent ??= holds(sim, owner, 'journal', 1);
      };
      await acked(sim, [sim.submit(owner, 1, write('/a', 'x'))]);
      assert.equal(journaledWhenSent, !mirrorConcurrently);
      await noViolations(sim);
    });
  }

  test('ops that arrive together share one journal transaction and one link message (group commit)', async () => {
    const sim = await cluster(2);
    const { owner } = roles(sim);
    const journal = sim.world.stores.get(owner)!.journal;
    const sizes: number[] = [];
    const put = journal.records.set.bind(journal.records);
    let lastNow = -1;
    journal.records.set = (key, value) => {
      if (sim.now !== lastNow) sizes.push(0);
      lastNow = sim.now;
      sizes[sizes.length - 1]! += 1;
      return put(key, value);
    };
    const ops = Array.from({ length: 10 }, (_, i) => sim.submit(owner, 1, write(`/f${i}`, 'x')));
    await acked(sim, ops);
    assert.deepEqual(sizes, [10]);
    await noViolations(sim);
  });
});

describe('partner lost and back (claims 37, 42)', () => {
  test('without a partner the owner acks after its journal alone and reports itself degraded', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    sim.world.crash(partner);
    await sim.run(100);
    const op = sim.submit(owner, 1, write('/a', 'alone'));
    await acked(sim, [op]);
    assert.equal(sim.node(owner).status().owns[0]!.degraded, true);
    await noViolations(sim);
  });

  test('with requireMirror an op waits for a partner, and is acked once a new partner holds it', async () => {
    const sim = await cluster(2, { requireMirror: true });
    const { owner, partner } = roles(sim);
    sim.world.crash(partner);
    await sim.run(100);
    const op = sim.submit(owner, 1, write('/a', 'held'));
    await sim.run(3000);
    assert.equal(op.lsn, undefined, 'acked without a mirror');
    const fresh = sim.start();
    await acked(sim, [op]);
    assert.ok(holds(sim, fresh, 'mirror', op.lsn!) || fileText(sim, '/a') === 'held');
    await noViolations(sim);
  });

  test('a new partner first receives every unflushed record, then mirrored acks resume', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    sim.world.setMediumFault(owner, 'full'); // records stay unflushed
    sim.world.crash(partner);
    await sim.run(100);
    const early = Array.from({ length: 5 }, (_, i) => sim.submit(owner, 1, write(`/e${i}`, 'x')));
    await acked(sim, early);
    const fresh = sim.start();
    assert.ok(await sim.runUntil(() => sim.node(owner).status().owns[0]?.degraded === false), 'never mirrored again');
    for (const op of early) assert.ok(holds(sim, fresh, 'mirror', op.lsn!), `record ${op.lsn} not copied to the new partner`);
    const late = sim.submit(owner, 1, write('/late', 'x'));
    await acked(sim, [late]);
    assert.ok(holds(sim, fresh, 'mirror', late.lsn!));
    sim.world.setMediumFault(owner, 'ok');
    await noViolations(sim);
  });

  test('with three nodes, a survivor pairs with the third node so the volume is mirrored again', async () => {
    const sim = await cluster(3);
    const { owner, partner } = roles(sim);
    sim.world.crash(partner);
    assert.ok(await sim.runUntil(() => {
      const status = sim.node(owner).status().owns[0];
      return status !== undefined && status.partner !== partner && !status.degraded;
    }, 5000));
    await noViolations(sim);
  });
});

describe('owner lost: takeover (claims 2, 7, 10, 15, 20, 28, 32–36, 38–41)', () => {
  /** Fills the owner's medium so acked records pile up unflushed, then acks `count` ops. */
  async function backlog(sim: SimCluster, owner: NodeId, count: number): Promise<Submitted[]> {
    sim.world.setMediumFault(owner, 'full');
    const ops = Array.from({ length: count }, (_, i) => sim.submit(owner, 1, write(`/f${i}`, `data ${i}`)));
    await acked(sim, ops);
    return ops;
  }

  test('when the owner\'s tab crashes, its partner replays every mirrored op, and only then takes new ones', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const seen = events(sim, partner);
    const ops = await backlog(sim, owner, 10);
    sim.world.crash(owner);
    sim.world.wipeStores(owner); // only the mirror is left to replay from
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner));
    assert.deepEqual(seen.filter((e) => e.type === 'takeover-finished').map((e) => 'replayed' in e && e.replayed), [10]);
    for (let i = 0; i < ops.length; i++) assert.equal(fileText(sim, `/f${i}`), `data ${i}`);
    const next = sim.submit(partner, 1, write('/next', 'after'));
    await acked(sim, [next]);
    assert.equal(next.lsn, 11);
    await noViolations(sim);
  });

  test('a hung owner loses the volume to its partner, and writes nothing when it wakes (fencing)', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const ownerEvents = events(sim, owner);
    await backlog(sim, owner, 3);
    sim.world.setMediumFault(owner, 'ok');
    sim.world.hang(owner);
    assert.ok(await sim.runUntil(() => sim.node(partner).status().owns.length === 1, 10_000));
    sim.world.resume(owner);
    assert.ok(await sim.runUntil(() => ownerEvents.some((e) => e.type === 'released' && e.why === 'fenced')));
    await noViolations(sim); // includes invariant 3: no write from the fenced owner
  });

  test('a partner taking over replays what its mirror holds before a slow store of the old owner answers', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const seen = events(sim, partner);
    await backlog(sim, owner, 5);
    sim.world.setStoreSlowdown(owner, 50_000); // each transaction on the owner's stores: 30 s
    sim.world.hang(owner);
    assert.ok(await sim.runUntil(() => seen.some((e) => e.type === 'takeover-started'), 10_000), 'the partner steals the volume');
    // The partner still waits for the owner's journal, but the acked ops it mirrored are applied.
    assert.ok(await sim.runUntil(() => sim.world.volume(1).state.applied === 5, 5_000), 'the mirrored ops reached the medium before the slow store answered');
    assert.ok(!seen.some((e) => e.type === 'takeover-finished'), 'the takeover waited for the slow store');
    for (let i = 0; i < 5; i++) assert.equal(fileText(sim, `/f${i}`), `data ${i}`);
    sim.world.setStoreSlowdown(owner, 1);
    sim.world.resume(owner);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner, 120_000), 'the partner serves once the store answered');
    await noViolations(sim);
  });

  test('an owner whose medium I/O breaks hands the volume over; its partner replays and serves', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const ownerEvents = events(sim, owner);
    sim.world.setMediumFault(owner, 'broken');
    const op = sim.submit(owner, 1, write('/a', 'survives'));
    await acked(sim, [op]);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner));
    assert.ok(ownerEvents.some((e) => e.type === 'released' && e.why === 'gave-up'));
    assert.ok(await sim.runUntil(() => fileText(sim, '/a') === 'survives'));
    await noViolations(sim);
  });

  test('a damaged mirror copy is never applied: replay uses the intact journal copy', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    await backlog(sim, owner, 3);
    const mirror = sim.world.stores.get(partner)!.mirror.records;
    const record = mirror.get('1:2')!;
    const frame = record.frame.slice();
    frame[frame.length - 6]! ^= 0xff; // in the payload
    mirror.set('1:2', { ...record, frame });
    sim.world.crash(owner);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner));
    assert.equal(fileText(sim, '/f1'), 'data 1');
    await noViolations(sim);
  });

  test('when every copy of a record is damaged the volume stops with EVOLUMESTOPPED instead of skipping it', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const seen = events(sim, partner);
    await backlog(sim, owner, 3);
    for (const [node, kind] of [[partner, 'mirror'], [owner, 'journal']] as const) {
      const records = sim.world.stores.get(node)![kind].records;
      const record = records.get('1:2')!;
      const frame = record.frame.slice();
      frame[80]! ^= 1;
      records.set('1:2', { ...record, frame });
    }
    sim.world.crash(owner);
    assert.ok(await sim.runUntil(() => seen.some((e) => e.type === 'volume-stopped')));
    assert.equal(fileText(sim, '/f2'), '', 'a record after the damaged one was applied');
    const op = sim.submit(partner, 1, write('/a', 'x'));
    await sim.run(100);
    assert.ok(op.error instanceof NodeError && op.error.code === 'EVOLUMESTOPPED');
  });
});

describe('backpressure', () => {
  test('past the journal cap new ops wait, then fail with ETIMEDOUT; nothing acked is dropped', async () => {
    const sim = await cluster(2, { journalCapBytes: 10_000, opTimeoutMs: 2000 });
    const { owner } = roles(sim);
    sim.world.setMediumFault(owner, 'full'); // nothing flushes: the journal fills
    const big = (i: number) => write(`/big${i}`, String(i).repeat(4000));
    const first = [0, 1, 2].map((i) => sim.submit(owner, 1, big(i)));
    await acked(sim, first);
    const refused = sim.submit(owner, 1, big(3));
    await sim.run(1000);
    assert.equal(refused.lsn, undefined, 'accepted past the cap');
    assert.equal(refused.error, undefined, 'gave up before opTimeoutMs');
    await sim.run(1500);
    const error: unknown = refused.error;
    assert.ok(error instanceof NodeError && error.code === 'ETIMEDOUT', String(error));
    sim.world.setMediumFault(owner, 'ok');
    assert.ok(await sim.runUntil(() => [0, 1, 2].every((i) => fileText(sim, `/big${i}`) === String(i).repeat(4000))));
    await acked(sim, [sim.submit(owner, 1, big(4))]);
    await noViolations(sim);
  });
});

describe('recovery, hand-over and balance', () => {
  test('after every node stopped, the next node to start recovers every acked op from the stores left behind', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    sim.world.setMediumFault(owner, 'full');
    const ops = Array.from({ length: 6 }, (_, i) => sim.submit(owner, 1, write(`/r${i}`, `kept ${i}`)));
    await acked(sim, ops);
    sim.world.crash(owner);
    sim.world.crash(partner);
    await sim.run(500);
    sim.start();
    assert.ok(await sim.runUntil(() => ops.every((_, i) => fileText(sim, `/r${i}`) === `kept ${i}`)));
    sim.start();
    await noViolations(sim);
  });

  test('a planned leave drains the journal first, so the next owner replays nothing', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const seen = events(sim, partner);
    const ops = Array.from({ length: 5 }, (_, i) => sim.submit(owner, 1, write(`/l${i}`, 'x')));
    await acked(sim, ops);
    let left = false;
    void sim.node(owner).leave().then(() => (left = true));
    assert.ok(await sim.runUntil(() => left && sim.ownerOf(1) === partner));
    assert.deepEqual(seen.filter((e) => e.type === 'takeover-finished').map((e) => 'replayed' in e && e.replayed), [0]);
    sim.world.crash(owner);
    sim.start();
    await noViolations(sim);
  });

  test('volumes spread over the live nodes', async () => {
    const sim = new SimCluster({ seed: 3, volumes: [1, 2, 3, 4] });
    const first = sim.start();
    await sim.runUntil(() => sim.node(first).status().owns.length === 4);
    const second = sim.start();
    assert.ok(await sim.runUntil(() => sim.node(second).status().owns.length === 2 && sim.node(first).status().owns.length === 2, 10_000));
    await noViolations(sim);
  });
});
