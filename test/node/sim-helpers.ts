// Helpers for the scripted simulator tests: a settled cluster, its roles, and the checks every
// such test ends with (the simulator's own invariants).
import assert from 'node:assert/strict';
import type { NodeEvent } from '../../src/core/node.js';
import type { NodeOptions } from '../../src/core/options.js';
import type { NodeId } from '../../src/core/ports.js';
import type { Op } from '../../src/record/types.js';
import { SimCluster, type Submitted } from '../../src/sim/cluster.js';
import { Mounts } from '../../src/fs/paths.js';
import { FsPromises, type FsBackend } from '../../src/fs/promises.js';

const utf8 = new TextEncoder();
export const write = (path: string, text: string, offset = 0): Op => ({ type: 'write', path, offset, data: utf8.encode(text), mtimeMs: 0 });

/** A cluster of `count` nodes serving volume 1, settled: an owner with its partner in sync. */
export async function cluster(count: number, node: Partial<NodeOptions> = {}, seed = 11): Promise<SimCluster> {
  const sim = new SimCluster({ seed, volumes: [1], node });
  for (let i = 0; i < count; i++) sim.start();
  const ready = await sim.runUntil(() => {
    const owner = sim.ownerOf(1);
    const status = owner ? sim.node(owner).status().owns[0] : undefined;
    return count === 1 ? status !== undefined : status?.degraded === false;
  }, 5000);
  assert.ok(ready, 'the cluster did not form');
  return sim;
}

export function roles(sim: SimCluster): { owner: NodeId; partner: NodeId } {
  const owner = sim.ownerOf(1)!;
  return { owner, partner: sim.node(owner).status().owns[0]!.partner! };
}

export function events(sim: SimCluster, id: NodeId): NodeEvent[] {
  const seen: NodeEvent[] = [];
  sim.node(id).onEvent((event) => seen.push(event));
  return seen;
}

export const holds = (sim: SimCluster, node: NodeId, kind: 'journal' | 'mirror', lsn: number) =>
  sim.world.stores.get(node)![kind].records.has(`1:${lsn}`);

export const fileText = (sim: SimCluster, path: string) => new TextDecoder().decode(sim.world.volume(1).fs.read(path, 0, 1 << 20));

export async function acked(sim: SimCluster, ops: Submitted[], ms = 10_000): Promise<void> {
  assert.ok(await sim.runUntil(() => ops.every((op) => op.lsn !== undefined), ms), 'ops were not acked');
}

export async function noViolations(sim: SimCluster): Promise<void> {
  assert.deepEqual(await sim.finish(), [], sim.trace.join('\n'));
}


/**
 * The fs API of a client at node `at`, volume 1 mounted at "/": each call runs the simulation
 * until it settles. `now` is the wall clock for mtimes.
 */
export function fsClient(sim: SimCluster, at: NodeId, now: () => number = () => 1_700_000_000_000): FsPromises {
  const drive = async <T>(work: Promise<T>): Promise<T> => {
    let settled = false;
    work.then(() => (settled = true), () => (settled = true));
    await sim.runUntil(() => settled, 60_000);
    return work;
  };
  const backend: FsBackend = {
    change: (volume, change) => drive(sim.change(at, volume, change)),
    query: (volume, query) => drive(sim.query(at, volume, query)),
  };
  const mounts = new Mounts({ '/': 1 });
  return new FsPromises(async () => backend, () => mounts, now);
}
