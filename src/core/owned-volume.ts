// The owner's side of one volume: the write path (LSN, group commit, journal + mirror, ack) and
// the flush path (apply acked records in LSN order, record applied, trim journal and mirror).
import { encodeRecord } from '../record/codec.js';
import type { Op } from '../record/types.js';
import { FencedError, FsError, MediumError, NodeError, type NodeErrorCode } from '../errors.js';
import { nextBatch } from './batch.js';
import { FlushSchedule } from './flush-schedule.js';
import { plan } from './fs-plan.js';
import { REQUEST_BYTES, syscallOf, type ChangeResult, type FsChange, type FsQuery, type QueryResult } from './fs-request.js';
import { ContentCache } from './content-cache.js';
import { components, Namespace, NeedsLoad } from './namespace.js';
import type { Message } from './messages.js';
import type { NodeOptions } from './options.js';
import type { HeldLock, LsnOp, NodeId, Ports, StoredRecord, Timer } from './ports.js';
import type { OpIds } from './takeover.js';

/** How a node stops owning a volume. */
export type Ending = 'fenced' | 'gave-up' | 'handed-over';

/** What an owned volume needs from its node. */
export interface OwnerHost {
  readonly ports: Ports;
  readonly options: NodeOptions;
  send(to: NodeId, message: Message): boolean;
  /** The volume ended here: fenced, or handed over because our I/O broke. */
  released(volume: number, why: Ending): void;
  /** Sending to the partner failed: find another. */
  partnerUnreachable(node: NodeId): void;
  emit(event: { type: 'degraded'; volume: number; degraded: boolean }): void;
}

interface Pending {
  readonly lsn: number;
  readonly epoch: number;
  readonly opId: number;
  readonly op: Op;
  readonly frame: Uint8Array;
  journaled: boolean;
  acked: boolean;
  /** The last op of its change: a change's records are journaled and mirrored together. */
  readonly last: boolean;
  /** What the change returns (on its last record). */
  readonly value?: number | string;
  /** Takes the op back out of the namespace (see #repairAfterJournalFailure). */
  undo?: () => void;
  readonly done: Promise<number>;
  resolve(lsn: number): void;
  reject(error: Error): void;
}

/** A change waiting in the owner's queue. */
interface Queued {
  readonly change: FsChange;
  readonly opId: number;
  readonly deadline: number;
  resolve(admitted: Pending | number | ChangeResult): void;
  reject(error: Error): void;
}

interface Partner {
  readonly node: NodeId;
  readonly session: number;
  /** The mirror holds every record of this session through this LSN. */
  mirroredThrough: number;
  /**
   * The partner is in sync once it holds every record through this LSN: those sent when pairing,
   * and those acked from the journal alone while it caught up.
   */
  syncTarget: number;
}

/** serving → (repairing ⇄ serving) → draining → handed-over, or → fenced / gave-up at any time. */
type State = 'serving' | 'repairing' | 'draining' | 'handed-over' | 'fenced' | 'gave-up';

const ENDED: ReadonlySet<State> = new Set(['handed-over', 'fenced', 'gave-up']);

function deferred(): Pick<Pending, 'done' | 'resolve' | 'reject'> {
  let resolve!: (lsn: number) => void;
  let reject!: (error: Error) => void;
  const done = new Promise<number>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  done.catch(() => {}); // a rejection nobody awaits is still reported to its submitter
  return { done, resolve, reject };
}

export class OwnedVolume {
  readonly volume: number;
  #epoch: number;
  #host: OwnerHost;
  #lock: HeldLock;
  #state: State = 'serving';
  #nextLsn: number;
  #applied: number;
  /** Unflushed records, in LSN order. */
  #records: Pending[] = [];
  /**
   * How many of #records are acked. Acks go in LSN order and flushes take acked records only, so
   * the acked ones are always a prefix: acking resumes here instead of rescanning from the start.
   */
  #ackedCount = 0;
  /** Assigned records not yet handed to the journal. */
  #group: Pending[] = [];
  #groupScheduled = false;
  #journalPuts = 0;
  #journalFailed?: Error;
  #waiting: Array<() => void> = [];
  #partner?: Partner;
  #session = 0;
  #seen = new Map<number, Pending | number>();
  #flushing = false;
  /** Called when a flush in progress ends. */
  #flushIdle: Array<() => void> = [];
  /** When the flusher starts if nothing needs it at once (see #kickFlusher). */
  readonly #flushSchedule: FlushSchedule;
  #flushFailures = 0;
  /** Readers and loads waiting for the medium to hold an LSN: the flusher runs for them at once. */
  #appliedWaiters: Array<{ lsn: number; resolve(): void; reject(error: Error): void }> = [];
  /** The owner's view of the volume's tree, which changes are checked against. */
  readonly #namespace: Namespace;
  /** Small files' bytes, in step with every accepted op: reads of them need neither flush nor medium. */
  readonly #cache = new ContentCache();
  /** Changes that could not be planned at once (a load, backpressure, a repair) wait here, in order. */
  #queue: Queued[] = [];
  #trims: Promise<void> = Promise.resolve();
  /** The highest flushed LSN not yet trimmed from journal and mirror; 0 when none waits. */
  #trimUpTo = 0;
  /** Frame bytes of the unflushed records: held under journalCapBytes. */
  #unflushedBytes = 0;
  /** Ops waiting for room under the journal cap. */
  #room: Array<() => void> = [];
  /** Called when no record is left to flush (a drain waits on it), or when the volume ends. */
  #onDrained: Array<() => void> = [];

  /** `known`: the ops the volume already holds (Adopted.known), so that their retries are not applied again. */
  constructor(host: OwnerHost, volume: number, epoch: number, base: number, lock: HeldLock, known: OpIds) {
    this.#host = host;
    this.#flushSchedule = new FlushSchedule(host.ports.clock, host.options, () => {
      if (!this.#flushing) void this.#flush();
    });
    this.volume = volume;
    this.#epoch = epoch;
    this.#lock = lock;
    this.#nextLsn = base + 1;
    this.#applied = base;
    for (const [opId, lsn] of known) this.#remember(opId, lsn);
    const medium = host.ports.medium;
    this.#namespace = new Namespace({
      applied: (lsn) => this.#whenApplied(lsn),
      list: (path) => medium.list(volume, path),
      stat: (path) => medium.stat(volume, path),
    }, base);
    lock.onLost(() => this.fence());
  }

  /** The epoch this node serves the volume at (raised after a journal failure: see #repairAfterJournalFailure). */
  get epoch(): number {
    return this.#epoch;
  }

  get serving(): boolean {
    return (this.#state === 'serving' || this.#state === 'repairing') && !this.#lock.lost;
  }

  get partner(): NodeId | undefined {
    return this.#partner?.node;
  }

  /** The latest pairing session (the partner's, or the one that partner was lost in). */
  get session(): number {
    return this.#session;
  }

  /** No partner holds every unflushed record: acks come from the journal alone (or wait). */
  get degraded(): boolean {
    const partner = this.#partner;
    return !partner || partner.mirroredThrough < partner.syncTarget;
  }

  get applied(): number {
    return this.#applied;
  }

  get unflushed(): number {
    return this.#records.length;
  }

  /** Frame bytes of the unflushed records (what the journal cap bounds). */
  get unflushedBytes(): number {
    return this.#unflushedBytes;
  }

  // ------------------------------------------------------------------------------------------
  // Write path

  /**
   * Accepts a change: checks it with Node's semantics (FsError when it is refused), gives its ops
   * LSNs, and resolves once they are acked. `opId` names the change, so a retry is recognised.
   */
  async change(change: FsChange, opId: number): Promise<ChangeResult> {
    const seen = this.#seen.get(opId);
    if (seen !== undefined) return this.#result(seen);
    // The common case plans at once, in the caller's turn; the rest queue, in order.
    if (this.#queue.length === 0 && this.#acceptsOps() && !this.#journalFull()) {
      try {
        return await this.#result(this.#planAndAssign(change, opId));
      } catch (error) {
        if (!(error instanceof NeedsLoad)) throw error;
      }
    }
    const deadline = this.#host.ports.clock.now() + this.#host.options.opTimeoutMs;
    const admitted = new Promise<Pending | number | ChangeResult>((resolve, reject) => {
      this.#queue.push({ change, opId, deadline, resolve, reject });
    });
    if (this.#queue.length === 1) void this.#admitQueued();
    return this.#result(await admitted);
  }

  /** An applied op (its LSN), a pending one, or a change that needed no op, as a change's result. */
  async #result(seen: Pending | number | ChangeResult): Promise<ChangeResult> {
    if (typeof seen === 'number') return { lsn: seen };
    if (!('done' in seen)) return seen;
    const lsn = await seen.done;
    return seen.value === undefined ? { lsn } : { lsn, value: seen.value };
  }

  /**
   * Admits queued changes in order. Those that can be planned now are assigned in one turn, so
   * that they share a group commit; the queue waits on the first that cannot (a repair, room
   * under the cap, a load).
   */
  async #admitQueued(): Promise<void> {
    while (this.#queue.length > 0) {
      const wait = this.#admitFirst(this.#queue[0]!);
      if (wait) await wait;
      else this.#queue.shift();
    }
  }

  /** Settles the change, or says what to wait for before trying it again. */
  #admitFirst(queued: Queued): Promise<void> | undefined {
    const seen = this.#seen.get(queued.opId);
    if (seen !== undefined) return void queued.resolve(seen);
    if (this.#state === 'repairing') return new Promise<void>((resume) => this.#waiting.push(resume));
    if (this.#acceptsOps() && this.#journalFull()) {
      // Nothing is awaited between this check and the LSNs: ops that waited for room together
      // cannot all slip under the cap at once.
      return this.#roomUnderCap(queued.deadline).catch((error: Error) => {
        this.#queue.shift();
        queued.reject(error);
      });
    }
    try {
      queued.resolve(this.#planAndAssign(queued.change, queued.opId));
      return undefined;
    } catch (error) {
      if (error instanceof NeedsLoad) return this.#loadFor(queued, error);
      queued.reject(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  /** A load for a queued change. The medium failing to read counts as a failed flush: broken I/O hands the volume over. */
  async #loadFor(queued: Queued, needs: NeedsLoad): Promise<void> {
    try {
      await needs.load();
    } catch (error) {
      if (error instanceof MediumError) {
        this.#flushFailed(error);
        await new Promise<void>((retry) => this.#host.ports.clock.after(this.#host.options.flushRetryMs, retry));
      } else {
        this.#queue.shift();
        queued.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** Plans the change against the namespace and gives its ops LSNs; throws NeedsLoad or FsError. */
  #planAndAssign(change: FsChange, opId: number): Pending | ChangeResult {
    if (!this.#acceptsOps()) throw this.#movedError();
    const { ops, value } = plan(this.#namespace, change);
    if (ops.length === 0) return value === undefined ? { lsn: 0 } : { lsn: 0, value }; // nothing to do: no LSN
    // Every frame is made before any op gets its LSN: a frame that cannot be made (bad input)
    // refuses the whole change, and takes no LSN.
    const first = this.#nextLsn;
    const frames = ops.map((op, i) => encodeRecord({ volume: this.volume, epoch: this.epoch, lsn: first + i, opId: opId + i, op }));
    let last!: Pending;
    ops.forEach((op, i) => {
      last = this.#assign(op, opId + i, frames[i]!, value, i === ops.length - 1);
      last.undo = this.#namespace.apply(op, last.lsn);
      this.#cached(op);
    });
    this.#remember(opId, last);
    return last;
  }

  /** Keeps the cached bytes of the file an op wrote in step with it. */
  #cached(op: Op): void {
    if (op.type !== 'write' && op.type !== 'truncate' && op.type !== 'create') return;
    const at = this.#namespace.locate(op.path);
    if (at.state === 'found' && at.entry?.kind === 'file') this.#cache.update(at.entry, op);
  }

  /**
   * Answers a query from the namespace and, for file bytes, from the medium once it holds every
   * acked op on the file (the flusher runs for it at once): read-your-writes, before the flush.
   */
  async query(query: FsQuery): Promise<QueryResult> {
    for (;;) {
      if (this.#state === 'repairing') await new Promise<void>((resume) => this.#waiting.push(resume));
      if (!this.serving) throw this.#movedError();
      try {
        const result = await this.#answer(query);
        if (result) return result;
      } catch (error) {
        if (!(error instanceof NeedsLoad)) throw error;
        await error.load();
      }
    }
  }

  /**
   * Undefined when the file moved while it was read: answer again. Symbolic links are followed
   * here, where the namespace is, as Node does: every one on the way, and the one at the end but
   * for lstat.
   */
  async #answer(query: FsQuery): Promise<QueryResult | undefined> {
    const ns = this.#namespace;
    const fail = (code: 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'ELOOP'): never => {
      throw new FsError(code, syscallOf(query), query.path);
    };
    const resolved = ns.resolve(query.path, query.kind !== 'stat' || query.follow);
    if (resolved.state !== 'found') return fail(resolved.state === 'loop' ? 'ELOOP' : resolved.state === 'missing' ? 'ENOENT' : 'ENOTDIR');
    const path = resolved.path;
    const at = ns.locate(path);
    if (at.state !== 'found') return fail(at.state === 'missing' ? 'ENOENT' : 'ENOTDIR');
    const entry = at.entry ?? fail('ENOENT');
    switch (query.kind) {
      case 'stat':
        return { kind: 'stat', stat: ns.stat(entry, path) };
      case 'readdir': {
        if (entry.kind !== 'directory') return fail('ENOTDIR');
        const children = ns.children(entry, components(path));
        const entries = [...children].map(([name, child]) => [name, child.kind] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return { kind: 'readdir', entries };
      }
      case 'read': {
        if (entry.kind !== 'file') return fail('EISDIR');
        const size = ns.size(entry, path);
        const length = Math.min(query.length, REQUEST_BYTES);
        const lsn = entry.lsn;
        const cached = lsn <= this.#ackedThrough() ? this.#cache.get(entry) : undefined; // acked bytes only
        if (cached) return { kind: 'read', data: cached.slice(query.offset, query.offset + length), size: cached.length };
        await this.#whenApplied(Math.min(Math.max(lsn, ns.barrier), this.#ackedThrough()));
        const data = await this.#host.ports.medium.read(this.volume, path, query.offset, length);
        // The whole file, as the namespace has it still (no op on it meanwhile): worth keeping.
        if (data && query.offset === 0 && data.length === size && entry.lsn === lsn && this.#applied >= lsn) this.#cache.set(entry, data.slice());
        return data && { kind: 'read', data, size };
      }
    }
  }

  /** The highest acked LSN: what a reader may see. */
  #ackedThrough(): number {
    return this.#ackedCount > 0 ? this.#records[this.#ackedCount - 1]!.lsn : this.#applied;
  }

  /**
   * Resolves once the medium holds every op through `lsn`; the flusher runs for it at once. Fails
   * with ETIMEDOUT only when the medium took nothing for opTimeoutMs (a full quota, say): a
   * large backlog that is being flushed is waited for.
   */
  #whenApplied(lsn: number): Promise<void> {
    if (lsn <= this.#applied) return Promise.resolve();
    if (ENDED.has(this.#state)) return Promise.reject(this.#movedError());
    return new Promise<void>((resolve, reject) => {
      const { opTimeoutMs } = this.#host.options;
      let timer: Timer;
      const watch = (seen: number) => {
        timer = this.#host.ports.clock.after(opTimeoutMs, () => {
          if (this.#applied > seen) return watch(this.#applied);
          this.#appliedWaiters = this.#appliedWaiters.filter((w) => w !== waiter);
          reject(new NodeError('ETIMEDOUT', `volume ${this.volume}: the medium took nothing for ${opTimeoutMs} ms (waiting for LSN ${lsn})`, { volume: this.volume }));
        });
      };
      const waiter = { lsn, resolve: () => (timer.cancel(), resolve()), reject: (error: Error) => (timer.cancel(), reject(error)) };
      watch(this.#applied);
      this.#appliedWaiters.push(waiter);
      this.#kickFlusher();
    });
  }

  #movedError(): NodeError {
    return new NodeError('ENOTOWNER', `volume ${this.volume} moved to another node; retry there`, { volume: this.volume });
  }

  /** Backpressure: waits until a flush frees room under the journal cap; fails at `deadline`. */
  async #roomUnderCap(deadline: number): Promise<void> {
    const left = deadline - this.#host.ports.clock.now();
    if (left <= 0) {
      throw new NodeError('ETIMEDOUT', `volume ${this.volume}: the journal is full (${this.#unflushedBytes} bytes waiting to be flushed); the op was not accepted`, {
        volume: this.volume,
        unflushedBytes: this.#unflushedBytes,
      });
    }
    await new Promise<void>((resume) => {
      const timer = this.#host.ports.clock.after(left, resume);
      this.#room.push(() => {
        timer.cancel();
        resume();
      });
    });
  }

  /** Backpressure: the unflushed records fill the journal cap; new ops wait for the flusher. */
  #journalFull(): boolean {
    return this.#unflushedBytes >= this.#host.options.journalCapBytes;
  }

  /** Whether new ops may get an LSN now. */
  #acceptsOps(): boolean {
    return this.#state === 'serving' && !this.#lock.lost;
  }

  /** `value` marks the change's last op (undefined for the others: see Pending.last). */
  #assign(op: Op, opId: number, frame: Uint8Array, value: number | string | undefined, last = true): Pending {
    const lsn = this.#nextLsn++;
    const record: Pending = { lsn, epoch: this.epoch, opId, op, frame, journaled: false, acked: false, last, value, ...deferred() };
    this.#records.push(record);
    this.#unflushedBytes += frame.length;
    this.#group.push(record);
    if (!this.#groupScheduled) {
      this.#groupScheduled = true;
      // Ops submitted in the same turn share one journal transaction and one link message.
      void Promise.resolve().then(() => this.#commitGroups());
    }
    return record;
  }

  #remember(opId: number, value: Pending | number): void {
    this.#seen.set(opId, value);
    if (this.#seen.size > this.#host.options.dedupWindow) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }

  #commitGroups(): void {
    this.#groupScheduled = false;
    while (this.#group.length > 0) {
      // A group ends with a change: a change's records are stored and mirrored all or none.
      let size = Math.min(this.#host.options.groupMaxRecords, this.#group.length);
      while (!this.#group[size - 1]!.last) size++;
      void this.#commitGroup(this.#group.splice(0, size));
    }
  }

  async #commitGroup(group: Pending[]): Promise<void> {
    const stored: StoredRecord[] = group.map((r) => ({ volume: this.volume, lsn: r.lsn, epoch: r.epoch, frame: r.frame }));
    const concurrently = this.#host.options.mirrorConcurrently;
    if (concurrently) this.#sendToPartner(group);
    this.#journalPuts++;
    try {
      await this.#host.ports.journal.put(stored);
      for (const record of group) record.journaled = true;
      if (!concurrently) this.#sendToPartner(group);
    } catch (error) {
      this.#journalFailed ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#journalPuts--;
    }
    if (this.#journalFailed) void this.#repairAfterJournalFailure();
    else this.#ackReady();
  }

  #sendToPartner(group: readonly Pending[]): void {
    const partner = this.#partner;
    if (!partner || group.length === 0) return;
    const message: Message = {
      t: 'mirror', volume: this.volume, epoch: this.epoch, session: partner.session,
      lsns: group.map((r) => r.lsn), frames: group.map((r) => r.frame),
    };
    if (!this.#host.send(partner.node, message)) this.#host.partnerUnreachable(partner.node);
  }

  /**
   * Acks, in LSN order, every record that is in the journal and in the partner's mirror; without
   * a partner in sync, after the journal alone (degraded), unless the app requires the mirror.
   */
  #ackReady(): void {
    const journalOnly = !this.#host.options.requireMirror && this.degraded;
    const partner = this.#partner;
    for (let i = this.#ackedCount; i < this.#records.length; i++) {
      const record = this.#records[i]!;
      if (!record.journaled || (!journalOnly && !this.#isMirrored(record.lsn))) break;
      // Acked from the journal alone while a partner catches up: it is in sync only once it
      // holds this record too, not already when it reaches the LSN it was paired at.
      if (journalOnly && partner) partner.syncTarget = Math.max(partner.syncTarget, record.lsn);
      record.acked = true;
      this.#ackedCount++;
      record.resolve(record.lsn);
    }
    this.#kickFlusher();
  }

  /** Whether a partner in sync holds the record. */
  #isMirrored(lsn: number): boolean {
    const partner = this.#partner;
    return partner !== undefined && partner.mirroredThrough >= partner.syncTarget && partner.mirroredThrough >= lsn;
  }

  /** Some acked, unflushed record has no copy in a partner's mirror (its journal is the only one). */
  get hasUnmirroredAcks(): boolean {
    return this.#records.some((record) => record.acked && !this.#isMirrored(record.lsn));
  }

  /**
   * A journal write failed: fail that group and everything after it, take their LSNs back (an
   * LSN left unused would be a gap replay cannot cross), and pair again so the partner drops
   * any copies it took.
   *
   * Mirrored beside the journal, the failed records may already sit in the partner's mirror, and
   * a takeover before the partner drops them would apply ops their clients were told failed. So
   * the owner first raises its own epoch, beginning it at the last LSN it keeps: above that, the
   * old epoch's records are a stale tail that no takeover replays. Only then are the clients told.
   * If that cannot be done, the ops' fate is the next owner's to tell: their clients retry there,
   * and find them applied or not.
   */
  async #repairAfterJournalFailure(): Promise<void> {
    if (this.#state !== 'serving' || this.#journalPuts > 0) return;
    this.#state = 'repairing';
    const error = this.#journalFailed!;
    this.#journalFailed = undefined;
    const keep = this.#records.findIndex((r) => !r.journaled);
    const failed = keep < 0 ? [] : this.#records.splice(keep);
    this.#freed(failed);
    for (const record of failed) this.#seen.delete(record.opId);
    this.#nextLsn = (this.#records.at(-1)?.lsn ?? this.#applied) + 1;
    const lastKept = this.#nextLsn - 1;
    // The namespace holds the failed ops' effects: take them back, newest first (and forget cached bytes).
    for (const record of [...failed].reverse()) record.undo?.();
    this.#cache.clear();
    if (this.#host.options.mirrorConcurrently && failed.length > 0 && !(await this.#raiseEpoch(lastKept))) {
      for (const record of failed) record.reject(new NodeError('ENOTOWNER', `volume ${this.volume}: the journal write failed and the volume moves on; retry there`, { volume: this.volume }));
      return;
    }
    const code: NodeErrorCode = error instanceof NodeError ? error.code : 'EIO';
    for (const record of failed) {
      record.reject(new NodeError(code, `volume ${this.volume}: the journal write failed: ${error.message}`, { volume: this.volume }));
    }
    await this.#host.ports.journal.deleteRange(this.volume, lastKept + 1, Number.MAX_SAFE_INTEGER)
      .catch(() => {}); // a stale tail above a gap is never replayed
    if (this.#state !== 'repairing') return;
    this.#state = 'serving';
    const partner = this.#partner;
    if (partner) this.pair(partner.node);
    for (const resume of this.#waiting.splice(0)) resume();
    this.#ackReady();
  }

  /**
   * Claims the next epoch for this node, beginning above `base`. False when that failed: fenced
   * meanwhile, or the medium failing too (then this node gives the volume up).
   */
  async #raiseEpoch(base: number): Promise<boolean> {
    // A batch still out at the old epoch would meet the new one: let it finish first (the
    // flusher takes no new batch while the volume is repairing).
    while (this.#flushing) await new Promise<void>((idle) => this.#flushIdle.push(idle));
    try {
      if (this.#lock.lost) throw new FencedError(this.volume, this.#epoch, this.#epoch);
      const state = await this.#host.ports.medium.claim(this.volume, this.#epoch + 1, base);
      this.#epoch = state.epoch;
      return true;
    } catch (error) {
      if (error instanceof FencedError) this.fence();
      else this.giveUp();
      return false;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Partner

  /** Mirrors to `node` from now on: new session, every unflushed record sent again. */
  pair(node: NodeId): void {
    const session = ++this.#session;
    const keepThrough = this.#nextLsn - 1;
    this.#partner = { node, session, mirroredThrough: this.#applied, syncTarget: keepThrough };
    this.#host.send(node, { t: 'pair', volume: this.volume, epoch: this.epoch, session, keepThrough });
    for (let at = 0; at < this.#records.length; at += this.#host.options.groupMaxRecords) {
      this.#sendToPartner(this.#records.slice(at, at + this.#host.options.groupMaxRecords));
    }
    this.#host.emit({ type: 'degraded', volume: this.volume, degraded: this.degraded });
    this.#ackReady();
  }

  partnerLost(node: NodeId): void {
    if (this.#partner?.node !== node) return;
    this.#partner = undefined;
    this.#host.emit({ type: 'degraded', volume: this.volume, degraded: true });
    this.#ackReady();
  }

  onMirrored(from: NodeId, session: number, upTo: number): void {
    const partner = this.#partner;
    if (!partner || partner.node !== from || partner.session !== session) return;
    const wasDegraded = this.degraded;
    partner.mirroredThrough = Math.max(partner.mirroredThrough, upTo);
    if (wasDegraded && !this.degraded) this.#host.emit({ type: 'degraded', volume: this.volume, degraded: false });
    this.#ackReady();
  }

  /** The partner refused a record (damaged in flight, or its store failed): pair again, a bit later. */
  onMirrorFailed(from: NodeId, session: number): void {
    this.#host.ports.clock.after(this.#host.options.flushRetryMs, () => {
      const partner = this.#partner;
      if (this.serving && partner && partner.node === from && partner.session === session) this.pair(from);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Flush path

  /** Whether this node may still write the volume into the medium (not while it repairs its journal). */
  #mayFlush(): boolean {
    return !ENDED.has(this.#state) && this.#state !== 'repairing' && !this.#lock.lost;
  }

  /**
   * Starts the flusher at once when a reader or a drain waits for the medium, or when the
   * unflushed records fill half the journal cap (or a batch's bytes); else when acks pause
   * (FlushSchedule).
   */
  #kickFlusher(): void {
    if (this.#flushing) return;
    if (this.#flushDue()) void this.#flush();
    else this.#flushSchedule.wait();
  }

  #flushDue(): boolean {
    const { flushDelayMs, batchMaxBytes, journalCapBytes } = this.#host.options;
    return flushDelayMs <= 0 || this.#state === 'draining' || this.#appliedWaiters.length > 0
      || this.#unflushedBytes >= Math.min(batchMaxBytes, journalCapBytes / 2);
  }

  /**
   * Applies the records acked when it started, batch after batch; those acked meanwhile wait for
   * the next pause (#kickFlusher) unless they are due at once.
   */
  async #flush(): Promise<void> {
    this.#flushing = true;
    this.#flushSchedule.started();
    const through = this.#records[this.#ackedCount - 1]?.lsn ?? 0;
    let left = false;
    try {
      for (;;) {
        // One batch's worth at most: a backlog of many thousands must not be walked per batch.
        const ready: LsnOp[] = [];
        for (const record of this.#records) {
          if (!record.acked || ready.length >= this.#host.options.batchMaxOps) break;
          ready.push({ lsn: record.lsn, opId: record.opId, op: record.op });
        }
        if (ready.length === 0 || !this.#mayFlush()) return;
        const batch = nextBatch(ready, { maxOps: this.#host.options.batchMaxOps, maxBytes: this.#host.options.batchMaxBytes });
        if (!(await this.#applyBatch(batch))) return;
        if (this.#ackedCount > 0 && this.#records[0]!.lsn > through && !this.#flushDue()) {
          left = true;
          return;
        }
      }
    } finally {
      this.#flushing = false;
      for (const idle of this.#flushIdle.splice(0)) idle();
      if (left) this.#kickFlusher();
      this.#checkDrained();
    }
  }

  /** A drain is done when no acked record waits for the medium and no journal write is out. */
  #checkDrained(): void {
    if (this.#onDrained.length === 0 || this.#journalPuts > 0 || this.#group.length > 0) return;
    if (this.#ackedCount > 0) return;
    for (const drained of this.#onDrained.splice(0)) drained();
  }

  /** One batch into the medium; false when flushing must stop (fenced, gave up, or retrying later). */
  async #applyBatch(batch: LsnOp[]): Promise<boolean> {
    try {
      await this.#host.ports.medium.apply(this.volume, this.epoch, batch);
    } catch (error) {
      if (error instanceof FencedError) this.fence();
      else this.#flushFailed(error);
      return false;
    }
    // The volume ended while the batch was out (fenced by a stolen lock, say): #end() dropped its
    // records, so there is nothing here to mark flushed, and no trim is ours to send.
    if (ENDED.has(this.#state)) return false;
    this.#flushFailures = 0;
    const last = batch.at(-1)!.lsn;
    this.#applied = last;
    this.#freed(this.#records.splice(0, batch.length));
    this.#ackedCount -= batch.length;
    for (const item of batch) if (this.#seen.has(item.opId)) this.#seen.set(item.opId, item.lsn);
    this.#wakeAppliedWaiters();
    this.#trim(last);
    return true;
  }

  #wakeAppliedWaiters(): void {
    const waiting = this.#appliedWaiters;
    this.#appliedWaiters = waiting.filter((waiter) => waiter.lsn > this.#applied);
    for (const waiter of waiting) if (waiter.lsn <= this.#applied) waiter.resolve();
  }

  /** Records left the journal's unflushed set: wake ops waiting for room. */
  #freed(records: readonly Pending[]): void {
    for (const record of records) this.#unflushedBytes -= record.frame.length;
    for (const resume of this.#room.splice(0)) resume();
  }

  /**
   * Deletes flushed records from the journal and the partner's mirror — later, and many at once:
   * a delete is a readwrite transaction on the same store as the next op's journal write, so
   * deleting after every flush would put one in front of nearly every ack.
   */
  #trim(upTo: number): void {
    const due = this.#trimUpTo === 0;
    this.#trimUpTo = Math.max(this.#trimUpTo, upTo);
    if (due) this.#host.ports.clock.after(this.#host.options.trimDelayMs, () => this.#trimNow());
  }

  #trimNow(): void {
    const upTo = this.#trimUpTo;
    this.#trimUpTo = 0;
    const journal = this.#host.ports.journal;
    // Deletes run one after another; a failed one is retried by the next, or by the sweep.
    this.#trims = this.#trims.then(() => journal.deleteRange(this.volume, 1, upTo)).catch(() => {});
    if (this.#partner) this.#host.send(this.#partner.node, { t: 'trim', volume: this.volume, upTo });
  }

  /**
   * A flush failed. Broken I/O (permanent, or failing again and again) hands the volume to a node
   * that can flush. A full quota is the origin's, not ours: every node would fail alike, so we
   * keep the records and retry, more slowly, until space is freed.
   */
  #flushFailed(error: unknown): void {
    this.#flushFailures++;
    const quota = error instanceof MediumError && error.code === 'ENOSPC';
    const permanent = error instanceof MediumError && error.permanent;
    if (!quota && (permanent || this.#flushFailures >= this.#host.options.maxFlushFailures)) {
      this.giveUp();
      return;
    }
    const { flushRetryMs, hangTimeoutMs } = this.#host.options;
    const delay = Math.min(flushRetryMs * 2 ** (this.#flushFailures - 1), hangTimeoutMs);
    this.#host.ports.clock.after(delay, () => this.#kickFlusher());
  }

  // ------------------------------------------------------------------------------------------
  // Endings

  /**
   * Planned hand-over: take no new ops (clients retry at the next owner), flush every acked
   * record, then release the volume, so the next owner has nothing to replay. (Records that could
   * not be acked — the app requires a mirror and none is there — stay in the journal: the next
   * owner replays them, and their clients' retries find them done.) False if the volume ended
   * otherwise meanwhile.
   */
  async handOver(): Promise<boolean> {
    if (this.#state !== 'serving') return false;
    this.#state = 'draining';
    await new Promise<void>((drained) => {
      this.#onDrained.push(drained);
      this.#kickFlusher();
    });
    if (this.#state !== 'draining') return false;
    this.#state = 'handed-over';
    this.#end('ENOTOWNER', 'handed-over');
    return true;
  }

  /** A higher epoch took the volume: write nothing more, fail what is not acked (clients retry). */
  fence(): void {
    if (ENDED.has(this.#state)) return;
    this.#state = 'fenced';
    const partner = this.#partner;
    if (partner) this.#host.send(partner.node, { t: 'unpair', volume: this.volume, session: partner.session });
    this.#end('EFENCED', 'fenced');
  }

  /** Our medium I/O is broken: release the volume so a node that can flush takes it over. */
  giveUp(): void {
    if (ENDED.has(this.#state)) return;
    this.#state = 'gave-up';
    this.#end('ENOTOWNER', 'gave-up');
    for (const peer of this.#host.ports.link.peers()) {
      this.#host.send(peer, { t: 'giveUp', volume: this.volume, epoch: this.epoch });
    }
  }

  #end(code: NodeErrorCode, why: Ending): void {
    for (const record of this.#records) {
      if (!record.acked) record.reject(new NodeError(code, `volume ${this.volume} moved to another node; retry there`, { volume: this.volume }));
    }
    this.#freed(this.#records);
    this.#records = [];
    this.#ackedCount = 0;
    this.#group = [];
    for (const resume of this.#waiting.splice(0)) resume();
    for (const drained of this.#onDrained.splice(0)) drained();
    for (const waiter of this.#appliedWaiters.splice(0)) waiter.reject(this.#movedError());
    this.#lock.release();
    this.#host.released(this.volume, why);
  }
}
