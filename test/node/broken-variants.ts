// Deliberately broken cores, each breaking one rule of DESIGN.md. The simulator must catch every
// one of them; if it cannot, it has no teeth for that rule.
import { Node } from '../../src/core/node.js';
import { OwnedVolume, type OwnerHost } from '../../src/core/owned-volume.js';
import type { HeldLock } from '../../src/core/ports.js';
import { claim, replay, type Adopted } from '../../src/core/takeover.js';
import { decodeRecord } from '../../src/record/codec.js';
import { crc32c } from '../../src/record/crc32c.js';
import type { JournalRecord } from '../../src/record/types.js';
import type { MakeNode } from '../../src/sim/cluster.js';

/** Acks an op once it is in the journal, without waiting for the partner's mirror. */
class AckBeforeMirror extends OwnedVolume {
  protected override isMirrored(): boolean {
    return true;
  }
}

/** A fenced owner that keeps flushing: it ignores a stolen lock and fencing errors. */
class ZombieFlusher extends OwnedVolume {
  override fence(): void {}
  protected override mayFlush(): boolean {
    return true;
  }
}

function withVolume(Volume: typeof OwnedVolume): MakeNode {
  return (ports, options) =>
    new (class extends Node {
      protected override ownedVolume(host: OwnerHost, volume: number, adopted: Adopted, lock: HeldLock): OwnedVolume {
        return new Volume(host, volume, adopted.epoch, adopted.base, lock, adopted.replayed);
      }
    })(ports, options);
}

/** Serves new ops as soon as it has claimed the volume, while the replay still runs. */
class ServeBeforeReplay extends Node {
  protected override async takeOwnership(volume: number, lock: HeldLock): Promise<OwnedVolume> {
    const claimed = await claim(this.ports, volume, lock, (frame) => this.verify(frame));
    const owned = this.serve(volume, { epoch: claimed.epoch, base: claimed.base, replayed: [] }, lock);
    void replay(this.ports, this.options, volume, lock, claimed).catch(() => {});
    return owned;
  }
}

/** Decodes records without checking their CRC32C (it rewrites the checksum to match). */
class SkipChecksum extends Node {
  protected override verify(frame: Uint8Array): JournalRecord {
    const copy = frame.slice();
    if (copy.length >= 76) new DataView(copy.buffer).setUint32(copy.length - 4, crc32c(copy.subarray(0, copy.length - 4)), true);
    return decodeRecord(copy);
  }
}

export interface BrokenVariant {
  readonly makeNode: MakeNode;
  /** The violation the simulator must report: the invariant this variant breaks. */
  readonly breaks: RegExp;
}

export const BROKEN_VARIANTS: Record<string, BrokenVariant> = {
  // Its early acks die with the owner's storage: the next owner hands their LSNs to other ops.
  'acks before the mirror holds the record': { makeNode: withVolume(AckBeforeMirror), breaks: /^invariant [12]:/ },
  'accepts new ops before replay completes': { makeNode: (ports, options) => new ServeBeforeReplay(ports, options), breaks: /^invariant 2:/ },
  'a fenced owner keeps flushing': { makeNode: withVolume(ZombieFlusher), breaks: /^invariant 3:/ },
  'skips the checksum check': { makeNode: (ports, options) => new SkipChecksum(ports, options), breaks: /^(invariant 4:|volume \d+ LSN \d+: the medium could not apply)/ },
};
