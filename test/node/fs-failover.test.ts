// The fs layer through ownership moves: a change retried after a takeover keeps its op id and is
// applied once; reads see every acked write, before the flush and after the takeover.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cluster, events, fsClient as client, noViolations, roles } from './sim-helpers.js';

describe('fs through ownership moves', () => {
  test('appendFile through an owner crash: every append is in the file exactly once', async () => {
    const sim = await cluster(3);
    const { owner, partner } = roles(sim);
    const at = sim.up().find((id) => id !== owner && id !== partner)!;
    const fs = client(sim, at);
    await fs.writeFile('/log', '');
    // The owner dies the moment its partner holds the 5th append, before any answer leaves it:
    // the client hears nothing and retries the append at the next owner.
    let mirrored = 0;
    const watching = sim.world.onHandled;
    sim.world.onHandled = (from, to, message) => {
      watching?.(from, to, message);
      if (from === owner && to === partner && (message as { t: string }).t === 'mirror' && ++mirrored === 6) sim.world.crash(owner);
    };
    const expected: string[] = [];
    for (let i = 0; i < 12; i++) {
      const line = `line ${i}\n`;
      await fs.appendFile('/log', line);
      expected.push(line);
      // Read-your-writes from another node, before any flush is waited for.
      assert.equal(await fs.readFile('/log', 'utf8'), expected.join(''), `after append ${i}`);
    }
    assert.ok(!sim.up().includes(owner), 'the owner did not crash');
    assert.equal(sim.ownerOf(1), partner, 'the partner did not take over');
    await noViolations(sim);
  });

  test('a write acked before the owner crashed reads back at the new owner, from any node', async () => {
    const sim = await cluster(3);
    const { owner, partner } = roles(sim);
    const other = sim.up().find((id) => id !== owner && id !== partner)!;
    await client(sim, owner).mkdir('/d');
    await client(sim, owner).writeFile('/d/f', 'before the crash');
    sim.world.crash(owner);
    assert.equal(await client(sim, other).readFile('/d/f', 'utf8'), 'before the crash');
    assert.deepEqual(await client(sim, partner).readdir('/d'), ['f']);
    await noViolations(sim);
  });

  test('events tell how far behind the medium an owner is, and how far a takeover has replayed', async () => {
    const sim = await cluster(2, { batchMaxOps: 2 });
    const { owner, partner } = roles(sim);
    const atOwner = events(sim, owner);
    const atPartner = events(sim, partner);
    sim.world.setMediumFault(owner, 'full'); // acked, never flushed: a backlog
    const fs = client(sim, partner);
    for (let i = 0; i < 5; i++) await fs.writeFile(`/f${i}`, `${i}`);
    await sim.run(2500); // a sweep or two
    const lag = () => atOwner.filter((e) => e.type === 'flush-lag').map((e) => e.type === 'flush-lag' && e.records);
    assert.ok(lag().includes(5), `no lag of 5 records reported: ${lag().join()}`);
    sim.world.setMediumFault(owner, 'ok');
    await sim.run(2500);
    assert.equal(lag().at(-1), 0, 'the lag was not reported cleared');
    // Another backlog, and the owner dies with it: its partner replays it before serving.
    sim.world.setMediumFault(owner, 'full');
    for (let i = 0; i < 5; i++) await fs.writeFile(`/g${i}`, `${i}`);
    sim.world.crash(owner);
    assert.equal(await fs.readFile('/g4', 'utf8'), '4');
    const progress = atPartner.flatMap((e) => (e.type === 'replay-progress' ? [[e.replayed, e.total]] : []));
    assert.deepEqual(progress, [[2, 5], [4, 5], [5, 5]], 'replayed in batches of two');
    assert.ok(atPartner.some((e) => e.type === 'takeover-finished' && e.replayed === 5));
    await noViolations(sim);
  });

  test('a file eight times the journal cap goes through, the owner never holding more than the cap unflushed', async () => {
    const cap = 1024 * 1024;
    const sim = await cluster(2, { journalCapBytes: cap, opTimeoutMs: 60_000 });
    const { owner, partner } = roles(sim);
    sim.world.setMediumSlowdown(owner, 2000); // the flusher lags far behind: backpressure must hold the writer back
    const big = new Uint8Array(8 * cap);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) >> 9;
    const fs = client(sim, partner);
    await fs.writeFile('/big', big);
    const back = (await fs.readFile('/big')) as Uint8Array;
    assert.equal(back.length, big.length);
    assert.ok(back.every((b, i) => b === big[i]), 'the bytes differ');
    await noViolations(sim); // the checker's journal cap: unflushed bytes past the cap by one record at most
  });
});
