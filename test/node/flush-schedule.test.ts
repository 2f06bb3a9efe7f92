// When the owner flushes: not in the middle of a burst of writes (its records are mirrored, and a
// flush would compete with the burst for the storage backend), but once acks pause, at the latest
// flushMaxDelayMs after the first record that waits, and at once for a reader that needs the
// medium. Scripted runs of the real core on the simulator's virtual clock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Submitted } from '../../src/sim/cluster.js';
import { acked, cluster, fsClient, noViolations, roles, write } from './sim-helpers.js';

const applied = (sim: Awaited<ReturnType<typeof cluster>>) => sim.world.volume(1).state.applied;

describe('flush schedule', () => {
  test('a burst of writes reaches the medium only once acks pause for flushDelayMs', async () => {
    const sim = await cluster(2, { flushDelayMs: 50, flushMaxDelayMs: 1000 });
    const { owner } = roles(sim);
    const ops: Submitted[] = [];
    // A write every 20 ms for 600 ms: acks never pause for 50 ms, and the burst is shorter than
    // flushMaxDelayMs.
    for (let i = 0; i < 30; i++) {
      ops.push(sim.submit(owner, 1, write(`/f${i}`, 'x')));
      await sim.run(20);
    }
    await acked(sim, ops);
    assert.equal(applied(sim), 0, 'the flusher ran during the burst');
    assert.ok(await sim.runUntil(() => applied(sim) === ops.at(-1)!.lsn, 500), 'the burst was not flushed after it ended');
    await noViolations(sim);
  });

  test('a long burst is flushed by flushMaxDelayMs after its first ack, in step with it', async () => {
    const sim = await cluster(2, { flushDelayMs: 50, flushMaxDelayMs: 300 });
    const { owner } = roles(sim);
    const ops: Submitted[] = [];
    let firstFlush: number | undefined;
    const start = sim.now;
    for (let i = 0; i < 100; i++) {
      ops.push(sim.submit(owner, 1, write(`/f${i}`, 'x')));
      await sim.run(20);
      if (applied(sim) > 0) firstFlush ??= sim.now - start;
    }
    await acked(sim, ops);
    assert.ok(firstFlush !== undefined, 'nothing was flushed during a 2 s burst');
    assert.ok(firstFlush >= 300 && firstFlush <= 600, `the first flush came ${firstFlush} ms into the burst (its deadline: 300 ms)`);
    // What waits never grows past what the deadline lets in (~15 writes, plus those acked while
    // a flush is out).
    assert.ok(applied(sim) >= ops[60]!.lsn!, `after 2 s of writes the medium holds only LSN ${applied(sim)}`);
    await noViolations(sim);
  });

  test('a read of a file that only the medium can serve starts the flusher at once, burst or not', async () => {
    const sim = await cluster(2, { flushDelayMs: 50, flushMaxDelayMs: 10_000 });
    const { owner } = roles(sim);
    const fs = fsClient(sim, owner);
    // Too big for the owner's cache of small files: reading it back needs the medium.
    const big = 'y'.repeat(1 << 20);
    await fs.writeFile('/big', big);
    const ops: Submitted[] = [];
    for (let i = 0; i < 5; i++) ops.push(sim.submit(owner, 1, write(`/f${i}`, 'x')));
    await acked(sim, ops);
    const before = sim.now;
    assert.equal((await fs.readFile('/big', 'utf8')).length, big.length);
    assert.ok(sim.now - before < 1000, `the read waited ${sim.now - before} ms`);
    await noViolations(sim);
  });
});
