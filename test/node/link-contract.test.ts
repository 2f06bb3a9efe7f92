// The Link contract (src/core/link-contract.ts) against the simulated world's links. The world
// moves only while its virtual time runs, so the harness's `until` runs the scheduler until the
// case's condition holds, and its clock is the virtual one.
import { test } from 'node:test';
import { linkContract, type LinksUnderTest } from '../../src/core/link-contract.js';
import type { Link } from '../../src/core/ports.js';
import { Rng } from '../../src/sim/rng.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { DEFAULT_LATENCIES, World } from '../../src/sim/world.js';

async function simulatedLinks(opened: (link: Link) => void): Promise<LinksUnderTest> {
  const rng = new Rng(1);
  const scheduler = new Scheduler(rng.fork());
  const world = new World(scheduler, rng.fork(), { ...DEFAULT_LATENCIES, store: 0.5, medium: 0.5, link: 0.5 });
  const link = (id: string) => {
    world.spawn(id);
    const spawned = world.ports(id, rng.fork()).link;
    opened(spawned);
    return spawned;
  };
  return {
    a: link('a'),
    b: link('b'),
    c: link('c'),
    until: async (done, ms) => {
      await scheduler.runUntil(scheduler.now + ms, done);
      return done();
    },
    now: () => scheduler.now,
    stop: async (stopped) => world.crash(stopped.self),
    cut: async (x, y) => world.cut(x.self, y.self),
    close: async () => {},
  };
}

for (const contractCase of linkContract()) {
  test(`simulated world: ${contractCase.name}`, (t) => contractCase.run(simulatedLinks, (text) => t.diagnostic(`in virtual time: ${text}`)));
}
