// A node holds its liveness lock for its whole life. A peer that its link met before it started
// may hold that lock for a moment (its watch was granted at once); the node waits that out. A lock
// held for good means another node runs with this id.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Node } from '../../src/core/node.js';
import { NodeError } from '../../src/errors.js';
import { SimCluster } from '../../src/sim/cluster.js';

async function startWithLockHeld(holdMs: number | undefined): Promise<{ error?: unknown; started: boolean }> {
  const sim = new SimCluster({ seed: 5, volumes: [1] });
  sim.world.spawn('watcher');
  sim.world.spawn('n9');
  const watcher = sim.world.ports('watcher', sim.rng.fork()).locks;
  let held: { release(): void } | null = null;
  void watcher.tryAcquire('tandemfs:live:n9').then((lock) => (held = lock));
  await sim.runUntil(() => held !== null, 1000);
  if (holdMs !== undefined) sim.scheduler.at(holdMs, () => held!.release());
  const node = new Node(sim.world.ports('n9', sim.rng.fork()), { volumes: [1], hangTimeoutMs: 1500 });
  const outcome: { error?: unknown; started: boolean } = { started: false };
  let settled = false;
  node.start().then(() => (outcome.started = true), (error: unknown) => (outcome.error = error)).finally(() => (settled = true));
  await sim.runUntil(() => settled, 10_000);
  return outcome;
}

describe('starting a node', () => {
  test('a liveness lock a peer holds for a moment is waited for', async () => {
    const { started, error } = await startWithLockHeld(300);
    assert.equal(error, undefined);
    assert.ok(started);
  });

  test('a liveness lock held for good means the id is taken: EINVAL', async () => {
    const { started, error } = await startWithLockHeld(undefined);
    assert.ok(!started);
    assert.ok(error instanceof NodeError && error.code === 'EINVAL' && /already running/.test(error.message), String(error));
  });
});
