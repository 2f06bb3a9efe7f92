// One random simulated run: a cluster running the real core, random clients, random faults
// (one node failure at a time), then healing, settling and the final checks.
import type { NodeId } from '../core/ports.js';
import type { Op } from '../record/types.js';
import { SimCluster, type MakeNode } from './cluster.js';
import type { Rng } from './rng.js';
import type { World } from './world.js';

export interface RunOptions {
  seed: number;
  ops: number;
  makeNode?: MakeNode;
}

export type FaultKind =
  | 'crash' | 'crash+wipe' | 'hang' | 'cut' | 'medium-transient' | 'medium-broken' | 'store-quota' | 'medium-quota'
  | 'corrupt-stored' | 'corrupt-in-flight' | 'cluster-restart' | 'stall-damage-crash' | 'slow-link-crash' | 'leave';

export interface RunResult {
  seed: number;
  ok: boolean;
  violations: string[];
  trace: string[];
  stats: {
    submitted: number;
    acked: number;
    failed: number;
    events: number;
    virtualMs: number;
    faults: Partial<Record<FaultKind, number>>;
  };
}

const PATHS = ['/a', '/b', '/d/a', '/d/b', '/e/f'];

function randomOp(rng: Rng, now: number): Op {
  const path = rng.pick(PATHS);
  const roll = rng.int(100);
  if (roll < 50) {
    const data = new Uint8Array(1 + rng.int(rng.chance(0.1) ? 8192 : 512));
    for (let i = 0; i < data.length; i += 97) data[i] = rng.int(256);
    return { type: 'write', path, offset: rng.int(4096), data, mtimeMs: now };
  }
  if (roll < 58) return { type: 'truncate', path, size: rng.int(2048), mtimeMs: now };
  if (roll < 65) return { type: 'create', path, exclusive: false, truncate: rng.chance(0.5), mtimeMs: now };
  if (roll < 70) return { type: 'mkdir', path: rng.pick(['/d', '/e', '/g']), recursive: true };
  if (roll < 80) return { type: 'rename', path, target: rng.pick(PATHS) };
  if (roll < 88) return { type: 'unlink', path };
  if (roll < 92) return { type: 'rmdir', path: rng.pick(['/d', '/e', '/g']), recursive: rng.chance(0.5) };
  return { type: 'setTimes', path, atimeMs: now, mtimeMs: now };
}

export async function run(options: RunOptions): Promise<RunResult> {
  const cluster = new SimCluster({
    seed: options.seed,
    makeNode: options.makeNode,
    node: {},
  });
  const { rng, scheduler, world, nodes } = cluster;
  // Half the runs mirror after the journal instead of beside it; some hold acks without a mirror;
  // some have a journal cap small enough for backpressure to bite; batch sizes and flush delays vary.
  const settings = {
    mirrorConcurrently: rng.chance(0.5),
    requireMirror: rng.chance(0.25),
    ...(rng.chance(0.2) ? { journalCapBytes: 16_384 } : {}),
    // Small batches make replays and flushes take several steps, which orderings can then break.
    batchMaxOps: rng.pick([4, 16, 256]),
    // A flusher that starts at once races whatever else runs (a replay, a fence) more closely.
    flushDelayMs: rng.pick([0, 50]),
  };
  Object.assign(cluster.nodeOptions, settings);
  const note = (line: string) => cluster.note(line);
  const faults: RunResult['stats']['faults'] = {};
  let faultActive = false;
  let quietUntil = 0;

  const count = (kind: FaultKind) => {
    faults[kind] = (faults[kind] ?? 0) + 1;
  };
  const liveNodes = () => cluster.live();
  const startNode = () => void cluster.start();

  const submit = () => {
    const from = cluster.up();
    if (from.length === 0 || cluster.inProgress() >= 16) return;
    cluster.submit(rng.pick(from), rng.pick(cluster.volumes), randomOp(rng, scheduler.now));
  };

  /** Ends a fault after `ms`; the next may start once the cluster had time to recover. */
  const healAfter = (ms: number, heal: () => void) => {
    faultActive = true;
    scheduler.at(ms, () => {
      heal();
      faultActive = false;
      quietUntil = scheduler.now + 2500;
    });
  };

  /**
   * Crashes a node, and loses its stores too when that is still a single failure: no acked op
   * has its journal as only copy, and it holds no intact twin of a damaged record. For volumes it
   * owns, the node itself says whether a partner mirrors its acked records (a broken core may lie,
   * and must be caught); for volumes it gave up or lost, a mirror must hold its journal's records.
   */
  const crash = (victim: NodeId, mayWipe: boolean): void => {
    const stores = world.stores.get(victim)!;
    const holdsTwin = Object.values(stores).some((store) =>
      store.sorted().some((r) => world.damaged.has(`${r.volume}:${r.lsn}:${r.epoch}`)));
    const node = nodes.get(victim)!;
    const owned = new Set(node.status().owns.map((v) => v.volume));
    const mirroredElsewhere = (volume: number, lsn: number) =>
      [...world.stores].some(([id, other]) => id !== victim && other.mirror.records.has(`${volume}:${lsn}`));
    const orphans = stores.journal.sorted().some((r) => !owned.has(r.volume) && !mirroredElsewhere(r.volume, r.lsn));
    const wipe = mayWipe && !holdsTwin && !orphans && world.processes.get(victim)?.state !== 'down' && !node.hasUnmirroredAcks;
    count(wipe ? 'crash+wipe' : 'crash');
    note(`FAULT crash ${victim}${wipe ? ' and lose its stores' : ''}`);
    world.crash(victim);
    if (wipe) world.wipeStores(victim);
  };

  /** A node that owns a volume, if any is up (failures of owners are the interesting ones). */
  const anOwner = (): NodeId | undefined => {
    const owners = cluster.up().filter((id) => nodes.get(id)!.status().owns.length > 0);
    return owners.length ? rng.pick(owners) : undefined;
  };

  const injectFault = () => {
    const live = liveNodes();
    if (live.length === 0) return;
    const victim = rng.chance(0.6) ? (anOwner() ?? rng.pick(live)) : rng.pick(live);
    const roll = rng.int(128);
    if (roll >= 120) {
      count('leave');
      note(`FAULT ${victim} leaves (planned)`);
      faultActive = true;
      void nodes.get(victim)!.leave().then(() => {
        note(`${victim} left`);
        world.crash(victim);
        healAfter(200 + rng.int(2000), startNode);
      });
    } else if (roll >= 100) {
      // Records pile up unflushed (the owner's medium stalls), then the owner dies: the takeover
      // must replay them all. Either a stored copy or a mirror message is damaged first (replay
      // must use the intact copy), or the links were slow and the owner's stores are lost (every
      // acked record must be in the mirror).
      const damage = roll < 110;
      count(damage ? 'stall-damage-crash' : 'slow-link-crash');
      note(`FAULT medium I/O of ${victim} stalls${damage ? '' : ' and its links slow down'}`);
      // Broken I/O makes the owner hand over (a takeover around damage); a full medium keeps it
      // owning its piled-up records until it dies with its stores.
      world.setMediumFault(victim, damage ? 'broken' : 'full');
      if (damage && rng.chance(0.5)) world.corruptNextMirror.add(victim);
      if (!damage) world.linkDelay.set(victim, 20 + rng.int(200));
      faultActive = true;
      scheduler.at(50 + rng.int(800), () => {
        if (damage && corruptStored(world, rng, note)) count('corrupt-stored');
        world.linkDelay.delete(victim);
        crash(victim, !damage);
        healAfter(200 + rng.int(2000), startNode);
      });
    } else if (roll < 18) {
      crash(victim, rng.chance(0.4));
      healAfter(200 + rng.int(3000), startNode);
    } else if (roll < 32) {
      count('hang');
      const ms = rng.chance(0.7) ? 2000 + rng.int(4000) : 100 + rng.int(800);
      note(`FAULT hang ${victim} for ${ms} ms`);
      world.hang(victim);
      healAfter(ms, () => {
        note(`resume ${victim}`);
        world.resume(victim);
      });
    } else if (roll < 44 && live.length >= 2) {
      const other = rng.pick(live.filter((n) => n !== victim));
      count('cut');
      note(`FAULT cut ${victim} from ${other}`);
      world.cut(victim, other);
      healAfter(300 + rng.int(4000), () => {
        note(`heal ${victim}-${other}`);
        world.heal(victim, other);
      });
    } else if (roll < 54) {
      count('medium-transient');
      note(`FAULT medium I/O of ${victim} flaky`);
      world.setMediumFault(victim, 'transient');
      healAfter(500 + rng.int(3000), () => world.setMediumFault(victim, 'ok'));
    } else if (roll < 62) {
      count('medium-broken');
      note(`FAULT medium I/O of ${victim} broken`);
      world.setMediumFault(victim, 'broken');
      healAfter(1000 + rng.int(5000), () => world.setMediumFault(victim, 'ok'));
    } else if (roll < 69) {
      count('store-quota');
      note(`FAULT stores of ${victim} out of quota`);
      world.setStoreQuota(victim, true);
      healAfter(200 + rng.int(2000), () => world.setStoreQuota(victim, false));
    } else if (roll < 74) {
      count('medium-quota');
      note('FAULT medium out of quota');
      let bytes = 0;
      for (const volume of world.volumes.values()) bytes += volume.fs.bytes();
      world.mediumQuota = bytes;
      healAfter(200 + rng.int(2000), () => (world.mediumQuota = Number.POSITIVE_INFINITY));
    } else if (roll < 86) {
      if (corruptStored(world, rng, note)) count('corrupt-stored');
    } else if (roll < 94) {
      count('corrupt-in-flight');
      note(`FAULT the next mirror message of ${victim} is damaged`);
      world.corruptNextMirror.add(victim);
    } else {
      count('cluster-restart');
      note('FAULT every node stops');
      for (const id of live) world.crash(id);
      const restart = 1 + rng.int(3);
      healAfter(100 + rng.int(2000), () => {
        for (let i = 0; i < restart; i++) startNode();
      });
    }
  };

  const initial = 2 + rng.int(2);
  for (let i = 0; i < initial; i++) startNode();

  while (cluster.stats.submitted < options.ops) {
    const burst = 1 + rng.int(3);
    for (let i = 0; i < burst; i++) submit();
    if (!faultActive && scheduler.now >= quietUntil && rng.chance(0.04)) injectFault();
    if (liveNodes().length === 0 && !faultActive) startNode();
    await scheduler.runUntil(scheduler.now + rng.int(120));
  }

  // Heal everything, then let the cluster settle.
  await scheduler.runUntil(scheduler.now + 10_000, () => !faultActive);
  for (const id of liveNodes()) {
    world.resume(id);
    world.setMediumFault(id, 'ok');
    world.setStoreQuota(id, false);
  }
  world.healAllLinks();
  world.linkDelay.clear();
  world.mediumQuota = Number.POSITIVE_INFINITY;
  world.corruptNextMirror.clear();
  // Two nodes at least: with a mirror required, a lone owner rightly holds its acks.
  while (liveNodes().length < 2) startNode();
  note(`healed (${JSON.stringify(settings)}); settling`);
  const violations = await cluster.finish();

  return {
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    trace: cluster.trace,
    stats: { ...cluster.stats, events: scheduler.events, virtualMs: Math.round(scheduler.now), faults },
  };
}

/** Damages one stored copy of a record that has another intact copy (one fault per record). */
function corruptStored(world: World, rng: Rng, note: (line: string) => void): boolean {
  const copies = new Map<string, Array<{ node: NodeId; kind: 'journal' | 'mirror' }>>();
  for (const [node, stores] of world.stores) {
    for (const kind of ['journal', 'mirror'] as const) {
      for (const record of stores[kind].sorted()) {
        const key = `${record.volume}:${record.lsn}:${record.epoch}`;
        copies.set(key, [...(copies.get(key) ?? []), { node, kind }]);
      }
    }
  }
  const candidates = [...copies.entries()].filter(([key, where]) => where.length >= 2 && !world.damaged.has(key));
  if (candidates.length === 0) return false;
  const [key, where] = rng.pick(candidates);
  const { node, kind } = rng.pick(where);
  const store = world.stores.get(node)![kind];
  const [volume, lsn] = key.split(':').map(Number) as [number, number];
  const record = store.records.get(`${volume}:${lsn}`)!;
  const frame = record.frame.slice();
  // Damage the body (path, payload) most of the time: a bad header is caught by any decoder.
  const at = frame.length > 80 && rng.chance(0.8) ? 72 + rng.int(frame.length - 76) : rng.int(frame.length);
  frame[at]! ^= 1 << rng.int(8);
  store.records.set(`${volume}:${lsn}`, { ...record, frame });
  world.damaged.add(key);
  note(`FAULT damage ${kind} of ${node}: volume ${volume} LSN ${lsn} byte ${at}`);
  return true;
}
