// The simulated origin: nodes as processes that can crash or hang, the IndexedDB stores every
// node leaves behind, the shared medium, Web Locks and links — all in memory, all on virtual
// time, all deterministic for a seed. Each node gets the real core's Ports over these.
//
// What a failure does, as in a browser:
// - crash: the node stops for good; its unfinished store writes and medium writes are cut off
//   (a finished one stays), its locks are released, its links drop. Its stores remain.
// - hang: the node runs nothing; everything addressed to it waits. Its locks stay held, and
//   I/O it started finishes (IndexedDB and the OPFS worker do not need its main thread).
//
// What takes time, as in a browser: a store (one IndexedDB object store) runs one transaction
// at a time, each costing a latency plus its bytes over the store's throughput, so a big read
// delays the puts queued behind it; a link sends one message at a time at its bandwidth, so a
// burst delays what follows it, except urgent messages (liveness), which go on a lane of their
// own; and a node's medium can be slowed, as a busy disk is.
import { FencedError, MediumError } from '../errors.js';
import type { Op } from '../record/types.js';
import type {
  Clock, HeldLock, Link, Locks, LockWait, LsnOp, Medium, NodeId, Ports, RecordStore, StoreDirectory, StoredRecord, VolumeState,
} from '../core/ports.js';
import { MemoryFs } from './memory-fs.js';
import { recentOps } from './memory-medium.js';
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';

/** What the world tells the invariant checker as it happens. */
export interface WorldObserver {
  applyStarted(volume: number, epoch: number, firstLsn: number, state: VolumeState, node: NodeId): void;
  applied(volume: number, lsn: number, op: Op, opId: number): void;
  applyEnded(volume: number): void;
  fencedWrite(volume: number, epoch: number, current: number, node: NodeId): void;
  claimed(volume: number, epoch: number, base: number): void;
  /** `by` took the lock `name` from `holder`; `excused` says why that holder may look dead. */
  stolen(name: string, holder: NodeId, by: NodeId, excused: string | undefined): void;
  impossible(what: string): void;
}

export interface Latencies {
  /** Milliseconds per store transaction, per medium op, per message (each jittered 0.5–1.5x). */
  store: number;
  medium: number;
  link: number;
  /** Bytes per millisecond a store reads or writes, and a link carries. */
  storeBytesPerMs: number;
  linkBytesPerMs: number;
}

/**
 * As measured in Chromium here: a 4 KiB IndexedDB put about 0.5 ms, 50 MB/s for big values; a
 * medium op well under a millisecond in the OPFS worker; a link round trip about 1 ms, 25 MB/s.
 */
export const DEFAULT_LATENCIES: Latencies = { store: 0.6, medium: 0.4, link: 0.5, storeBytesPerMs: 50_000, linkBytesPerMs: 25_000 };

/** A queue that serves one thing at a time: a store's transactions, or a link's messages. */
interface Lane {
  /** When what is queued now is done. */
  freeAt: number;
}

/**
 * A node's medium I/O: 'transient' fails half the writes, 'broken' fails all of them for good,
 * 'full' fails them as a full quota does (not broken: retrying later may work).
 */
type MediumFault = 'ok' | 'transient' | 'broken' | 'full';

interface Process {
  readonly id: NodeId;
  state: 'up' | 'hung' | 'down';
  /** When it last resumed from a hang (Infinity while hung). */
  resumedAt: number;
  parked: Array<() => void>;
  mediumFault: MediumFault;
  /** Its medium ops take this many times as long (a busy disk). */
  mediumSlowdown: number;
  /** Transactions on its stores take this many times as long. */
  storeSlowdown: number;
  /** Its links carry no data (urgent messages still pass) until then: a stalled data channel. */
  stalledUntil: number;
  storeQuota: boolean;
  messageHandlers: Array<(from: NodeId, message: unknown) => void>;
  peerHandlers: Array<(peer: NodeId, up: boolean) => void>;
}

// ---------------------------------------------------------------------------------------------
// Stores

class MemoryStore {
  readonly records = new Map<string, StoredRecord>();
  readonly lane: Lane = { freeAt: 0 };

  static key(volume: number, lsn: number): string {
    return `${volume}:${lsn}`;
  }

  sorted(volume?: number): StoredRecord[] {
    return [...this.records.values()]
      .filter((r) => volume === undefined || r.volume === volume)
      .sort((a, b) => a.volume - b.volume || a.lsn - b.lsn);
  }
}

// ---------------------------------------------------------------------------------------------
// Medium

interface SharedVolume {
  fs: MemoryFs;
  state: VolumeState;
  /** The op id applied at each LSN (ClaimedState.recent). */
  opIds: Map<number, number>;
  /** The node applying or claiming now; others wait (the medium's per-volume mutex). */
  busy?: NodeId;
  waiting: Array<() => void>;
}

// ---------------------------------------------------------------------------------------------
// Locks

class SimLock implements HeldLock {
  lost = false;
  released = false;
  #onLost: Array<() => void> = [];
  constructor(readonly name: string, readonly holder: NodeId, private readonly world: World) {}

  onLost(callback: () => void): void {
    this.#onLost.push(callback);
  }

  stolen(): void {
    this.lost = true;
    for (const callback of this.#onLost) this.world.deliver(this.holder, callback);
  }

  release(): void {
    if (this.lost || this.released) return;
    this.released = true;
    this.lost = true;
    this.world.releaseLock(this);
  }
}

interface Waiter {
  node: NodeId;
  grant(lock: SimLock): void;
}

export class World {
  readonly scheduler: Scheduler;
  readonly rng: Rng;
  readonly latencies: Latencies;
  observer?: WorldObserver;
  readonly processes = new Map<NodeId, Process>();
  readonly stores = new Map<NodeId, { journal: MemoryStore; mirror: MemoryStore }>();
  readonly volumes = new Map<number, SharedVolume>();
  readonly #locks = new Map<string, SimLock>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #cuts = new Set<string>();
  /** When each pair's link was last healed (Infinity while cut). */
  readonly #healedAt = new Map<string, number>();
  readonly #channels = new Map<string, Channel>();
  /** A steal within this long of its holder's hang, or of a cut between the two, is excused. */
  livenessWindowMs = 4000;
  /** Bytes the medium may hold (quota); Infinity unless a fault lowers it. */
  mediumQuota = Number.POSITIVE_INFINITY;
  /** The next message from `from` carrying records arrives with one byte flipped. */
  readonly corruptNextMirror = new Set<NodeId>();
  /** Sees every message as it is sent (tests watch the wire with it). */
  onSend?: (from: NodeId, to: NodeId, message: unknown) => void;
  /** Sees every message right after its receiver handled it (faults aim at that moment). */
  onHandled?: (from: NodeId, to: NodeId, message: unknown) => void;
  /** Extra milliseconds on every message a node sends (a congested link). */
  readonly linkDelay = new Map<NodeId, number>();
  /** Records ("volume:lsn:epoch") one stored copy of which was damaged: never damage a second. */
  readonly damaged = new Set<string>();

  constructor(scheduler: Scheduler, rng: Rng, latencies: Latencies) {
    this.scheduler = scheduler;
    this.rng = rng;
    this.latencies = latencies;
  }

  // ------------------------------------------------------------------------------------------
  // Processes

  spawn(id: NodeId): Process {
    const process: Process = {
      id, state: 'up', resumedAt: Number.NEGATIVE_INFINITY, parked: [], mediumFault: 'ok', mediumSlowdown: 1, storeSlowdown: 1, stalledUntil: 0,
      storeQuota: false, messageHandlers: [], peerHandlers: [],
    };
    this.processes.set(id, process);
    if (!this.stores.has(id)) this.stores.set(id, { journal: new MemoryStore(), mirror: new MemoryStore() });
    for (const other of this.processes.values()) {
      if (other.id !== id && other.state !== 'down' && !this.#cuts.has(pairKey(id, other.id))) this.#connect(id, other.id);
    }
    return process;
  }

  isUp(node: NodeId): boolean {
    return this.processes.get(node)?.state === 'up';
  }

  /** Runs `fn` as the node after `delay`: dropped if it crashed, held while it hangs. */
  deliver(node: NodeId, fn: () => void, delay = 0): { cancel(): void } {
    const event = this.scheduler.at(delay, () => this.#runAs(node, fn));
    return { cancel: () => void (event.cancelled = true) };
  }

  #runAs(node: NodeId, fn: () => void): void {
    const process = this.processes.get(node);
    if (!process || process.state === 'down') return;
    if (process.state === 'hung') process.parked.push(fn);
    else fn();
  }

  /**
   * I/O that happens after `latency` unless its node crashed first; its result reaches the node.
   * With a lane, it waits for what is queued there and holds the lane for its `bytes` too.
   */
  io<T>(node: NodeId, latency: number, effect: () => T, lane?: Lane, bytes = 0): Promise<T> {
    let delay = this.#jitter(latency);
    if (lane) {
      const start = Math.max(this.scheduler.now, lane.freeAt);
      lane.freeAt = start + delay + bytes / this.latencies.storeBytesPerMs;
      delay = lane.freeAt - this.scheduler.now;
    }
    return new Promise<T>((resolve, reject) => {
      this.scheduler.at(delay, () => {
        if (this.processes.get(node)?.state === 'down') return;
        let result: { ok: true; value: T } | { ok: false; error: unknown };
        try {
          result = { ok: true, value: effect() };
        } catch (error) {
          result = { ok: false, error };
        }
        this.deliver(node, () => (result.ok ? resolve(result.value) : reject(result.error)));
      });
    });
  }

  #jitter(latency: number): number {
    return latency * (0.5 + this.rng.next());
  }

  crash(node: NodeId): void {
    const process = this.processes.get(node);
    if (!process || process.state === 'down') return;
    process.state = 'down';
    process.parked = [];
    for (const [name, waiters] of this.#waiters) this.#waiters.set(name, waiters.filter((w) => w.node !== node));
    for (const lock of [...this.#locks.values()]) if (lock.holder === node) lock.release();
    for (const volume of this.volumes.values()) if (volume.busy === node) this.#unbusy(volume);
    for (const other of this.processes.values()) {
      if (other.id !== node && other.state !== 'down') this.#disconnect(node, other.id);
    }
  }

  hang(node: NodeId): void {
    const process = this.processes.get(node);
    if (process?.state !== 'up') return;
    process.state = 'hung';
    process.resumedAt = Number.POSITIVE_INFINITY;
  }

  resume(node: NodeId): void {
    const process = this.processes.get(node);
    if (process?.state !== 'hung') return;
    process.state = 'up';
    process.resumedAt = this.scheduler.now;
    const backlog = process.parked.splice(0);
    // In order, as the node's task queue would run them once its main thread is free.
    const step = () => {
      const fn = backlog.shift();
      if (!fn) return;
      this.#runAs(node, fn);
      this.scheduler.at(0, step);
    };
    step();
  }

  setMediumFault(node: NodeId, fault: MediumFault): void {
    const process = this.processes.get(node);
    if (process) process.mediumFault = fault;
  }

  /** Slows the node's medium ops by `factor` (1: normal). */
  setMediumSlowdown(node: NodeId, factor: number): void {
    const process = this.processes.get(node);
    if (process) process.mediumSlowdown = factor;
  }

  /** Slows every transaction on the node's stores (its journal and mirror) by `factor` (1: normal). */
  setStoreSlowdown(node: NodeId, factor: number): void {
    const process = this.processes.get(node);
    if (process) process.storeSlowdown = factor;
  }

  /** The node's data channels send nothing for `ms` (urgent messages still pass). */
  stallLinks(node: NodeId, ms: number): void {
    const process = this.processes.get(node);
    if (process) process.stalledUntil = Math.max(process.stalledUntil, this.scheduler.now + ms);
  }

  setStoreQuota(node: NodeId, exhausted: boolean): void {
    const process = this.processes.get(node);
    if (process) process.storeQuota = exhausted;
  }

  /** Whether some store still has transactions queued (slowed stores can lag long after a fault). */
  storesBusy(): boolean {
    for (const { journal, mirror } of this.stores.values()) {
      if (journal.lane.freeAt > this.scheduler.now || mirror.lane.freeAt > this.scheduler.now) return true;
    }
    return false;
  }

  /** Nodes whose stores were lost with them. */
  readonly wiped = new Set<NodeId>();

  /** Forgets a node's stores, as if its storage were lost with it. */
  wipeStores(node: NodeId): void {
    this.wiped.add(node);
    this.stores.set(node, { journal: new MemoryStore(), mirror: new MemoryStore() });
  }

  // ------------------------------------------------------------------------------------------
  // Links

  #channel(from: NodeId, to: NodeId): Channel {
    const key = `${from}>${to}`;
    let channel = this.#channels.get(key);
    if (!channel) this.#channels.set(key, (channel = { generation: 0, lastDelivery: 0, lastUrgent: 0, lane: { freeAt: 0 } }));
    return channel;
  }

  #connected(a: NodeId, b: NodeId): boolean {
    const pa = this.processes.get(a);
    const pb = this.processes.get(b);
    return !!pa && !!pb && pa.state !== 'down' && pb.state !== 'down' && !this.#cuts.has(pairKey(a, b));
  }

  #notifyPeer(node: NodeId, peer: NodeId, up: boolean, delay: number): void {
    this.deliver(node, () => {
      for (const handler of this.processes.get(node)?.peerHandlers ?? []) handler(peer, up);
    }, delay);
  }

  #connect(a: NodeId, b: NodeId): void {
    this.#channel(a, b).generation++;
    this.#channel(b, a).generation++;
    const delay = this.#jitter(this.latencies.link * 10); // a data channel takes a moment to open
    this.#notifyPeer(a, b, true, delay);
    this.#notifyPeer(b, a, true, delay);
  }

  #disconnect(a: NodeId, b: NodeId): void {
    for (const channel of [this.#channel(a, b), this.#channel(b, a)]) {
      channel.generation++;
      channel.lane.freeAt = 0; // a new channel starts with an empty queue
    }
    this.#notifyPeer(a, b, false, this.#jitter(this.latencies.link * 5));
    this.#notifyPeer(b, a, false, this.#jitter(this.latencies.link * 5));
  }

  cut(a: NodeId, b: NodeId): void {
    if (this.#cuts.has(pairKey(a, b))) return;
    const wasConnected = this.#connected(a, b);
    this.#cuts.add(pairKey(a, b));
    this.#healedAt.set(pairKey(a, b), Number.POSITIVE_INFINITY);
    if (wasConnected) this.#disconnect(a, b);
  }

  heal(a: NodeId, b: NodeId): void {
    if (!this.#cuts.delete(pairKey(a, b))) return;
    this.#healedAt.set(pairKey(a, b), this.scheduler.now);
    if (this.#connected(a, b)) this.#connect(a, b);
  }

  healAllLinks(): void {
    for (const key of [...this.#cuts]) {
      const [a, b] = key.split('|') as [NodeId, NodeId];
      this.heal(a, b);
    }
  }

  #send(from: NodeId, to: NodeId, message: unknown, urgent: boolean): boolean {
    if (!this.#connected(from, to)) return false;
    this.onSend?.(from, to, message);
    const channel = this.#channel(from, to);
    const generation = channel.generation;
    let delivered = message;
    if (this.corruptNextMirror.has(from) && isMirrorMessage(message)) {
      this.corruptNextMirror.delete(from);
      delivered = corruptMirrorMessage(message, this.rng);
    }
    const latency = this.#jitter(this.latencies.link) + (this.linkDelay.get(from) ?? 0);
    let at: number;
    if (urgent) {
      // Its own lane: behind earlier urgent messages only.
      at = Math.max(this.scheduler.now + latency, channel.lastUrgent + 1e-6);
      channel.lastUrgent = at;
    } else {
      // One message at a time at the link's bandwidth, none while the sender's channels stall;
      // in order per channel, as a data channel delivers, and strictly after the previous
      // message (events at one instant run in random order).
      const { lane } = channel;
      const start = Math.max(this.scheduler.now, lane.freeAt, this.processes.get(from)!.stalledUntil);
      lane.freeAt = start + messageBytes(message) / this.latencies.linkBytesPerMs;
      at = Math.max(lane.freeAt + latency, channel.lastDelivery + 1e-6);
      channel.lastDelivery = at;
    }
    this.deliver(to, () => {
      if (this.#channel(from, to).generation !== generation) return;
      for (const handler of this.processes.get(to)?.messageHandlers ?? []) handler(from, delivered);
      this.onHandled?.(from, to, delivered);
    }, at - this.scheduler.now);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Locks

  #grant(name: string, node: NodeId): SimLock {
    const lock = new SimLock(name, node, this);
    this.#locks.set(name, lock);
    return lock;
  }

  releaseLock(lock: SimLock): void {
    if (this.#locks.get(lock.name) !== lock) return;
    this.#locks.delete(lock.name);
    const waiters = this.#waiters.get(lock.name) ?? [];
    const next = waiters.shift();
    if (next) {
      const granted = this.#grant(lock.name, next.node);
      // Web Locks hands a lock on some 20 ms after its holder's context is gone.
      this.deliver(next.node, () => next.grant(granted), this.#jitter(20));
    }
  }

  #locksFor(node: NodeId): Locks {
    return {
      tryAcquire: (name) => this.io(node, 0.05, () => (this.#locks.has(name) ? null : this.#grant(name, node))),
      wait: (name): LockWait => {
        let cancelled = false;
        let waiter: Waiter | undefined;
        const granted = new Promise<HeldLock>((resolve) => {
          waiter = {
            node,
            grant: (lock) => {
              if (cancelled) lock.release();
              else resolve(lock);
            },
          };
          if (!this.#locks.has(name) && !(this.#waiters.get(name)?.length)) {
            const lock = this.#grant(name, node);
            this.deliver(node, () => waiter!.grant(lock), 0.05);
          } else {
            this.#waiters.set(name, [...(this.#waiters.get(name) ?? []), waiter]);
          }
        });
        return {
          granted,
          cancel: () => {
            cancelled = true;
            this.#waiters.set(name, (this.#waiters.get(name) ?? []).filter((w) => w !== waiter));
          },
        };
      },
      steal: (name) => this.io(node, 0.05, () => {
        const held = this.#locks.get(name);
        if (held && held.holder !== node) this.observer?.stolen(name, held.holder, node, this.#stealExcuse(held.holder, node));
        held?.stolen();
        return this.#grant(name, node);
      }),
    };
  }

  /**
   * Why `holder` may rightly look dead to `by`: it is down or hung, or was hung or cut off from
   * `by` lately. Undefined when it was up and linked all along: a steal then is a false takeover.
   */
  #stealExcuse(holder: NodeId, by: NodeId): string | undefined {
    const since = this.scheduler.now - this.livenessWindowMs;
    const process = this.processes.get(holder);
    if (!process || process.state !== 'up') return `${holder} is ${process?.state ?? 'gone'}`;
    if (process.resumedAt > since) return `${holder} was hung lately`;
    if ((this.processes.get(by)?.resumedAt ?? 0) > since) return `${by} was hung lately`;
    if ((this.#healedAt.get(pairKey(holder, by)) ?? Number.NEGATIVE_INFINITY) > since) return 'their link was cut lately';
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Stores

  #storeFor(node: NodeId, owner: NodeId, kind: 'journal' | 'mirror'): RecordStore {
    // A node that never ran has no stores: reads find nothing (and make none), a write makes them.
    const store = (make = false) => {
      if (make && !this.stores.has(owner)) this.stores.set(owner, { journal: new MemoryStore(), mirror: new MemoryStore() });
      return this.stores.get(owner)?.[kind] ?? new MemoryStore();
    };
    const latency = () => this.latencies.store * (this.processes.get(owner)?.storeSlowdown ?? 1);
    // Reads cost the bytes they return; the store is one queue, whatever node uses it.
    const listed = (volume: number | undefined, from: number) => store().sorted(volume).filter((r) => r.lsn >= from);
    return {
      put: (records) => this.io(node, latency(), () => {
        if (this.processes.get(node)?.storeQuota) {
          throw new MediumError(`${kind} of ${owner}: quota exceeded`, { permanent: false, quota: true });
        }
        for (const record of records) store(true).records.set(MemoryStore.key(record.volume, record.lsn), record);
      }, store().lane, frameBytes(records)),
      list: (volume, from = 0) => this.io(node, latency(), () => listed(volume, from), store().lane, frameBytes(listed(volume, from))),
      deleteRange: (volume, from, to) => this.io(node, latency(), () => {
        for (const [key, record] of store().records) {
          if (record.volume === volume && record.lsn >= from && record.lsn <= to) store().records.delete(key);
        }
      }, store().lane),
    };
  }

  #directoryFor(node: NodeId): StoreDirectory {
    return {
      nodes: () => this.io(node, this.latencies.store, () => [...this.stores.keys()]),
      journal: (owner) => this.#storeFor(node, owner, 'journal'),
      mirror: (owner) => this.#storeFor(node, owner, 'mirror'),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Medium

  volume(volume: number): SharedVolume {
    let shared = this.volumes.get(volume);
    if (!shared) {
      shared = { fs: new MemoryFs(), state: { epoch: 0, applied: 0, epochs: [] }, opIds: new Map(), waiting: [] };
      this.volumes.set(volume, shared);
    }
    return shared;
  }

  /** Runs `job` once the volume's mutex is ours; the job must call #unbusy when it ends. */
  #whenFree(volume: SharedVolume, node: NodeId, job: () => void): void {
    const start = () => {
      if (this.processes.get(node)?.state === 'down') return this.#unbusyNext(volume);
      volume.busy = node;
      job();
    };
    if (volume.busy === undefined) start();
    else volume.waiting.push(start);
  }

  #unbusy(volume: SharedVolume): void {
    volume.busy = undefined;
    this.#unbusyNext(volume);
  }

  #unbusyNext(volume: SharedVolume): void {
    const next = volume.waiting.shift();
    if (next) this.scheduler.at(0, next);
  }

  #mediumFault(node: NodeId): MediumError | undefined {
    const fault = this.processes.get(node)?.mediumFault ?? 'ok';
    if (fault === 'broken') return new MediumError(`medium I/O of ${node} is broken`, { permanent: true });
    if (fault === 'transient' && this.rng.chance(0.5)) return new MediumError(`medium I/O of ${node} failed`, { permanent: false });
    if (fault === 'full') return new MediumError(`medium of ${node} is full`, { permanent: false, quota: true });
    return undefined;
  }

  #mediumBytes(): number {
    let bytes = 0;
    for (const volume of this.volumes.values()) bytes += volume.fs.bytes();
    return bytes;
  }

  #mediumLatency(node: NodeId): number {
    return this.latencies.medium * (this.processes.get(node)?.mediumSlowdown ?? 1);
  }

  #mediumFor(node: NodeId): Medium {
    const latency = () => this.#mediumLatency(node);
    const settle = <T>(shared: SharedVolume, result: { ok: true; value: T } | { ok: false; error: unknown }, resolve: (v: T) => void, reject: (e: unknown) => void) => {
      this.#unbusy(shared);
      this.deliver(node, () => (result.ok ? resolve(result.value) : reject(result.error)));
    };
    return {
      state: (volume) => this.io(node, latency(), () => structuredClone(this.volume(volume).state)),
      claim: (volume, epoch, base) => new Promise((resolve, reject) => {
        const shared = this.volume(volume);
        this.scheduler.at(this.#jitter(latency()), () => this.#whenFree(shared, node, () => {
          const current = shared.state.epoch;
          if (epoch <= current) return settle(shared, { ok: false, error: new FencedError(volume, epoch, current) }, resolve, reject);
          shared.state = { ...shared.state, epoch, epochs: [...shared.state.epochs, { epoch, base }] };
          this.observer?.claimed(volume, epoch, base);
          settle(shared, { ok: true, value: { ...structuredClone(shared.state), recent: recentOps(shared.opIds, shared.state.applied) } }, resolve, reject);
        }));
      }),
      apply: (volume, epoch, ops) => new Promise<void>((resolve, reject) => {
        const shared = this.volume(volume);
        // A write sent before its epoch was superseded, and refused when it arrives, is fencing at
        // work (a hung owner's flush that was out); one sent after is a fenced node still writing.
        const staleWhenSent = epoch !== shared.state.epoch;
        this.scheduler.at(this.#jitter(latency()), () => this.#whenFree(shared, node, () => {
          if (epoch !== shared.state.epoch) {
            if (staleWhenSent) this.observer?.fencedWrite(volume, epoch, shared.state.epoch, node);
            return settle(shared, { ok: false, error: new FencedError(volume, epoch, shared.state.epoch) }, resolve, reject);
          }
          const fresh = ops.filter((item) => item.lsn > shared.state.applied);
          if (fresh.length > 0) this.observer?.applyStarted(volume, epoch, fresh[0]!.lsn, shared.state, node);
          this.#applyStep(node, shared, volume, fresh, 0, (result) => settle(shared, result, resolve, reject));
        }));
      }),
      // Reads take no mutex, as in OPFS: they may see part of a batch in progress.
      stat: (volume, path) => this.io(node, latency(), () => this.#read(node, () => this.volume(volume).fs.stat(path))),
      list: (volume, path) => this.io(node, latency(), () => this.#read(node, () => this.volume(volume).fs.list(path))),
      read: (volume, path, offset, length) => this.io(node, latency(), () => this.#read(node, () => this.volume(volume).fs.read(path, offset, length))),
    };
  }

  /** A read of the medium: it fails as the node's medium I/O does, but a full medium still reads. */
  #read<T>(node: NodeId, read: () => T): T {
    const fault = this.#mediumFault(node);
    if (fault && fault.code !== 'ENOSPC') throw fault;
    return read();
  }

  /** One op of an apply job per event, so a crash can cut a batch short. */
  #applyStep(node: NodeId, shared: SharedVolume, volume: number, ops: readonly LsnOp[], at: number, done: (result: { ok: true; value: undefined } | { ok: false; error: unknown }) => void): void {
    if (this.processes.get(node)?.state === 'down') {
      this.observer?.applyEnded(volume);
      return this.#unbusy(shared);
    }
    if (at === ops.length) {
      if (ops.length > 0) shared.state = { ...shared.state, applied: Math.max(shared.state.applied, ops.at(-1)!.lsn) };
      this.observer?.applyEnded(volume);
      return done({ ok: true, value: undefined });
    }
    const fault = this.#mediumFault(node) ?? (this.#mediumBytes() > this.mediumQuota
      ? new MediumError('medium quota exceeded', { permanent: false, quota: true }) : undefined);
    if (fault) {
      this.observer?.applyEnded(volume);
      return done({ ok: false, error: fault });
    }
    const item = ops[at]!;
    this.observer?.applied(volume, item.lsn, item.op, item.opId);
    shared.opIds.set(item.lsn, item.opId);
    try {
      shared.fs.apply(item.op);
    } catch (error) {
      // Only an op no client sent (a damaged record) can make the file tree throw.
      this.observer?.impossible(`volume ${volume} LSN ${item.lsn}: the medium could not apply it: ${String(error)}`);
    }
    this.scheduler.at(this.#jitter(this.#mediumLatency(node)), () => this.#applyStep(node, shared, volume, ops, at + 1, done));
  }

  // ------------------------------------------------------------------------------------------
  // Ports for one node

  ports(node: NodeId, random: Rng): Ports {
    const process = this.processes.get(node)!;
    const link: Link = {
      self: node,
      send: (to, message, urgent = false) => this.#send(node, to, message, urgent),
      peers: () => [...this.processes.keys()].filter((p) => p !== node && this.#connected(node, p)).sort(),
      onMessage: (handler) => void process.messageHandlers.push(handler),
      onPeer: (handler) => void process.peerHandlers.push(handler),
    };
    const clock: Clock = {
      now: () => this.scheduler.now,
      after: (ms, callback) => this.deliver(node, callback, ms),
    };
    return {
      self: node,
      journal: this.#storeFor(node, node, 'journal'),
      mirror: this.#storeFor(node, node, 'mirror'),
      stores: this.#directoryFor(node),
      medium: this.#mediumFor(node),
      locks: this.#locksFor(node),
      link,
      clock,
      random: { next: () => random.next() },
    };
  }
}

interface Channel {
  /** Bumped when the channel closes: messages of an older generation are lost. */
  generation: number;
  lastDelivery: number;
  lastUrgent: number;
  /** The sender's queue of data messages. */
  readonly lane: Lane;
}

function frameBytes(records: readonly StoredRecord[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.frame.length;
  return bytes;
}

/** About what a message weighs on the wire: its frames or its data, plus a small envelope. */
function messageBytes(message: unknown): number {
  let bytes = 64;
  if (typeof message !== 'object' || message === null) return bytes;
  const { frames, op } = message as { frames?: unknown; op?: { data?: unknown } };
  if (Array.isArray(frames)) for (const frame of frames) if (frame instanceof Uint8Array) bytes += frame.length;
  if (op?.data instanceof Uint8Array) bytes += op.data.length;
  return bytes;
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function isMirrorMessage(message: unknown): message is { t: 'mirror'; frames: Uint8Array[] } {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === 'mirror';
}

/** A copy of the message with one bit of one frame flipped, as a damaged packet would be. */
function corruptMirrorMessage(message: { t: 'mirror'; frames: Uint8Array[] }, rng: Rng): unknown {
  const frames = message.frames.map((frame) => frame.slice());
  const frame = rng.pick(frames);
  frame[rng.int(frame.length)]! ^= 1 << rng.int(8);
  return { ...message, frames };
}
