// The invariants of DESIGN.md, checked while a simulated run goes and once it has settled:
// 1. an acked op is in the medium; 2. ops reach the medium in LSN order and the medium equals a
// model that applied them in order; 3. nothing is written by a fenced owner, and one node at most
// writes at each epoch; 4. a record whose checksum fails is never applied (every applied op must
// be one a client submitted); 5. journals and mirrors drain.
// And what the claims make of an ack and of the cluster's watch over its nodes:
// - exactly-once: each op is applied at most once (one LSN per op id), exactly once if acked, and
//   never when its client was told it failed;
// - ack: at the moment of a mirrored ack, a second node's store durably holds the record, and
//   an owner that says its partner is in sync has every acked, unflushed record mirrored;
// - journal cap: an owner's unflushed records stay under the cap (by one change at most);
// - liveness: no volume is stolen from a node that was up, not hung and linked all along (a
//   false takeover), the core never throws, and the cluster settles.
import { decodeRecord } from '../record/codec.js';
import { crc32c } from '../record/crc32c.js';
import type { Op } from '../record/types.js';
import type { NodeId, StoredRecord, VolumeState } from '../core/ports.js';
import { OPS_PER_CHANGE } from '../core/fs-request.js';
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
    case 'symlink':
      return `symlink ${op.path} ${JSON.stringify(op.target)}`;
    case 'chmod':
      return `chmod ${op.path} ${op.mode.toString(8)}`;
  }
}

interface VolumeTrack {
  /** The op applied at each LSN, by key. */
  opAt: Map<number, string>;
  ops: Map<number, Op>;
  /** The highest LSN ever applied, and the LSN applied last (lower while a batch is replayed). */
  highest: number;
  position: number;
  /** The op id applied at each LSN. */
  opIdAt: Map<number, number>;
  /** The model: every LSN's op applied once, in order, up to `highest`. */
  model: MemoryFs;
}

/** What an owner says of one of its volumes at the moment of an ack. */
export interface OwnerView {
  readonly node: NodeId;
  readonly epoch: number;
  /** No partner in sync: acks may rest on the journal alone (unless the mirror is required). */
  readonly degraded: boolean;
  readonly partner?: NodeId;
}

/** Error codes that tell a client its op was not applied and never will be (an owner's refusals among them). */
const FAILED = new Set(['EIO', 'ENOSPC', 'EINVAL', 'ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY']);

export class Checker implements WorldObserver {
  readonly violations: string[] = [];
  /** Per volume: how many times each op (by key) was submitted. */
  #submitted = new Map<number, Map<string, number>>();
  #acked = new Map<string, { volume: number; lsn: number; key: string }>();
  #volumes = new Map<number, VolumeTrack>();
  /** Per volume: the LSN each op id was applied at. */
  #opIds = new Map<number, Map<number, number>>();
  /** Keys of ops whose clients were told they failed, and of ops applied, per volume. */
  #failed = new Map<number, Set<string>>();
  #appliedKeys = new Map<number, Set<string>>();
  /** Per volume: the op ids that name the fs-layer changes clients submitted, acked, failed, applied. */
  #changes = new Map<number, Set<number>>();
  #ackedChanges: Array<{ volume: number; lsn: number; changeId: number }> = [];
  #failedChanges = new Map<number, Set<number>>();
  #appliedChanges = new Map<number, Set<number>>();
  /** The node that wrote each "volume:epoch". */
  #writers = new Map<string, NodeId>();
  /** Frames decoded once: the op key they hold. */
  #frameKeys = new WeakMap<Uint8Array, string>();
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
    if (!track) this.#volumes.set(volume, (track = { opAt: new Map(), opIdAt: new Map(), ops: new Map(), highest: 0, position: 0, model: new MemoryFs() }));
    return track;
  }

  /** A client submitted a change (fs layer): the ops with op ids from `changeId` are its. */
  submittedChange(volume: number, changeId: number): void {
    setOf(this.#changes, volume).add(changeId);
  }

  /** A change was acked at `lsn` (its last op): that op must reach the medium, never skipped. */
  ackedChange(volume: number, lsn: number, changeId: number): void {
    this.#ackedChanges.push({ volume, lsn, changeId });
  }

  /** A change's client was told it failed: if the code says none of its ops was applied, none ever may be. */
  failedChange(volume: number, changeId: number, code: string): void {
    if (!FAILED.has(code)) return;
    setOf(this.#failedChanges, volume).add(changeId);
    if (this.#appliedChanges.get(volume)?.has(changeId)) this.#violation(`exactly-once: volume ${volume}: change ${changeId} was applied, yet its client was told it failed (${code})`);
  }

  submitted(volume: number, op: Op): void {
    let keys = this.#submitted.get(volume);
    if (!keys) this.#submitted.set(volume, (keys = new Map()));
    const key = opKey(op);
    keys.set(key, (keys.get(key) ?? 0) + 1);
  }

  /** The client was told the op failed: if the code says it was not applied, it never may be. */
  failed(volume: number, op: Op, code: string): void {
    const key = opKey(op);
    // Only an op submitted once can be told from its twins by its content.
    if (!FAILED.has(code) || this.#submitted.get(volume)?.get(key) !== 1) return;
    setOf(this.#failed, volume).add(key);
    if (this.#appliedKeys.get(volume)?.has(key)) this.#violation(`exactly-once: volume ${volume}: ${key} was applied, yet its client was told it failed (${code})`);
  }

  acked(volume: number, lsn: number, op: Op): void {
    const key = opKey(op);
    const id = `${volume}:${lsn}`;
    const earlier = this.#acked.get(id);
    if (earlier && earlier.key !== key) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} was acked for two different ops`);
    this.#acked.set(id, { volume, lsn, key });
  }

  // WorldObserver

  applyStarted(volume: number, epoch: number, firstLsn: number, state: VolumeState, node: NodeId): void {
    const writer = this.#writers.get(`${volume}:${epoch}`);
    if (writer === undefined) this.#writers.set(`${volume}:${epoch}`, node);
    else if (writer !== node) this.#violation(`invariant 3: volume ${volume} was written at epoch ${epoch} by ${writer} and by ${node}`);
    if (firstLsn > state.applied + 1) {
      this.#violation(`invariant 2: volume ${volume} epoch ${epoch} applies LSN ${firstLsn} while the medium holds only through ${state.applied}`);
    }
  }

  applied(volume: number, lsn: number, op: Op, opId: number): void {
    const key = opKey(op);
    const changeId = opId - (opId % OPS_PER_CHANGE);
    const change = this.#changes.get(volume)?.has(changeId) === true;
    if (change) {
      setOf(this.#appliedChanges, volume).add(changeId);
      if (this.#failedChanges.get(volume)?.has(changeId)) this.#violation(`exactly-once: volume ${volume} LSN ${lsn}: change ${changeId} was applied, yet its client was told it failed`);
    }
    if (!change && !this.#submitted.get(volume)?.has(key)) {
      this.#violation(`invariant 4: volume ${volume} LSN ${lsn} applied an op no client submitted: ${key}`);
      return;
    }
    const ids = this.#opIds.get(volume) ?? new Map<number, number>();
    this.#opIds.set(volume, ids);
    const at = ids.get(opId);
    if (at !== undefined && at !== lsn) this.#violation(`exactly-once: volume ${volume}: op id ${opId} (${key}) applied at LSN ${at} and again at LSN ${lsn}`);
    ids.set(opId, lsn);
    // A raw op is known by its content; a change's ops by their op ids (checked above).
    if (!change) {
      setOf(this.#appliedKeys, volume).add(key);
      if (this.#failed.get(volume)?.has(key) && this.#submitted.get(volume)?.get(key) === 1) this.#violation(`exactly-once: volume ${volume} LSN ${lsn}: ${key} was applied, yet its client was told it failed`);
    }
    const track = this.#track(volume);
    const earlier = track.opAt.get(lsn);
    if (earlier !== undefined && earlier !== key) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} applied as ${key}, earlier as ${earlier}`);
    if (lsn > track.highest + 1) this.#violation(`invariant 2: volume ${volume} LSN ${lsn} applied before LSN ${track.highest + 1}`);
    if (lsn > track.highest) {
      track.highest = lsn;
      track.opAt.set(lsn, key);
      track.opIdAt.set(lsn, opId);
      track.ops.set(lsn, op);
      // The owner checked the op against the tree: the medium must never have to skip it.
      if (!track.model.apply(op)) this.#violation(`skipped: volume ${volume} LSN ${lsn}: ${key} conflicts with the tree before it, so the medium skips it`);
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
    this.#violation(`invariant 3: ${node} sent a write of volume ${volume} with epoch ${epoch} after epoch ${current} claimed it`);
  }

  claimed(volume: number, epoch: number, base: number): void {
    this.#note(`claim volume ${volume} epoch ${epoch} base ${base}`);
  }

  stolen(name: string, holder: NodeId, by: NodeId, excused: string | undefined): void {
    this.#note(`${by} steals ${name} from ${holder}${excused ? ` (${excused})` : ''}`);
    if (!excused) this.#violation(`liveness: ${by} stole ${name} from ${holder}, which was up, not hung and linked to it all along (a false takeover)`);
  }

  /** The core threw where nothing catches it. */
  threw(error: unknown): void {
    this.#violation(`core: uncaught ${error instanceof Error ? (error.stack ?? error.message).split('\n').slice(0, 3).join(' | ') : String(error)}`);
  }

  /**
   * The moment an owner acks `op` at (volume, lsn). The claims' meaning of a mirrored ack: the
   * owner's journal and a second node's store durably hold the record, so that no single crash
   * undoes it (or the medium holds it already). An ack may rest on the journal alone only when
   * the owner says no partner is in sync and the mirror is not required.
   */
  ack(volume: number, lsn: number, op: Op | undefined, owner: OwnerView, requireMirror: boolean, journalCapBytes: number): void {
    // A change's op is the owner's to choose: it is whatever the owner's journal holds at the LSN.
    const key = op ? opKey(op) : this.#journalKey(volume, lsn, owner.node);
    if (this.#world.volume(volume).state.applied < lsn) {
      const { journal, mirror } = this.#copies(volume, lsn, key, owner.node);
      if (!journal) this.#violation(`ack: volume ${volume} LSN ${lsn} was acked by ${owner.node} before its journal held it`);
      else if (!mirror && (requireMirror || !owner.degraded) && !this.#partnerLostStores(owner)) {
        this.#violation(`ack: volume ${volume} LSN ${lsn} was acked by ${owner.node} as mirrored, but no other node's store holds it${requireMirror ? ' (the mirror is required)' : ''}`);
      }
    }
    if (!owner.degraded) this.audit(volume, owner);
    this.#checkCap(volume, owner, journalCapBytes);
  }

  /** An owner that says its partner is in sync: every acked record above the medium's is mirrored. */
  audit(volume: number, owner: OwnerView): void {
    const { state } = this.#world.volume(volume);
    // A fenced owner that has not heard yet (hung, say) speaks of a volume that is not its own.
    if (state.epoch !== owner.epoch || this.#partnerLostStores(owner)) return;
    const { applied } = state;
    for (const { volume: v, lsn, key } of this.#acked.values()) {
      if (v !== volume || lsn <= applied) continue;
      if (!this.#copies(volume, lsn, key, owner.node).mirror) {
        this.#violation(`ack: ${owner.node} says volume ${volume} is mirrored, but acked LSN ${lsn} is in no other node's mirror`);
        return;
      }
    }
  }

  /** The partner's storage was lost with it (a second fault): the owner has not noticed yet. */
  #partnerLostStores(owner: OwnerView): boolean {
    return owner.partner !== undefined && this.#world.wiped.has(owner.partner);
  }

  /** The owner admits a change while under its cap: past it by one change (its records together) at most. */
  #checkCap(volume: number, owner: OwnerView, cap: number): void {
    const applied = this.#world.volume(volume).state.applied;
    let bytes = 0;
    let largest = 0;
    let change = { id: -1, bytes: 0 };
    for (const record of this.#world.stores.get(owner.node)?.journal.sorted(volume) ?? []) {
      if (record.lsn <= applied || record.epoch !== owner.epoch) continue;
      bytes += record.frame.length;
      const id = this.#changeOf(record.frame);
      change = id === change.id ? { id, bytes: change.bytes + record.frame.length } : { id, bytes: record.frame.length };
      largest = Math.max(largest, change.bytes);
    }
    if (bytes > cap + largest) this.#violation(`journal cap: ${owner.node} holds ${bytes} unflushed bytes of volume ${volume}, past its cap of ${cap} (applied ${applied}, LSNs ${this.#world.stores.get(owner.node)?.journal.sorted(volume).filter((r) => r.lsn > applied).map((r) => `${r.lsn}:${r.epoch}:${r.frame.length}`).join(" ")})`);
  }

  /** The change a record belongs to (its op id's change id); -1 when the frame cannot be read. */
  #changeOf(frame: Uint8Array): number {
    try {
      const { opId } = decodeRecord(frame);
      return opId - (opId % OPS_PER_CHANGE);
    } catch {
      return -1;
    }
  }

  /** Whether the owner's journal, and another node's mirror, hold this op at (volume, lsn). */
  #copies(volume: number, lsn: number, key: string, owner: NodeId): { journal: boolean; mirror: boolean } {
    // A copy the simulator damaged at rest still counts: the owner could not know, and the fault
    // is the one the run allows (takeover must then use the intact copy).
    const holds = (record: StoredRecord | undefined) => record !== undefined
      && (this.#keyOf(record.frame) === key || this.#world.damaged.has(`${record.volume}:${record.lsn}:${record.epoch}`));
    let mirror = false;
    for (const [node, stores] of this.#world.stores) {
      if (node !== owner && holds(stores.mirror.records.get(`${volume}:${lsn}`))) mirror = true;
    }
    return { journal: holds(this.#world.stores.get(owner)?.journal.records.get(`${volume}:${lsn}`)), mirror };
  }

  #journalKey(volume: number, lsn: number, owner: NodeId): string {
    const record = this.#world.stores.get(owner)?.journal.records.get(`${volume}:${lsn}`);
    return record ? this.#keyOf(record.frame) : 'nothing in the journal';
  }

  #keyOf(frame: Uint8Array): string {
    let key = this.#frameKeys.get(frame);
    if (key === undefined) {
      try {
        key = opKey(decodeRecord(frame).op);
      } catch {
        key = 'damaged';
      }
      this.#frameKeys.set(frame, key);
    }
    return key;
  }

  /** Once the cluster has settled: every acked op applied, medium = model, stores drained. */
  final(): void {
    for (const { volume, lsn, key } of this.#acked.values()) {
      const state = this.#world.volume(volume).state;
      const track = this.#track(volume);
      if (state.applied < lsn) this.#violation(`invariant 1: acked op at volume ${volume} LSN ${lsn} is not in the medium (applied ${state.applied})`);
      else if (track.opAt.get(lsn) !== key) this.#violation(`invariant 1: acked op at volume ${volume} LSN ${lsn} was skipped: ${track.opAt.get(lsn) ?? 'nothing'} was applied there`);
    }
    for (const { volume, lsn, changeId } of this.#ackedChanges) {
      const applied = this.#world.volume(volume).state.applied;
      const opId = this.#track(volume).opIdAt.get(lsn);
      if (applied < lsn) this.#violation(`invariant 1: acked change at volume ${volume} LSN ${lsn} is not in the medium (applied ${applied})`);
      else if (opId === undefined || opId - (opId % OPS_PER_CHANGE) !== changeId) this.#violation(`invariant 1: acked change ${changeId} at volume ${volume} LSN ${lsn} was skipped: op id ${opId ?? 'none'} was applied there`);
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

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}
