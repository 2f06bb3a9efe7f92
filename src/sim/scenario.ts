// One random simulated run: a cluster running the real core, random clients, random faults
// (one node failure at a time), then healing, settling and the final checks. Besides plain
// faults, some are aimed at the narrow windows where a core goes wrong: a partner crashing
// between its answer and its store write, a takeover meeting a damaged copy beside an intact
// one, re-pairing with a backlog in flight, an owner dying with records on the wire (its
// clients' retries meet the takeover), a fence while an apply is out, a journal that fails
// while its records are mirrored, and data channels that stall under a live owner.
import type { NodeId } from '../core/ports.js';
import type { Op } from '../record/types.js';
import type { FsChange } from '../core/fs-request.js';
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
  | 'corrupt-stored' | 'corrupt-in-flight' | 'cluster-restart' | 'stall-damage-crash' | 'slow-link-crash' | 'leave'
  | 'link-stall' | 'partner-crash-mid-mirror' | 'damaged-copy-takeover' | 'repair-with-backlog' | 'owner-crash-mid-op'
  | 'fence-mid-apply' | 'journal-fail-crash' | 'journal-fail-slow-partner' | 'slow-replay' | 'retry-after-move';

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
  if (roll < 97) return { type: 'setTimes', path, atimeMs: now, mtimeMs: now };
  return roll < 99 ? { type: 'symlink', path, target: linkTarget(roll, path) } : { type: 'chmod', path, mode: modeOf(roll, path) };
}

/** What links hold: relative and absolute, to files and directories, dangling, and cycles. */
const LINK_TARGETS = ['a', 'b', '/d', '../e/f', '/d/a', '/a', 'nowhere'];
const MODES = [0o600, 0o644, 0o755, 0o1777];

// A link's target and a mode come from what was drawn already, not from draws of their own: an
// extra draw would shift every later one, and the broken variants (test/node/broken-variants.ts)
// are caught at seeds found with the draws as they were.
function linkTarget(roll: number, path: string): string {
  return LINK_TARGETS[(roll + path.charCodeAt(path.length - 1)) % LINK_TARGETS.length]!;
}

function modeOf(roll: number, path: string): number {
  return MODES[(roll + path.charCodeAt(path.length - 1)) % MODES.length]!;
}

/** A change through the fs layer: Node's semantics, checked at the owner (many are refused). */
function randomChange(rng: Rng, now: number): FsChange {
  const path = rng.pick(PATHS);
  const roll = rng.int(100);
  if (roll < 45) {
    const data = new Uint8Array(rng.int(rng.chance(0.1) ? 8192 : 512));
    for (let i = 0; i < data.length; i += 97) data[i] = rng.int(256);
    const append = rng.chance(0.3);
    return {
      kind: 'write', path, data, at: append ? 'end' : rng.int(2048), create: rng.chance(0.8),
      exclusive: rng.chance(0.1), truncate: !append && rng.chance(0.5), mtimeMs: now,
    };
  }
  if (roll < 52) return { kind: 'truncate', path, size: rng.int(2048), mtimeMs: now };
  if (roll < 62) return { kind: 'mkdir', path: rng.pick(['/d', '/e', '/g', '/d/h']), recursive: rng.chance(0.5) };
  if (roll < 74) return { kind: 'rename', path, target: rng.pick([...PATHS, '/g', '/d']) };
  if (roll < 82) return { kind: 'unlink', path };
  if (roll < 87) return { kind: 'rmdir', path: rng.pick(['/d', '/e', '/g']) };
  if (roll < 94) return { kind: 'rm', path: rng.pick([...PATHS, '/d', '/e']), recursive: rng.chance(0.5), force: rng.chance(0.5) };
  if (roll < 97) return { kind: 'utimes', path, atimeMs: now, mtimeMs: now };
  return roll < 99 ? { kind: 'symlink', path, target: linkTarget(roll, path) } : { kind: 'chmod', path, mode: modeOf(roll, path) };
}

export async function run(options: RunOptions): Promise<RunResult> {
  const cluster = new SimCluster({ seed: options.seed, makeNode: options.makeNode, node: {} });
  // A promise of the core that rejects with nobody to hear it is a bug of the core's: during a
  // run the simulator hears such rejections alone, and reports them as violations.
  const others = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (error) => cluster.checker.threw(error));
  try {
    return await runScenario(options, cluster);
  } finally {
    process.removeAllListeners('unhandledRejection');
    for (const listener of others) process.on('unhandledRejection', listener);
  }
}

async function runScenario(options: RunOptions, cluster: SimCluster): Promise<RunResult> {
  const { rng, scheduler, world, nodes } = cluster;
  // Half the runs mirror after the journal instead of beside it; some hold acks without a mirror;
  // some have a journal cap small enough for backpressure to bite; batch sizes and flush delays vary.
  const settings = {
    mirrorConcurrently: rng.chance(0.5),
    requireMirror: rng.chance(0.25),
    ...(rng.chance(0.25) ? { journalCapBytes: rng.pick([4096, 16_384]) } : {}),
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
    // Raw ops (the medium's semantics) and fs changes (Node's) in one stream, on the same paths.
    if (rng.chance(0.5)) void cluster.change(rng.pick(from), rng.pick(cluster.volumes), randomChange(rng, scheduler.now)).catch(() => {});
    else cluster.submit(rng.pick(from), rng.pick(cluster.volumes), randomOp(rng, scheduler.now));
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

  /** An up owner of a volume it serves, with a partner that is up: [owner, volume, partner]. */
  const aPair = (): [NodeId, number, NodeId] | undefined => {
    const pairs: Array<[NodeId, number, NodeId]> = [];
    for (const id of cluster.up()) {
      for (const v of nodes.get(id)!.status().owns) if (v.partner && world.isUp(v.partner)) pairs.push([id, v.volume, v.partner]);
    }
    return pairs.length ? rng.pick(pairs) : undefined;
  };

  /** Runs `action` once, when `node` handles (or sends) a message of kind `t`; gives up after 2 s. */
  const onNextMessage = (hook: 'onHandled' | 'onSend', node: NodeId, t: string, action: () => void) => {
    const before = world[hook];
    let armed = true;
    const disarm = () => {
      armed = false;
      world[hook] = before;
    };
    world[hook] = (from, to, message) => {
      before?.(from, to, message);
      if (armed && (hook === 'onSend' ? from : to) === node && (message as { t?: string }).t === t) {
        disarm();
        action();
      }
    };
    scheduler.at(2000, () => {
      if (!armed) return;
      disarm();
      healAfter(0, () => {});
    });
  };

  /** Faults aimed at the narrow windows (see the top of this file). False when none fits now. */
  const targeted: Array<[FaultKind, (live: NodeId[]) => boolean]> = [
    ['link-stall', (live) => {
      // A data channel that stalls for longer than the hang timeout, under a live node: its
      // heartbeats must still get through, or its partner takes a live owner's volume.
      const victim = anOwner() ?? rng.pick(live);
      const ms = 2000 + rng.int(2500);
      note(`FAULT data channels of ${victim} stall for ${ms} ms`);
      world.stallLinks(victim, ms);
      healAfter(ms, () => {});
      return true;
    }],
    ['partner-crash-mid-mirror', () => {
      const pair = aPair();
      if (!pair) return false;
      const partner = pair[2];
      note(`FAULT ${partner} will crash as it takes its next records to mirror`);
      faultActive = true;
      onNextMessage('onHandled', partner, 'mirror', () => {
        crash(partner, false);
        healAfter(200 + rng.int(2000), startNode);
      });
      return true;
    }],
    ['damaged-copy-takeover', () => {
      const pair = aPair();
      if (!pair) return false;
      const [owner, volume, partner] = pair;
      note(`FAULT medium I/O of ${owner} stalls; then a mirror copy at ${partner} is damaged and ${owner} dies`);
      world.setMediumFault(owner, 'full');
      faultActive = true;
      scheduler.at(100 + rng.int(600), () => {
        // A record of the backlog that the owner's journal holds intact: the takeover must use it.
        const journal = world.stores.get(owner)!.journal.records;
        const candidates = world.stores.get(partner)!.mirror.sorted(volume).filter((r) =>
          journal.has(`${r.volume}:${r.lsn}`) && journal.get(`${r.volume}:${r.lsn}`)!.epoch === r.epoch && !world.damaged.has(`${r.volume}:${r.lsn}:${r.epoch}`));
        if (candidates.length > 0) {
          const record = rng.pick(candidates);
          damageCopy(world, rng, note, partner, 'mirror', record.volume, record.lsn);
          count('corrupt-stored');
        }
        crash(owner, false);
        healAfter(200 + rng.int(2000), startNode);
      });
      return true;
    }],
    ['repair-with-backlog', (live) => {
      const pair = aPair();
      if (!pair || live.length < 3) {
        if (live.length < 3) startNode();
        return false;
      }
      const [owner, , partner] = pair;
      note(`FAULT medium I/O of ${owner} stalls, then it is cut from its partner ${partner}: it pairs again with a backlog`);
      world.setMediumFault(owner, 'full');
      faultActive = true;
      scheduler.at(100 + rng.int(500), () => {
        world.cut(owner, partner);
        scheduler.at(50 + rng.int(600), () => {
          world.setMediumFault(owner, 'ok');
          healAfter(300 + rng.int(1500), () => world.heal(owner, partner));
        });
      });
      return true;
    }],
    ['owner-crash-mid-op', (live) => {
      const owner = anOwner();
      if (!owner) return false;
      if (live.length < 3) startNode(); // a third node makes a rebalance right after the takeover likely
      note(`FAULT ${owner} will crash while its next records are on the wire`);
      faultActive = true;
      onNextMessage('onSend', owner, 'mirror', () => {
        scheduler.at(rng.next() * 2, () => crash(owner, false));
        healAfter(200 + rng.int(2000), startNode);
      });
      return true;
    }],
    ['retry-after-move', (live) => {
      // The owner dies with records on the wire while its clients elsewhere stall; the partner
      // takes over, replays them and at once leaves (a hand-over); the clients' retries then
      // reach whichever node adopts the volume next.
      const pair = aPair();
      if (!pair || live.length < 3) {
        if (live.length < 3) startNode();
        return false;
      }
      const [owner, volume, partner] = pair;
      const clients = cluster.up().filter((id) => id !== owner && id !== partner);
      note(`FAULT ${owner} will crash with records on the wire; ${clients.join(', ')} stall; ${partner} takes over and leaves`);
      faultActive = true;
      onNextMessage('onSend', owner, 'mirror', () => {
        for (const id of clients) world.hang(id);
        scheduler.at(rng.next() * 2, () => crash(owner, false));
        const deadline = scheduler.now + 5000;
        const leaveOnceOwned = () => {
          const owns = world.isUp(partner) && nodes.get(partner)!.status().owns.some((v) => v.volume === volume);
          if (!owns && scheduler.now < deadline) return void scheduler.at(5, leaveOnceOwned);
          const resume = () => {
            for (const id of clients) world.resume(id);
            healAfter(200 + rng.int(1000), startNode);
          };
          if (!owns) return resume();
          void nodes.get(partner)!.leave().then(() => {
            note(`${partner} left`);
            world.crash(partner);
            resume();
          });
        };
        leaveOnceOwned();
      });
      return true;
    }],
    ['fence-mid-apply', () => {
      // A slow disk; once a flush is out, slow stores too, so that the journal write a client
      // sends then is out as well; then the owner hangs. The partner steals the volume, and
      // both complete after the fence.
      const owner = anOwner();
      if (!owner) return false;
      const slowdown = 2000 + rng.int(3000);
      note(`FAULT medium of ${owner} ${slowdown}x slower, then its stores too, then ${owner} hangs mid-flush`);
      world.setMediumSlowdown(owner, slowdown);
      faultActive = true;
      const deadline = scheduler.now + 3000;
      const hangMidFlush = () => {
        const flushing = [...world.volumes.values()].some((volume) => volume.busy === owner);
        if (!flushing && scheduler.now < deadline) return void scheduler.at(1, hangMidFlush);
        world.setStoreSlowdown(owner, 5000 + rng.int(10_000));
        if (rng.chance(0.5)) cluster.submit(owner, rng.pick(cluster.volumes), randomOp(rng, scheduler.now));
        scheduler.at(1 + rng.int(10), () => {
          world.hang(owner);
          healAfter(2000 + rng.int(2500), () => {
            note(`resume ${owner}`);
            world.resume(owner);
            world.setMediumSlowdown(owner, 1);
            world.setStoreSlowdown(owner, 1);
          });
        });
      };
      hangMidFlush();
      return true;
    }],
    ['slow-replay', () => {
      // A backlog piles up (the owner's medium stalls), the owner dies, and the partner replays
      // it on a slow disk while clients keep writing: no new op may reach the medium first.
      const pair = aPair();
      if (!pair) return false;
      const [owner, , partner] = pair;
      note(`FAULT medium I/O of ${owner} stalls, then ${owner} dies and ${partner} replays on a slow disk`);
      world.setMediumFault(owner, 'full');
      faultActive = true;
      scheduler.at(200 + rng.int(800), () => {
        world.setMediumSlowdown(partner, 20 + rng.int(80));
        crash(owner, false);
        healAfter(500 + rng.int(2000), () => {
          world.setMediumSlowdown(partner, 1);
          startNode();
        });
      });
      return true;
    }],
    ['journal-fail-crash', () => {
      // The journal fails while its records may already be in the partner's mirror; the owner
      // dies just after a client was told its op failed.
      const owner = anOwner();
      if (!owner) return false;
      note(`FAULT stores of ${owner} out of quota; ${owner} dies once an op has failed`);
      world.setStoreQuota(owner, true);
      faultActive = true;
      const failed = cluster.stats.failed;
      const deadline = scheduler.now + 300;
      const watch = () => {
        if (cluster.stats.failed === failed && scheduler.now < deadline) return void scheduler.at(0.25, watch);
        scheduler.at(rng.next() * 1.5, () => crash(owner, false));
        healAfter(200 + rng.int(2000), startNode);
      };
      watch();
      return true;
    }],
    ['journal-fail-slow-partner', () => {
      // The journal fails while the partner, on slow stores, still answers for the failed records
      // after the owner paired again: answers of the old session must be ignored.
      const pair = aPair();
      if (!pair) return false;
      const [owner, , partner] = pair;
      note(`FAULT stores of ${owner} out of quota while the stores of ${partner} are slow`);
      world.setStoreQuota(owner, true);
      world.setStoreSlowdown(partner, 10 + rng.int(40));
      healAfter(50 + rng.int(400), () => {
        world.setStoreQuota(owner, false);
        world.setStoreSlowdown(partner, 1);
      });
      return true;
    }],
  ];

  // The windows that need the most luck (a crash or a hang at the right instant) come up twice as often.
  for (const kind of ['journal-fail-crash', 'fence-mid-apply']) targeted.push(targeted.find(([k]) => k === kind)!);

  const injectFault = () => {
    const live = liveNodes();
    if (live.length === 0) return;
    if (rng.chance(0.6)) {
      const [kind, inject] = rng.pick(targeted);
      if (inject(live)) count(kind);
      return;
    }
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
    cluster.audit();
  }

  // Heal everything, then let the cluster settle.
  await scheduler.runUntil(scheduler.now + 10_000, () => !faultActive);
  for (const id of liveNodes()) {
    world.resume(id);
    world.setMediumFault(id, 'ok');
    world.setMediumSlowdown(id, 1);
    world.setStoreSlowdown(id, 1);
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
  const [volume, lsn] = key.split(':').map(Number) as [number, number];
  damageCopy(world, rng, note, node, kind, volume, lsn);
  return true;
}

/** Flips one bit of the copy of (volume, lsn) in `node`'s store, and remembers it was damaged. */
function damageCopy(world: World, rng: Rng, note: (line: string) => void, node: NodeId, kind: 'journal' | 'mirror', volume: number, lsn: number): void {
  const store = world.stores.get(node)![kind];
  const record = store.records.get(`${volume}:${lsn}`)!;
  const frame = record.frame.slice();
  // Damage the body (path, payload) most of the time: a bad header is caught by any decoder.
  const at = frame.length > 80 && rng.chance(0.8) ? 72 + rng.int(frame.length - 76) : rng.int(frame.length);
  frame[at]! ^= 1 << rng.int(8);
  store.records.set(`${volume}:${lsn}`, { ...record, frame });
  world.damaged.add(`${volume}:${lsn}:${record.epoch}`);
  note(`FAULT damage ${kind} of ${node}: volume ${volume} LSN ${lsn} byte ${at}`);
}
