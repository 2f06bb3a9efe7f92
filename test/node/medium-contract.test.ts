// The Medium contract (src/core/medium-contract.ts), run against every medium the simulator has:
// the plain in-memory one, and the simulated world's (latency, per-volume mutex, fault hooks).
import { test } from 'node:test';
import { mediumContract, type MediumUnderTest } from '../../src/core/medium-contract.js';
import type { Medium } from '../../src/core/ports.js';
import { MemoryMedium } from '../../src/sim/memory-medium.js';
import { Rng } from '../../src/sim/rng.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { DEFAULT_LATENCIES, World } from '../../src/sim/world.js';

async function memoryMedium(): Promise<MediumUnderTest> {
  const medium = new MemoryMedium();
  return {
    medium,
    read: async (volume, path) => medium.fs(volume).read(path, 0, Infinity),
    exists: async (volume, path) => medium.fs(volume).stat(path) !== undefined,
  };
}

/** The world's medium for one node; each call runs virtual time until it settles. */
async function worldMedium(): Promise<MediumUnderTest> {
  const rng = new Rng(1);
  const scheduler = new Scheduler(rng.fork());
  const world = new World(scheduler, rng.fork(), { ...DEFAULT_LATENCIES, store: 0.5, medium: 0.5, link: 0.5 });
  world.spawn('n1');
  const inner = world.ports('n1', rng.fork()).medium;
  const settle = async <T>(promise: Promise<T>): Promise<T> => {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    await scheduler.runUntil(scheduler.now + 60_000, () => done);
    return promise;
  };
  const medium: Medium = {
    state: (volume) => settle(inner.state(volume)),
    claim: (volume, epoch, base) => settle(inner.claim(volume, epoch, base)),
    apply: (volume, epoch, ops) => settle(inner.apply(volume, epoch, ops)),
    stat: (volume, path) => settle(inner.stat(volume, path)),
    list: (volume, path) => settle(inner.list(volume, path)),
    read: (volume, path, offset, length) => settle(inner.read(volume, path, offset, length)),
  };
  return {
    medium,
    read: async (volume, path) => world.volume(volume).fs.read(path, 0, Infinity),
    exists: async (volume, path) => world.volume(volume).fs.stat(path) !== undefined,
  };
}

for (const [name, make] of [['MemoryMedium', memoryMedium], ['simulated world', worldMedium]] as const) {
  for (const contractCase of mediumContract()) {
    test(`${name}: ${contractCase.name}`, () => contractCase.run(make));
  }
}
