// The invariants of DESIGN.md, checked while a simulated run goes and once it has settled:
// 1. an acked op is in the medium; 2. ops reach the medium in LSN order and the medium equals a
// model that applied them in order; 3. nothing is written by a fenced owner; 4. a record whose
// checksum fails is never applied (every applied op must be one a client submitted);
// 5. journals and mirrors drain.
import { crc32c } from '../record/crc32c.js';
import type { Op } from '../record/types.js';
import type { NodeId, VolumeState } from '../core/ports.js';
import { MemoryFs } from './memory-fs.js';
import type { World, WorldObserver } from './world.js';

/** An op's content as a short string: equal ops, and (but for CRC collisions) only they, match. */
export function opKey(op: Op): string {
  switch (op.type) {
    case 'write':
      return `write ${op.path} @${op.offset} ${op.data.length}:${crc32c(op.data)} ${op.mtimeMs ?? 0}`;
    case 'truncate':
      return `truncate ${op.path} ${op.size} ${op.mtimeMs ?? 0}`;
    case 'create':
      return `create ${op.path} ${op.exclusive ? 'x' : ''}${op.truncate ? 't' : ''} ${op.mtimeMs ?? 0}`;
    case 'mkdir':
    case 'rmdir':
      return `${op.type} ${op.path}${op.recursive ? ' -r' : ''}`;
    case 'rename':
      return `rename ${op.path} ${op.target}`;
    case 'unlink':
      return `unlink ${op.path}`;
    case 'setTimes':
      return `setTimes ${op.path} ${op.atimeMs} ${op.mtimeMs}`;
  }
}

interface VolumeTrack {
  /** The op applied at each LSN, by key. */
  opAt: Map<number, string>;
  ops: Map<number, Op>;
  /** The highest LSN ever applied, and the LSN applied last (lower while a batch is replayed). */
  highest: number;
  position: number;
  /** The model: every LSN's op applied once, in order, up to `highest`. */
  model: MemoryFs;
}

export class Checker implements WorldObserver {
  readonly violations: string[] = [];
  #submitted = new Map<number, Set<string>>();
  #acked = new Map<string, { volume: number; lsn: number; key: string }>();
  #volumes = new Map<number, VolumeTrack>();
  #world: World;
  #note: (line: string) => void;

  constructor(world: World, note: (line: string) => void) {
    this.#world = world;
    this.#note = note;
  }

  #violation(text: string): void {
    if (this.violations.length < 20) this.violations.push(text);
    this.#note(`VIOLATION ${text}`);
  }

  #track(volume: number): VolumeTrack {
    let track = this.#volumes.get(volume);
    if (!track) this.#volumes.set(volume, (track = { opAt: new Map(), ops: new Map(), highest: 0, position: 0, model: new MemoryFs() }));
    return track;
  }

  submitted(volume: number, op: Op): void {
    let keys = this.#submitted.get(volume);
    if (!keys) this.#submitted.set(volume, (keys = new Set()));
    keys.add(opKey(op));
  }

  acked(volume: number, lsn: number, op: Op): void {
    const key = opKey(op);
    const id = `${volume}:${lsn}`;
    const earlier = this.#acked.get(id);
    if (earlier && earlier.key !== key) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} was acked for two different ops`);
    this.#acked.set(id, { volume, lsn, key });
  }

  // WorldObserver

  applyStarted(volume: number, epoch: number, firstLsn: number, state: VolumeState): void {
    if (firstLsn > state.applied + 1) {
      this.#violation(`invariant 2: volume ${volume} epoch ${epoch} applies LSN ${firstLsn} while the medium holds only through ${state.applied}`);
    }
  }

  applied(volume: number, lsn: number, op: Op): void {
    const key = opKey(op);
    if (!this.#submitted.get(volume)?.has(key)) {
      this.#violation(`invariant 4: volume ${volume} LSN ${lsn} applied an op no client submitted: ${key}`);
      return;
    }
    const track = this.#track(volume);
    const earlier = track.opAt.get(lsn);
    if (earlier !== undefined && earlier !== key) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} applied as ${key}, earlier as ${earlier}`);
    if (lsn > track.highest + 1) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} applied before LSN ${track.highest + 1}`);
    if (lsn > track.highest) {
      track.highest = lsn;
      track.opAt.set(lsn, key);
      track.ops.set(lsn, op);
      track.model.apply(op);
    }
    track.position = lsn;
  }

  applyEnded(volume: number): void {
    const track = this.#track(volume);
    if (track.position !== track.highest) return; // mid-replay: the medium catches up later
    const actual = this.#world.volume(volume).fs.snapshot();
    if (actual !== track.model.snapshot()) this.#violation(`invariant 2: volume ${volume} differs from the model at LSN ${track.highest}`);
  }

  impossible(what: string): void {
    this.#violation(what);
  }

  fencedWrite(volume: number, epoch: number, current: number, node: NodeId): void {
    this.#violation(`invariant 3: ${node} tried to write volume ${volume} with epoch ${epoch} after epoch ${current} claimed it`);
  }

  claimed(volume: number, epoch: number, base: number): void {
    this.#note(`claim volume ${volume} epoch ${epoch} base ${base}`);
  }

  /** Once the cluster has settled: every acked op applied, medium = model, stores drained. */
  final(): void {
    for (const { volume, lsn, key } of this.#acked.values()) {
      const state = this.#world.volume(volume).state;
      const track = this.#track(volume);
      if (state.applied < lsn) this.#violation(`invariant 1: acked op at volume ${volume} LSN ${lsn} is not in the medium (applied ${state.applied})`);
      else if (track.opAt.get(lsn) !== key) this.#violation(`invariant 1: acked op at volume ${volume} LSN ${lsn} was replaced by ${track.opAt.get(lsn)}`);
    }
    for (const [volume, track] of this.#volumes) {
      const shared = this.#world.volume(volume);
      if (shared.fs.snapshot() !== track.model.snapshot()) this.#violation(`invariant 2: volume ${volume} differs from the model at the end`);
      if (shared.state.applied !== track.highest) this.#violation(`invariant 2: volume ${volume} applied ${shared.state.applied} but highest LSN seen ${track.highest}`);
    }
    // Settled means every op is flushed: nothing is left to keep, stale or not.
    for (const [node, stores] of this.#world.stores) {
      for (const [kind, store] of Object.entries(stores)) {
        const left = store.sorted()[0];
        if (left) {
          const applied = this.#world.volume(left.volume).state.applied;
          this.#violation(`invariant 5: ${kind} of ${node} still holds volume ${left.volume} LSN ${left.lsn} (epoch ${left.epoch}; applied ${applied})`);
        }
      }
    }
  }
}
