// The Locks contract against the simulator's lock manager (two nodes of one world).
import { test } from 'node:test';
import { locksContract, type LocksUnderTest } from '../../src/core/locks-contract.js';
import type { Locks } from '../../src/core/ports.js';
import { Rng } from '../../src/sim/rng.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { DEFAULT_LATENCIES, World } from '../../src/sim/world.js';

async function make(): Promise<LocksUnderTest> {
  const rng = new Rng(3);
  const scheduler = new Scheduler(rng.fork());
  const world = new World(scheduler, rng.fork(), { ...DEFAULT_LATENCIES, store: 0.5, medium: 0.5, link: 0.5 });
  world.spawn('a');
  world.spawn('b');
  const tick = () => scheduler.runUntil(scheduler.now + 100);
  // World calls complete on virtual time: run it until each call settles.
  const driven = (locks: Locks): Locks => ({
    tryAcquire: async (name) => {
      const pending = locks.tryAcquire(name);
      await tick();
      return pending;
    },
    wait: (name) => locks.wait(name),
    steal: async (name) => {
      const pending = locks.steal(name);
      await tick();
      return pending;
    },
  });
  return { a: driven(world.ports('a', rng.fork()).locks), b: driven(world.ports('b', rng.fork()).locks), tick };
}

for (const contractCase of locksContract()) {
  test(`simulated world: ${contractCase.name}`, () => contractCase.run(make));
}
