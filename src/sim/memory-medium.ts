// The medium in memory: one MemoryFs and one VolumeState per volume. Each call runs to its end
// without awaiting anything, so an apply is never in progress when a claim starts and `claim`
// has nothing to wait for. The simulator wraps this with fault injection.
import type { LsnOp, Medium, VolumeState } from '../core/ports.js';
import { FencedError } from '../errors.js';
import { MemoryFs } from './memory-fs.js';

interface Volume {
  readonly fs: MemoryFs;
  state: VolumeState;
}

export class MemoryMedium implements Medium {
  readonly #volumes = new Map<number, Volume>();

  async state(volume: number): Promise<VolumeState> {
    return this.#volume(volume).state;
  }

  async claim(volume: number, epoch: number, base: number): Promise<VolumeState> {
    const entry = this.#volume(volume);
    const { state } = entry;
    if (epoch <= state.epoch) throw new FencedError(volume, epoch, state.epoch);
    entry.state = { epoch, applied: state.applied, epochs: [...state.epochs, { epoch, base }] };
    return entry.state;
  }

  async apply(volume: number, epoch: number, ops: readonly LsnOp[]): Promise<void> {
    const entry = this.#volume(volume);
    if (epoch !== entry.state.epoch) throw new FencedError(volume, epoch, entry.state.epoch);
    const fresh = ops.filter((item) => item.lsn > entry.state.applied);
    for (const { op } of fresh) entry.fs.apply(op);
    const last = fresh.at(-1);
    if (last) entry.state = { ...entry.state, applied: last.lsn };
  }

  /** The volume's tree, for reading and for comparing with a model (the live tree: do not apply to it). */
  fs(volume: number): MemoryFs {
    return this.#volume(volume).fs;
  }

  #volume(volume: number): Volume {
    let entry = this.#volumes.get(volume);
    if (!entry) {
      entry = { fs: new MemoryFs(), state: { epoch: 0, applied: 0, epochs: [] } };
      this.#volumes.set(volume, entry);
    }
    return entry;
  }
}
