// Step tracing and slow motion (the teaching demo's view of the write path): the real core on the
// simulator's ports, each node's ports wrapped by a StepTracer. A write's steps come in the order
// the write path takes them, each held for the slow-motion time, and the ack waits for them;
// liveness is never held, so slow motion never makes a live owner look hung.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Node } from '../../src/core/node.js';
import type { NodeId } from '../../src/core/ports.js';
import { StepTracer, type Step } from '../../src/core/trace.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { acked, noViolations, write } from './sim-helpers.js';

/** A settled two-node cluster whose nodes report their steps to `steps`, held `hold.ms` each. */
async function tracedCluster(hold: { ms: number }, seed = 5) {
  const steps: Step[] = [];
  const tracers = new Map<NodeId, StepTracer>();
  const sim = new SimCluster({
    seed,
    volumes: [1],
    makeNode: (ports, options) => {
      const tracer = new StepTracer({ onStep: (step) => steps.push(step), holdMs: () => hold.ms });
      tracers.set(ports.self, tracer);
      return new Node(tracer.wrap(ports), options);
    },
  });
  sim.start();
  sim.start();
  const ready = await sim.runUntil(() => {
    const owner = sim.ownerOf(1);
    return owner !== undefined && sim.node(owner).status().owns[0]?.degraded === false;
  }, 5000);
  assert.ok(ready, 'the cluster did not form');
  const owner = sim.ownerOf(1)!;
  const partner = sim.node(owner).status().owns[0]!.partner!;
  return { sim, steps, tracers, owner, partner };
}

const covers = (step: Step, lsn: number) => step.lsns !== undefined && step.lsns[0] <= lsn && lsn <= step.lsns[1];

describe('step tracing', () => {
  test("a write's steps: journal and send at the owner, mirror and mirrored at the partner, then flush and both trims", async () => {
    const { sim, steps, owner, partner } = await tracedCluster({ ms: 0 });
    steps.length = 0;
    const op = sim.submit(owner, 1, write('/a', 'hello'));
    await acked(sim, [op]);
    assert.ok(await sim.runUntil(() => steps.filter((s) => s.kind === 'trim').length >= 2, 2000), 'the record was not trimmed from both copies');
    const lsn = op.lsn!;
    const seen = steps.filter((s) => s.kind === 'mirrored' ? s.lsns![1] >= lsn : covers(s, lsn)).map((s) => `${s.kind}${s.store ? `:${s.store}` : ''}@${s.node === owner ? 'owner' : s.node === partner ? 'partner' : s.node}`);
    for (const want of ['journal@owner', 'send@owner', 'mirror@partner', 'mirrored@partner', 'flush@owner', 'trim:journal@owner', 'trim:mirror@partner']) {
      assert.ok(seen.includes(want), `no ${want} step among ${seen.join(', ')}`);
    }
    const at = (name: string) => seen.indexOf(name);
    assert.ok(at('send@owner') < at('mirror@partner') && at('mirror@partner') < at('mirrored@partner'), `mirroring out of order: ${seen.join(', ')}`);
    assert.ok(at('mirrored@partner') < at('flush@owner') && at('flush@owner') < at('trim:journal@owner'), `flush out of order: ${seen.join(', ')}`);
    await noViolations(sim);
  });

  test('in slow motion every step is held, and the ack waits for the held journal, mirror and answer', async () => {
    const hold = { ms: 0 };
    const { sim, steps, owner } = await tracedCluster(hold);
    const fast = sim.submit(owner, 1, write('/fast', 'x'));
    let start = sim.now;
    await acked(sim, [fast]);
    const fastMs = sim.now - start;
    hold.ms = 300;
    steps.length = 0;
    start = sim.now;
    const slow = sim.submit(owner, 1, write('/slow', 'y'));
    await acked(sim, [slow]);
    const slowMs = sim.now - start;
    // send (held 300) → the partner's mirror put (held 300) → its mirrored answer (held 300).
    assert.ok(slowMs >= 900, `acked after ${slowMs} ms with every step held 300 ms (at full speed: ${fastMs} ms)`);
    assert.ok(steps.every((s) => s.holdMs === 300), 'a step was not held');
    await noViolations(sim);
  });

  test('slow motion never holds liveness: a live owner keeps its volume through held steps far longer than the hang timeout', async () => {
    const hold = { ms: 0 };
    const { sim, owner } = await tracedCluster(hold);
    hold.ms = 4000; // each held step outlasts the 1.5 s hang timeout
    const ops = [0, 1, 2].map((i) => sim.submit(owner, 1, write(`/f${i}`, 'z')));
    await acked(sim, ops, 60_000);
    assert.equal(sim.ownerOf(1), owner, 'the partner took the volume from a live owner whose steps were held');
    hold.ms = 0; // slow motion off: journal and mirror drain in the usual time
    await noViolations(sim);
  });

  test("a takeover's steps: fence, replay (flush), and the trim of the mirror it replayed from", async () => {
    const { sim, steps, owner, partner } = await tracedCluster({ ms: 0 });
    const ops = [0, 1, 2].map((i) => sim.submit(owner, 1, write(`/t${i}`, 'w')));
    await acked(sim, ops);
    steps.length = 0;
    sim.world.crash(owner);
    const last = ops.at(-1)!.lsn!;
    const mine = (kind: string) => steps.filter((s) => s.node === partner && s.kind === kind);
    assert.ok(await sim.runUntil(() => sim.ownerOf(1) === partner, 5000), 'the partner did not take over');
    assert.ok(mine('fence').length > 0, 'no fence step');
    assert.ok(await sim.runUntil(() => mine('trim').some((s) => s.store === 'mirror' && covers(s, last)), 5000), 'the mirror was not trimmed after the takeover');
    await noViolations(sim);
  });

  test('ping measures the round trip over the link; a peer that is gone gives no answer', async () => {
    const { sim, tracers, owner, partner } = await tracedCluster({ ms: 0 });
    let rtt: number | undefined | 'pending' = 'pending';
    void tracers.get(owner)!.ping(partner).then((ms) => (rtt = ms));
    assert.ok(await sim.runUntil(() => rtt !== 'pending', 3000));
    assert.equal(typeof rtt, 'number');
    assert.ok((rtt as unknown as number) > 0 && (rtt as unknown as number) < 100, `round trip ${String(rtt)} ms`);
    let lost: number | undefined | 'pending' = 'pending';
    void tracers.get(owner)!.ping('nobody').then((ms) => (lost = ms));
    assert.ok(await sim.runUntil(() => lost !== 'pending', 3000));
    assert.equal(lost, undefined);
  });
});
