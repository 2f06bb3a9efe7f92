// `npm run bench -- fs`: small-file workloads on browser file systems with one promise API, side
// by side in one page (on-disk profile). Per system and volume: 8 writes to wake it up (timed
// apart), then write files of 4 KiB with 8 writes in flight, then more one at a time; read the first set back, readdir their directory,
// stat each, unlink each (8 in flight). Each timed phase runs 1,000 ops or PHASE_CAP_MS, whichever
// ends first. Once on a fresh, empty volume; once in a fresh directory of a volume that already
// holds 50,000 (empty) files in 50 other directories, prepared once, untimed, with each system's
// fast path, so the table shows whether per-op cost grows with the volume. The systems take
// turns (A B C D, B C D A, ...: each round starts with the next, after a pause before each turn)
// for ROUNDS rounds; the table shows medians over rounds, and every
// comparison is the median of the rounds' own ratios.
// Tab 0 measures; tab 1 (run.mjs TABS: fs: 2) is tandemfs's partner (fs-tandem.ts).
import { lightningFs, rawOpfs, zenFsIndexedDb, type FsLike, type FsSystem } from './fs-systems.js';
import { tandemFs, tandemPeer } from './fs-tandem.js';
import type { BenchResult } from './harness.js';
import { median } from './harness.js';

const tab = Number(new URLSearchParams(location.search).get('tab') ?? 0);

const FILES = 1000;
const SIZE = 4096;
const IN_FLIGHT = 8;
const ROUNDS = 5;
const BIG_DIRS = 50; // the 50,000-file volume: 50 directories of FILES files
// The 50,000 are empty: the count is what that round tests, and filling them costs minutes here
// (OPFS createWritable makes ~130 files/s, IndexedDB puts ~2,400 values of 4 KiB/s).
const PREP_SIZE = 0;
/**
 * A timed phase stops taking new ops after this long (so it runs FILES ops or this long, whichever
 * ends first); its rate counts the ops done. It keeps the slow systems (ZenFS ~50 writes/s,
 * lightning-fs+flush ~7/s in the big volume) within the time budget.
 */
const PHASE_CAP_MS = 1_000;
/** The pause before each timed turn (and after the preparation): see breather(). */
const BREATHER_MS = 2_000;

// ---------------------------------------------------------------------------------------------
// The systems. Their order is the order of the turns in each round and of the table's columns.

const systems: FsSystem[] = [lightningFs(false), lightningFs(true), zenFsIndexedDb(), rawOpfs()];

systems.push(tandemFs());

/** Tab 1: the partner of tandemfs's volumes (it joins the clusters tab 0 names). */
async function peer(): Promise<void> {
  tandemPeer();
}

// ---------------------------------------------------------------------------------------------

const PHASES = ['wake', 'write8', 'write1', 'read', 'readdir', 'stat', 'unlink'] as const;
type Phase = (typeof PHASES)[number];
/** Phases measured in ms (lower is better); the others in ops/s. */
const IN_MS = new Set<Phase>(['wake', 'readdir']);
const unit = (phase: Phase) => (IN_MS.has(phase) ? 'ms' : 'per_s');
const LABELS: Record<Phase, string> = {
  wake: `first ${IN_FLIGHT} writeFiles of a turn, ${IN_FLIGHT} in flight (ms)`,
  write8: `writeFile 4 KiB, ${IN_FLIGHT} in flight (files/s)`,
  write1: 'writeFile 4 KiB, one at a time (files/s)',
  read: `readFile, ${IN_FLIGHT} in flight (files/s)`,
  readdir: 'readdir (ms per 1,000 names)',
  stat: `stat, ${IN_FLIGHT} in flight (ops/s)`,
  unlink: `unlink, ${IN_FLIGHT} in flight (ops/s)`,
};
const VOLUMES = ['empty', '50k'] as const;
type Volume = (typeof VOLUMES)[number];

/** One system's measures in one round on one volume: ops/s per phase (IN_MS phases: ms), and how many ops ran. */
interface Turn {
  value: Record<Phase, number>;
  ops: Record<Phase, number>;
  capped: Phase[];
}

function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

/** Runs fn(0..count-1) with `inFlight` at a time; stops taking new ones at `capMs`. */
async function pool(count: number, inFlight: number, fn: (i: number) => Promise<unknown>, capMs = Infinity): Promise<{ done: number; ms: number }> {
  let next = 0;
  let done = 0;
  const start = performance.now();
  const deadline = start + capMs;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      await fn(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return { done, ms: performance.now() - start };
}

async function workload(fs: FsLike, dir: string, data: Uint8Array): Promise<Turn> {
  // Untimed: the directories (the first op also activates lightning-fs: Web Lock, superblock).
  await fs.mkdir(dir);
  await fs.mkdir(`${dir}/a`);
  await fs.mkdir(`${dir}/b`);
  const value = {} as Record<Phase, number>;
  const ops = {} as Record<Phase, number>;
  const capped: Phase[] = [];
  // The first writes of a turn, after the other systems' turns: kept out of the rates below, as
  // some systems pay for waking up here (lightning-fs reloads its superblock after 500 ms idle).
  await fs.mkdir(`${dir}/wake`);
  const woke = performance.now();
  await pool(IN_FLIGHT, IN_FLIGHT, (i) => fs.writeFile(`${dir}/wake/${i}`, data));
  value.wake = performance.now() - woke;
  ops.wake = IN_FLIGHT;
  const measure = async (phase: Phase, count: number, inFlight: number, fn: (i: number) => Promise<unknown>) => {
    const { done, ms } = await pool(count, inFlight, fn, PHASE_CAP_MS);
    value[phase] = done / (ms / 1000);
    ops[phase] = done;
    if (done < count) capped.push(phase);
    return done;
  };

  const written = await measure('write8', FILES, IN_FLIGHT, (i) => fs.writeFile(`${dir}/a/${i}`, data));
  await measure('write1', FILES, 1, (i) => fs.writeFile(`${dir}/b/${i}`, data));
  await measure('read', written, IN_FLIGHT, async (i) => {
    const back = await fs.readFile(`${dir}/a/${i}`);
    if (back.byteLength !== SIZE || back[0] !== data[0] || back[SIZE - 1] !== data[SIZE - 1]) throw new Error(`bench: ${dir}/a/${i} read back wrong`);
  });
  const listings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const names = await fs.readdir(`${dir}/a`);
    listings.push(performance.now() - start);
    if (names.length !== written) throw new Error(`bench: readdir ${dir}/a: ${names.length} names, expected ${written}`);
  }
  // ms per 1,000 names: scaled when a capped write phase left fewer in the directory.
  value.readdir = (median(listings) * FILES) / Math.max(1, written);
  ops.readdir = written;
  if (written < FILES) capped.push('readdir');
  await measure('stat', written, IN_FLIGHT, (i) => fs.stat(`${dir}/a/${i}`));
  const unlinked = await measure('unlink', written, IN_FLIGHT, (i) => fs.unlink(`${dir}/a/${i}`));
  if ((await fs.readdir(`${dir}/a`)).length !== written - unlinked) throw new Error(`bench: ${dir}/a holds the wrong files after unlink`);
  // The one-at-a-time files stay (an untimed cleanup would cost the slow systems' turns dearly):
  // the 50,000-file volume holds a few hundred more per round gone by.
  return { value, ops, capped };
}

/** Fills a fresh volume with BIG_DIRS directories of FILES files; resolves to the seconds it took. */
async function prepareBig(system: FsSystem, fs: FsLike): Promise<number> {
  const data = noise(PREP_SIZE);
  const start = performance.now();
  const paths: string[] = [];
  await fs.mkdir('/big');
  for (let d = 0; d < BIG_DIRS; d++) {
    await fs.mkdir(`/big/${d}`);
    for (let i = 0; i < FILES; i++) paths.push(`/big/${d}/${i}`);
  }
  if (system.populate) await system.populate(fs, paths, data);
  else await pool(paths.length, 64, (i) => fs.writeFile(paths[i]!, data));
  const seconds = (performance.now() - start) / 1000;
  // Spot check: the last directory is full, and its last file there.
  const names = await fs.readdir(`/big/${BIG_DIRS - 1}`);
  if (names.length !== FILES) throw new Error(`bench: ${system.name}: /big/${BIG_DIRS - 1} holds ${names.length} files after populate`);
  await fs.stat(paths.at(-1)!);
  if ((await fs.readFile(paths.at(-1)!)).byteLength !== PREP_SIZE) throw new Error(`bench: ${system.name}: ${paths.at(-1)} reads back wrong after populate`);
  await system.settle?.(fs);
  return seconds;
}

/**
 * Lets the storage backends catch their breath before a timed turn: what the turn before left
 * them to do (a compaction after lightning-fs+flush rewrote a 50,000-entry superblock a dozen
 * times, say) would otherwise slow the next system's turn.
 */
const breather = () => new Promise((resolve) => setTimeout(resolve, BREATHER_MS));

const brief = (turn: Turn) => PHASES.map((phase) => `${phase} ${round(turn.value[phase], IN_MS.has(phase) ? 2 : 0)}${turn.capped.includes(phase) ? `* (${turn.ops[phase]})` : ''}`).join(', ');
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
const perSecond = (x: number) => (x >= 100 ? round(x) : round(x, 1));

async function main(): Promise<BenchResult> {
  const began = performance.now();
  const log = (message: string) => console.log(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${message}`);
  const data = noise(SIZE);
  const turns = new Map<string, Record<Volume, Turn[]>>(systems.map((s) => [s.key, { empty: [], '50k': [] }]));

  // Untimed preparation of each system's 50,000-file volume, kept for all rounds: all systems
  // at once (they wait on different parts of the browser) but those that must go alone, then the
  // shared ones.
  const big = new Map<string, FsLike>();
  const prepareSeconds = new Map<string, number>();
  const owners = systems.filter((s) => !s.sharesVolumeWith);
  const prepare = async (system: FsSystem) => {
    const fs = await system.setup();
    big.set(system.key, fs);
    prepareSeconds.set(system.key, await prepareBig(system, fs));
    log(`${system.name}: 50,000 files prepared in ${prepareSeconds.get(system.key)!.toFixed(1)} s`);
  };
  await Promise.all(owners.filter((s) => !s.prepareAlone).map(prepare));
  for (const system of owners.filter((s) => s.prepareAlone)) await prepare(system);
  for (const system of systems) {
    if (system.sharesVolumeWith) big.set(system.key, system.sharesVolumeWith.view(big.get(system.sharesVolumeWith.key)!));
  }
  await breather();
  const preparedAt = performance.now();

  const roundSeconds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const roundStart = performance.now();
    // Each round starts with the next system, so that no system always follows the same one
    // (whose leftover work in the shared storage backend would land in its turns alone).
    const order = [...systems.slice(r % systems.length), ...systems.slice(0, r % systems.length)];
    for (const system of order) {
      const fs = await system.setup();
      await breather();
      const turn = await workload(fs, '/w', data);
      await system.settle?.(fs);
      await system.teardown(fs);
      turns.get(system.key)!.empty.push(turn);
      log(`${system.name} empty: ${brief(turn)}`);
    }
    for (const system of order) {
      const fs = big.get(system.key)!;
      await breather();
      const turn = await workload(fs, `/r${r}-${system.key}`, data); // its own: lfs+flush shares lfs's volume
      await system.settle?.(fs);
      turns.get(system.key)!['50k'].push(turn);
      log(`${system.name} 50k: ${brief(turn)}`);
    }
    roundSeconds.push((performance.now() - roundStart) / 1000);
    log(`round ${r + 1}/${ROUNDS} in ${roundSeconds.at(-1)!.toFixed(1)} s`);
  }
  const roundsEnded = performance.now();
  // The 50,000-file volumes are not torn down: removing OPFS's takes about a minute here, and
  // run.mjs deletes the browser profile with everything in it.


  // Figures: medians over rounds, per system, volume and phase.
  const series = (key: string, volume: Volume, phase: Phase) => turns.get(key)![volume].map((t) => t.value[phase]);
  const med = (key: string, volume: Volume, phase: Phase) => median(series(key, volume, phase));
  /** Median over rounds of a's value over b's, each round's two from the same round. */
  const ratio = (a: number[], b: number[]) => round(median(a.map((x, i) => x / b[i]!)), 2);
  const figures: BenchResult['figures'] = {};
  for (const system of systems) {
    for (const volume of VOLUMES) {
      for (const phase of PHASES) {
        const value = med(system.key, volume, phase);
        figures[`${system.key}_${volume}_${phase}_${unit(phase)}`] = IN_MS.has(phase) ? round(value, value >= 10 ? 1 : 3) : perSecond(value);
      }
    }
    figures[`${system.key}_50k_over_empty_write8`] = ratio(series(system.key, '50k', 'write8'), series(system.key, 'empty', 'write8'));
    const prepared = prepareSeconds.get(system.key);
    figures[`${system.key}_prepare_50k_s`] = prepared === undefined ? null : round(prepared, 1);
  }
  // The ratios the project targets; null until tandemfs is in the list.
  const has = (key: string) => turns.has(key);
  const targetRatio = (a: string, b: string, phase: Phase, volumeA: Volume = 'empty', volumeB: Volume = 'empty') =>
    has(a) && has(b) ? ratio(series(a, volumeA, phase), series(b, volumeB, phase)) : null;
  figures.tandemfs_write8_over_lfs_flush = targetRatio('tandemfs', 'lfs_flush', 'write8');
  figures.tandemfs_write8_over_lfs = targetRatio('tandemfs', 'lfs', 'write8');
  figures.tandemfs_read_over_lfs = targetRatio('tandemfs', 'lfs', 'read');
  figures.tandemfs_50k_over_empty_write8 = targetRatio('tandemfs', 'tandemfs', 'write8', '50k', 'empty');
  figures.rounds = ROUNDS;
  figures.prepare_s = round((preparedAt - began) / 1000, 1);
  figures.rounds_s = round((roundsEnded - preparedAt) / 1000, 1);
  figures.total_s = round((performance.now() - began) / 1000, 1);

  // The table.
  const cell = (key: string, volume: Volume, phase: Phase) => figures[`${key}_${volume}_${phase}_${unit(phase)}`] as number;
  const rows: BenchResult['rows'] = [];
  for (const volume of VOLUMES) {
    const label = volume === 'empty' ? 'empty volume' : '50,000-file volume';
    for (const phase of PHASES) rows.push([`${label}: ${LABELS[phase]}`, ...systems.map((s) => cell(s.key, volume, phase))]);
    rows.push([`${label}: files written 8 in flight / one at a time, per turn`, ...systems.map((s) => `${median(turns.get(s.key)![volume].map((t) => t.ops.write8))} / ${median(turns.get(s.key)![volume].map((t) => t.ops.write1))}`)]);
  }
  rows.push(['50,000-file over empty volume, writes 8 in flight (x)', ...systems.map((s) => figures[`${s.key}_50k_over_empty_write8`] as number)]);
  rows.push(['preparing the 50,000 files, all at once, untimed above (s)', ...systems.map((s) => figures[`${s.key}_prepare_50k_s`] ?? `(${s.sharesVolumeWith?.key}'s)`)]);

  const notes = [
    `Medians of ${ROUNDS} interleaved rounds (systems take turns within each, each round starting with the next system, a ${BREATHER_MS / 1000} s pause before each turn); files of ${SIZE} B; the 50,000-file volume holds them in ${BIG_DIRS} other directories, and each turn works in a fresh directory of it.`,
    `Preparing took ${figures.prepare_s} s, the rounds ${roundSeconds.map((s) => s.toFixed(1)).join(' + ')} s, the whole bench ${figures.total_s} s.`,
    ...systems.flatMap((s) => s.notes ?? []),
    `Each timed phase runs ${FILES} ops or ${PHASE_CAP_MS / 1000} s, whichever ends first (the slow systems' rates come from fewer ops: see the "files written" rows); read, readdir, stat and unlink work on the files written 8 in flight. The 50,000 prepared files are empty; the one-at-a-time files of earlier rounds stay in that volume.`,
    has('tandemfs') ? '' : 'tandemfs: not in this run; its ratios in the JSON line are null.',
  ].filter(Boolean);

  return {
    title: 'fs — small files, one tab, on-disk profile (medians over rounds)',
    columns: ['phase', ...systems.map((s) => s.name)],
    rows,
    notes,
    figures,
  };
}

if (tab === 0) globalThis.tandemBench = main();
else void peer();
