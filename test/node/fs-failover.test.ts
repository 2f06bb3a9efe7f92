// The fs layer through ownership moves: a change retried after a takeover keeps its op id and is
// applied once; reads see every acked write, before the flush and after the takeover.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cluster, fsClient as client, noViolations, roles } from './sim-helpers.js';

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
});
