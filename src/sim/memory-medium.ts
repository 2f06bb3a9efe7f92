// The medium in memory: one MemoryFs and one VolumeState per volume. Each call runs to its end
// without awaiting anything, so an apply is never in progress when a claim starts and `claim`
// has nothing to wait for. The simulator wraps this with fault injection.
import {
  RECENT_OPS, type ClaimedState, type DirEntry, type EntryStat, type LsnOp, type Medium, type VolumeState,
} from '../core/ports.js';
import { FencedError } from '../errors.js';
import { MemoryFs } from './memory-fs.js';

interface Volume {
  readonly fs: MemoryFs;
  state: VolumeState;
  /** The op id applied at each LSN. */
  readonly opIds: Map<number, number>;
}

export class MemoryMedium implements Medium {
  readonly #volumes = new Map<number, Volume>();

  async state(volume: number): Promise<VolumeState> {
    return this.#volume(volume).state;
  }

  async claim(volume: number, epoch: number, base: number): Promise<ClaimedState> {
    const entry = this.#volume(volume);
    const { state } = entry;
    if (epoch <= state.epoch) throw new FencedError(volume, epoch, state.epoch);
    entry.state = { epoch, applied: state.applied, epochs: [...state.epochs, { epoch, base }] };
    return { ...entry.state, recent: recentOps(entry.opIds, state.applied) };
  }

  async apply(volume: number, epoch: number, ops: readonly LsnOp[]): Promise<void> {
    const entry = this.#volume(volume);
    if (epoch !== entry.state.epoch) throw new FencedError(volume, epoch, entry.state.epoch);
    const fresh = ops.filter((item) => item.lsn > entry.state.applied);
    for (const { lsn, opId, op } of fresh) {
      entry.fs.apply(op);
      entry.opIds.set(lsn, opId);
    }
    const last = fresh.at(-1);
    if (last) entry.state = { ...entry.state, applied: last.lsn };
  }

  async stat(volume: number, path: string): Promise<EntryStat | undefined> {
    return this.#volume(volume).fs.stat(path);
  }

  async list(volume: number, path: string): Promise<DirEntry[] | undefined> {
    return this.#volume(volume).fs.list(path);
  }

  async read(volume: number, path: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#volume(volume).fs.read(path, offset, length);
  }

  /** The volume's tree, for reading and for comparing with a model (the live tree: do not apply to it). */
  fs(volume: number): MemoryFs {
    return this.#volume(volume).fs;
  }

  #volume(volume: number): Volume {
    let entry = this.#volumes.get(volume);
    if (!entry) {
      entry = { fs: new MemoryFs(), state: { epoch: 0, applied: 0, epochs: [] }, opIds: new Map() };
      this.#volumes.set(volume, entry);
    }
    return entry;
  }
}

/** ClaimedState.recent from a map of LSN to op id: the last RECENT_OPS LSNs through `applied`. */
export function recentOps(opIds: ReadonlyMap<number, number>, applied: number): Array<[number, number]> {
  const recent: Array<[number, number]> = [];
  for (let lsn = Math.max(1, applied - RECENT_OPS + 1); lsn <= applied; lsn++) {
    const opId = opIds.get(lsn);
    if (opId !== undefined) recent.push([opId, lsn]);
  }
  return recent;
}
