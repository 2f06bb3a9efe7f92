// The RecordStore and StoreDirectory contract (src/core/record-store-contract.ts), run against
// the simulated world's stores: each node's journal and mirror, and its directory of every node's.
import { test } from 'node:test';
import type { RecordStore, StoreDirectory } from '../../src/core/ports.js';
import { recordStoreContract, type StoresUnderTest } from '../../src/core/record-store-contract.js';
import { Rng } from '../../src/sim/rng.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { DEFAULT_LATENCIES, World } from '../../src/sim/world.js';

type Settle = <T>(promise: Promise<T>) => Promise<T>;

/** Two nodes of a fresh world; every store call runs virtual time until it settles. */
async function worldStores(): Promise<StoresUnderTest> {
  const rng = new Rng(1);
  const scheduler = new Scheduler(rng.fork());
  const world = new World(scheduler, rng.fork(), { ...DEFAULT_LATENCIES, store: 0.5, medium: 0.5, link: 0.5 });
  world.spawn('n1');
  world.spawn('n2');
  const settle: Settle = async (promise) => {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    await scheduler.runUntil(scheduler.now + 60_000, () => done);
    return promise;
  };
  const ports = world.ports('n1', rng.fork());
  return {
    self: 'n1',
    journal: settled(ports.journal, settle),
    mirror: settled(ports.mirror, settle),
    directory: settledDirectory(ports.stores, settle),
    other: { node: 'n2', journal: settled(world.ports('n2', rng.fork()).journal, settle) },
  };
}

function settled(store: RecordStore, settle: Settle): RecordStore {
  return {
    put: (records) => settle(store.put(records)),
    list: (volume, from) => settle(store.list(volume, from)),
    deleteRange: (volume, from, to) => settle(store.deleteRange(volume, from, to)),
  };
}

function settledDirectory(directory: StoreDirectory, settle: Settle): StoreDirectory {
  return {
    nodes: () => settle(directory.nodes()),
    journal: (node) => settled(directory.journal(node), settle),
    mirror: (node) => settled(directory.mirror(node), settle),
  };
}

for (const contractCase of recordStoreContract()) {
  test(`simulated world: ${contractCase.name}`, () => contractCase.run(worldStores));
}
