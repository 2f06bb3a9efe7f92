// Exactly-once: a client's op is applied at most once, whichever nodes its retries reach and
// however often its volume moves (takeover, hand-over, restart), and never when its client was
// told it failed. Scripted runs of the real core in the simulator; each ends with its checks,
// which include exactly-once (one LSN per op id; nothing applied that was reported failed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NodeError } from '../../src/errors.js';
import { acked, cluster, fileText, noViolations, roles, write } from './sim-helpers.js';

describe('exactly-once', () => {
  test('an op whose owner died unanswered, replayed by its partner, is not applied again when its retry reaches the node the volume moved to next', async () => {
    // The sequence the sweep once let through: op X is journaled and mirrored at owner A, whose
    // client C hears nothing; partner B takes over and replays X; B hands the volume over at once;
    // C's retry of X reaches the next owner, which has nothing to replay.
    const sim = await cluster(3);
    const { owner: a, partner: b } = roles(sim);
    const c = sim.up().find((id) => id !== a && id !== b)!;
    // A dies as soon as B holds X in its mirror, before B's answer reaches it.
    const watching = sim.world.onHandled;
    sim.world.onHandled = (from, to, message) => {
      watching?.(from, to, message);
      if (from === a && to === b && (message as { t: string }).t === 'mirror') {
        sim.world.hang(c); // C's retry waits until the volume has moved on
        sim.world.crash(a);
      }
    };
    const x = sim.submit(c, 1, write('/x', 'once'));
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === b), 'B did not take over');
    assert.equal(fileText(sim, '/x'), 'once', 'B did not replay X');
    await sim.node(b).leave(); // a hand-over, drained, to nobody in particular: C adopts it
    sim.world.resume(c);
    await acked(sim, [x]);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === c), 'C did not adopt the volume');
    assert.equal(x.lsn, 1, 'the retry was applied at a new LSN');
    await noViolations(sim);
  });

  test('a retry after every node restarted is recognised from the medium, not applied again', async () => {
    const sim = await cluster(2);
    const { owner, partner } = roles(sim);
    const watching = sim.world.onHandled;
    sim.world.onHandled = (from, to, message) => {
      watching?.(from, to, message);
      if (from === owner && to === partner && (message as { t: string }).t === 'mirror') sim.world.hang(partner);
    };
    // The client is the partner; it hangs with the op in flight and stays hung while the owner
    // flushes it and every other node stops; then it is the first to run again.
    const op = sim.submit(partner, 1, write('/once', 'x'));
    assert.ok(await sim.runUntil(() => sim.world.volume(1).state.applied >= 1), 'never flushed');
    sim.world.crash(owner);
    const fresh = sim.start();
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === fresh), 'the new node did not recover the volume');
    sim.world.resume(partner);
    await acked(sim, [op]);
    assert.equal(op.lsn, 1);
    await noViolations(sim);
  });

  test('a journal write that fails is reported only once no takeover can replay the partner\'s copy of it', async () => {
    // Mirrored beside the journal, the failed record already sits in the partner's mirror. The
    // owner raises its epoch above its last good LSN before it tells the client: a takeover right
    // after the client heard of the failure then treats that copy as a stale tail.
    const sim = await cluster(2, { mirrorConcurrently: true });
    const { owner } = roles(sim);
    await acked(sim, [sim.submit(owner, 1, write('/kept', 'kept'))]);
    const epoch = sim.world.volume(1).state.epoch;
    sim.world.setStoreQuota(owner, true);
    const failed = sim.submit(owner, 1, write('/failed', 'never'));
    assert.ok(await sim.runUntil(() => failed.error !== undefined), 'the op did not fail');
    const error: unknown = failed.error;
    assert.ok(error instanceof NodeError && error.code === 'ENOSPC', String(error));
    assert.deepEqual(sim.world.volume(1).state.epochs.at(-1), { epoch: epoch + 1, base: 1 }, 'no epoch above the last good LSN');
    sim.world.crash(owner); // at once: the partner's copy of the failed record is still there
    sim.start();
    await noViolations(sim);
    assert.equal(sim.world.volume(1).fs.stat('/failed'), undefined, 'an op reported failed was applied');
    assert.equal(fileText(sim, '/kept'), 'kept');
  });

  test('after a journal failure the owner goes on at its new epoch: the partner mirrors the old records and the new', async () => {
    const sim = await cluster(2, { mirrorConcurrently: true });
    const { owner, partner } = roles(sim);
    sim.world.setMediumFault(owner, 'full'); // keep the records unflushed, so the partner must hold both epochs
    const before = sim.submit(owner, 1, write('/before', 'b'));
    await acked(sim, [before]);
    sim.world.setStoreQuota(owner, true);
    const failed = sim.submit(owner, 1, write('/failed', 'f'));
    assert.ok(await sim.runUntil(() => failed.error !== undefined));
    sim.world.setStoreQuota(owner, false);
    const after = sim.submit(owner, 1, write('/after', 'a'));
    await acked(sim, [after]);
    assert.equal(after.lsn, 2, 'the failed LSN was not taken back');
    const mirror = sim.world.stores.get(partner)!.mirror;
    const epochs = () => [1, 2].map((lsn) => mirror.records.get(`1:${lsn}`)?.epoch);
    assert.ok(await sim.runUntil(() => epochs().join() === '1,2'), `the mirror holds epochs ${epochs().join()} at LSNs 1 and 2`);
    sim.world.setMediumFault(owner, 'ok');
    await noViolations(sim);
  });
});
