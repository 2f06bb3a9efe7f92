// A node: one tab or worker running tandemfs. It owns some volumes (OwnedVolume), mirrors
// others' journals (MirrorKeeper), watches its owners and partners, takes volumes over when their
// owner dies, hangs or gives up, and routes clients' ops to owners.
import { MediumError, NodeError, reviveError, TandemError, type NodeErrorCode } from '../errors.js';
import { OPS_PER_CHANGE, type ChangeResult, type FsChange, type FsQuery, type QueryResult } from './fs-request.js';
import { decodeRecord } from '../record/codec.js';
import type { Op } from '../record/types.js';
import { isMessage, type Message, type Ownership, type Partners, type WireError } from './messages.js';
import { MirrorKeeper } from './mirror-keeper.js';
import { withDefaults, type NodeOptions } from './options.js';
import { OwnedVolume, type Ending, type OwnerHost } from './owned-volume.js';
import type { HeldLock, LockWait, NodeId, Ports, Timer } from './ports.js';
import { adopt, isHistory, type Adopted } from './takeover.js';

export type NodeEvent =
  | { type: 'takeover-started'; volume: number; from?: NodeId; how: 'steal' | 'free' }
  /**
   * After each batch a takeover replays: `replayed` of `total` ops are in the medium. `total`
   * counts the ops known so far: this node's own first, then (it may grow) the other nodes'.
   */
  | { type: 'replay-progress'; volume: number; replayed: number; total: number }
  | { type: 'takeover-finished'; volume: number; epoch: number; replayed: number }
  /** Every sweep, for each owned volume with records waiting for the medium (and once more when none are left). */
  | { type: 'flush-lag'; volume: number; records: number; bytes: number }
  | { type: 'released'; volume: number; why: Ending }
  | { type: 'degraded'; volume: number; degraded: boolean }
  | { type: 'partner'; volume: number; partner: NodeId }
  | { type: 'volume-stopped'; volume: number; error: NodeError };

export interface VolumeStatus {
  volume: number;
  epoch: number;
  partner?: NodeId;
  degraded: boolean;
  unflushed: number;
  applied: number;
}

export interface NodeStatus {
  node: NodeId;
  owns: VolumeStatus[];
  mirrors: Array<{ volume: number; owner: NodeId }>;
  peers: NodeId[];
}

interface Peer {
  lastHeard: number;
  owns: Ownership;
  /** It would take a volume over (not leaving, its I/O not broken lately). */
  adopts: boolean;
}

/** A request forwarded to an owner, waiting for its result. */
interface Request {
  peer: NodeId;
  volume: number;
  settle(result: Reply | Error): void;
}

type Reply = Extract<Message, { t: 'result' }>;

function unexpected(reply: Reply): never {
  throw new NodeError('EIO', `the owner answered with ${JSON.stringify(Object.keys(reply))}`);
}

/** An error as a link carries it; reviveError makes it whole again. */
function wireError(error: unknown): WireError {
  if (error instanceof TandemError) return { code: error.code, message: error.message, data: { ...error.data } };
  return { code: 'EINVAL', message: error instanceof Error ? error.message : String(error) };
}

const RETRYABLE = new Set<NodeErrorCode>(['ENOTOWNER', 'EFENCED']);
const liveLock = (node: NodeId) => `tandemfs:live:${node}`;
const volumeLock = (volume: number) => `tandemfs:volume:${volume}`;

export class Node {
  readonly id: NodeId;
  readonly options: NodeOptions;
  readonly #ports: Ports;
  #owned = new Map<number, OwnedVolume>();
  #adopting = new Map<number, Promise<void>>();
  #stopped = new Map<number, NodeError>();
  #keeper: MirrorKeeper;
  #peers = new Map<NodeId, Peer>();
  #watches = new Map<NodeId, LockWait>();
  #suspected = new Set<NodeId>();
  #requests = new Map<number, Request>();
  #nextRequest = 1;
  #brokenUntil = Number.NEGATIVE_INFINITY;
  #liveLock?: HeldLock;
  /** Set by leave(): adopt nothing more. */
  #leaving = false;
  /** Set once leave() handed everything over: the timers run out. (Until then heartbeats go on, or a draining owner would look hung.) */
  #left = false;
  #rebalancing = false;
  #sweeping = false;
  /** The volume state ("epoch:applied") each gone node's store of each volume was last tidied at. */
  #tidied = new Map<string, string>();
  /** No rebalancing before this. */
  #rebalanceAfter = 0;
  /** When this node last handed each volume over, to notice one that came back. */
  #handedOver = new Map<number, number>();
  #listeners = new Set<(event: NodeEvent) => void>();
  /** Owned volumes whose last flush-lag report had records waiting. */
  #lagging = new Set<number>();
  #host: OwnerHost;

  constructor(ports: Ports, options: Partial<NodeOptions> & Pick<NodeOptions, 'volumes'>) {
    this.id = ports.self;
    this.#ports = ports;
    this.options = withDefaults(options);
    this.#keeper = new MirrorKeeper({
      ports,
      send: (to, message) => this.#send(to, message),
      verify: decodeRecord,
      mirroringFor: (owner) => this.#watch(owner),
    });
    this.#host = {
      ports,
      options: this.options,
      send: (to, message) => this.#send(to, message),
      released: (volume, why) => this.#released(volume, why),
      partnerUnreachable: (node) => this.#partnerLost(node),
      emit: (event) => this.#emit(event),
    };
  }

  /** Joins the cluster: holds its liveness lock, listens, and adopts volumes nobody owns. */
  async start(): Promise<void> {
    this.#liveLock = await this.#holdLiveLock();
    this.#ports.link.onMessage((from, message) => this.#onMessage(from, message));
    this.#ports.link.onPeer((peer, up) => this.#onPeer(peer, up));
    for (const peer of this.#ports.link.peers()) this.#onPeer(peer, true);
    this.#every(this.options.heartbeatMs, () => this.#heartbeat());
    this.#every(this.options.sweepMs, () => void this.#sweep());
    await this.#sweep();
  }

  /**
   * This node's liveness lock, held for its whole life. A peer its link met before this node
   * started may hold the lock for a moment: watching it (#watch), the peer was granted it at once,
   * took this node for dead, and lets it go. So a lock that is taken is waited for, a while; one
   * still held after that belongs to another node with this id.
   */
  async #holdLiveLock(): Promise<HeldLock> {
    const name = liveLock(this.id);
    const lock = await this.#ports.locks.tryAcquire(name);
    if (lock) return lock;
    const wait = this.#ports.locks.wait(name);
    wait.granted.catch(() => {}); // a cancelled wait may reject
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => (timer = this.#ports.clock.after(this.options.hangTimeoutMs, () => resolve(undefined))));
    const granted = await Promise.race([wait.granted.catch(() => undefined), late]);
    timer?.cancel();
    if (granted) return granted;
    wait.cancel();
    throw new NodeError('EINVAL', `node id ${this.id} is already running`, { node: this.id });
  }

  /** Leaves the cluster in a planned way: hands every volume over, drained, then stops. */
  async leave(): Promise<void> {
    this.#leaving = true;
    for (const owned of [...this.#owned.values()]) await this.#handOver(owned, this.#choosePartner());
    this.#left = true;
    for (const watch of this.#watches.values()) watch.cancel();
    this.#liveLock?.release();
  }

  onEvent(listener: (event: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: NodeEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  status(): NodeStatus {
    return {
      node: this.id,
      owns: [...this.#owned.values()].map((v) => ({
        volume: v.volume, epoch: v.epoch, partner: v.partner, degraded: v.degraded, unflushed: v.unflushed, applied: v.applied,
      })),
      mirrors: [...this.#keeper.owners()].flatMap(([owner, volumes]) => volumes.map((volume) => ({ volume, owner }))),
      peers: [...this.#peers.keys()],
    };
  }

  /** Some acked op has only its journal copy (no partner in sync holds it). */
  get hasUnmirroredAcks(): boolean {
    return [...this.#owned.values()].some((v) => v.hasUnmirroredAcks);
  }

  /** Takes over: replay first, then serve. */
  async #takeOwnership(volume: number, lock: HeldLock): Promise<OwnedVolume> {
    const progress = (replayed: number, total: number) => this.#emit({ type: 'replay-progress', volume, replayed, total });
    const adopted = await adopt(this.#ports, this.options, volume, lock, decodeRecord, progress);
    return this.#serve(volume, adopted, lock);
  }

  #serve(volume: number, adopted: Adopted, lock: HeldLock): OwnedVolume {
    if (lock.lost) throw new NodeError('EFENCED', `volume ${volume}: lost the lock before serving`, { volume });
    const now = this.#ports.clock.now();
    if (now - (this.#handedOver.get(volume) ?? Number.NEGATIVE_INFINITY) < 5 * this.options.sweepMs) {
      // We handed it over and got it back: the target could not take it. Do not try again soon.
      this.#rebalanceAfter = now + 10 * this.options.sweepMs;
    }
    const owned = new OwnedVolume(this.#host, volume, adopted.epoch, adopted.base, lock, adopted.known);
    this.#owned.set(volume, owned);
    // Ops this node forwarded to the old owner are ours to serve now.
    for (const request of [...this.#requests.values()]) {
      if (request.volume === volume) request.settle(new NodeError('ENOTOWNER', `volume ${volume} moved to this node`));
    }
    this.#keeper.forget(volume, adopted.epoch);
    const partner = this.#choosePartner();
    if (partner) this.#pair(owned, partner);
    else this.#emit({ type: 'degraded', volume, degraded: true });
    this.#emit({ type: 'takeover-finished', volume, epoch: adopted.epoch, replayed: adopted.replayed });
    this.#heartbeat();
    return owned;
  }

  // ------------------------------------------------------------------------------------------
  // Clients

  /** Applies a raw op to `volume` through its owner; resolves to the op's LSN once it is acked. */
  async submit(volume: number, op: Op): Promise<number> {
    return (await this.change(volume, { kind: 'op', op })).lsn;
  }

  /**
   * Carries out a change on `volume` through its owner, which checks it with Node's semantics
   * (an FsError when refused); resolves once its ops are acked. A retry after the owner moved
   * keeps the change's op id, so the change is applied once.
   */
  change(volume: number, change: FsChange, opId = this.newChangeId()): Promise<ChangeResult> {
    return this.#retrying(volume, 'acked the change', async (deadline) => {
      const adopting = this.#adopting.get(volume);
      if (adopting) await adopting;
      const owned = this.#owned.get(volume);
      if (owned?.serving) return owned.change(change, opId);
      const reply = await this.#forward(this.#ownerFor(volume), volume, deadline, (id) => ({ t: 'change', id, volume, opId, change }));
      return 'change' in reply ? reply.change : unexpected(reply);
    });
  }

  /** A fresh op id for a change: a multiple of OPS_PER_CHANGE, so that its ops' ids follow it. */
  newChangeId(): number {
    return Math.floor(this.#ports.random.next() * 2 ** 43) * OPS_PER_CHANGE;
  }

  /** Reads from `volume` at its owner: what every change acked before it made (read-your-writes). */
  query(volume: number, query: FsQuery): Promise<QueryResult> {
    return this.#retrying(volume, 'answered the query', async (deadline) => {
      const adopting = this.#adopting.get(volume);
      if (adopting) await adopting;
      const owned = this.#owned.get(volume);
      if (owned?.serving) return owned.query(query);
      const reply = await this.#forward(this.#ownerFor(volume), volume, deadline, (id) => ({ t: 'query', id, volume, query }));
      return 'query' in reply ? reply.query : unexpected(reply);
    });
  }

  /**
   * Runs `attempt` until it succeeds or fails for good, retrying at the next owner while the op
   * timeout has not passed.
   */
  async #retrying<T>(volume: number, what: string, attempt: (deadline: number) => Promise<T>): Promise<T> {
    if (!this.options.volumes.includes(volume)) {
      throw new NodeError('EINVAL', `volume ${volume} is not one of this cluster's volumes`, { volume });
    }
    const deadline = this.#ports.clock.now() + this.options.opTimeoutMs;
    for (let tries = 0; ; tries++) {
      const stopped = this.#stopped.get(volume);
      if (stopped) throw stopped;
      try {
        return await attempt(deadline);
      } catch (error) {
        if (!(error instanceof NodeError) || !RETRYABLE.has(error.code)) throw error;
      }
      if (this.#ports.clock.now() >= deadline) {
        throw new NodeError('ETIMEDOUT', `volume ${volume}: no owner ${what} within ${this.options.opTimeoutMs} ms`, { volume });
      }
      await this.#sleep(Math.min(25 * 2 ** tries, this.options.heartbeatMs * 2));
    }
  }

  #ownerFor(volume: number): NodeId {
    const owner = this.#ownerOf(volume);
    if (!owner) throw new NodeError('ENOTOWNER', `volume ${volume} has no known owner yet`, { volume });
    return owner;
  }

  #ownerOf(volume: number): NodeId | undefined {
    const now = this.#ports.clock.now();
    let best: { node: NodeId; epoch: number } | undefined;
    for (const [node, peer] of this.#peers) {
      if (now - peer.lastHeard > this.options.hangTimeoutMs) continue;
      for (const [v, epoch] of peer.owns) if (v === volume && (!best || epoch > best.epoch)) best = { node, epoch };
    }
    return best?.node;
  }

  /**
   * Sends a request to the owner; resolves to its reply, rejects with its (revived) error. The
   * request is given up (to be retried elsewhere, or to time out) when the owner goes, falls
   * silent, or the op timeout passes — not sooner while the owner is alive and working on it.
   */
  #forward(owner: NodeId, volume: number, deadline: number, request: (id: number) => Message): Promise<Reply> {
    const id = this.#nextRequest++;
    return new Promise<Reply>((resolve, reject) => {
      const { hangTimeoutMs } = this.options;
      let timer: Timer;
      const watch = () => {
        const wait = Math.max(1, Math.min(deadline - this.#ports.clock.now(), hangTimeoutMs * 2));
        timer = this.#ports.clock.after(wait, () => {
          const now = this.#ports.clock.now();
          const heard = this.#peers.get(owner)?.lastHeard ?? Number.NEGATIVE_INFINITY;
          if (now < deadline && now - heard <= hangTimeoutMs) watch();
          else settle(new NodeError('ENOTOWNER', `owner ${owner} did not answer`, { volume }));
        });
      };
      const settle = (result: Reply | Error) => {
        if (!this.#requests.delete(id)) return;
        timer.cancel();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      watch();
      this.#requests.set(id, { peer: owner, volume, settle });
      if (!this.#send(owner, request(id))) settle(new NodeError('ENOTOWNER', `owner ${owner} is not connected`, { volume }));
    });
  }

  async #serveForPeer(from: NodeId, message: Extract<Message, { t: 'change' | 'query' }>): Promise<void> {
    let reply: Message;
    try {
      const adopting = this.#adopting.get(message.volume);
      if (adopting) await adopting;
      const owned = this.#owned.get(message.volume);
      if (!owned?.serving) throw new NodeError('ENOTOWNER', `volume ${message.volume} is not owned by ${this.id}`, { volume: message.volume });
      reply = message.t === 'change'
        ? { t: 'result', id: message.id, change: await owned.change(message.change, message.opId) }
        : { t: 'result', id: message.id, query: await owned.query(message.query) };
    } catch (error) {
      reply = { t: 'result', id: message.id, error: wireError(error) };
    }
    this.#send(from, reply);
  }

  // ------------------------------------------------------------------------------------------
  // Messages and peers

  /** `urgent` for liveness: heartbeats must not queue behind data (see Link.send). */
  #send(to: NodeId, message: Message, urgent = false): boolean {
    return this.#ports.link.send(to, message, urgent);
  }

  #onMessage(from: NodeId, message: unknown): void {
    if (!isMessage(message)) return;
    this.#heard(from);
    switch (message.t) {
      case 'heartbeat': {
        const peer = this.#peers.get(from)!;
        peer.owns = message.owns;
        peer.adopts = message.adopts;
        this.#keeper.onOwnerHeartbeat(from, message.partners);
        for (const [volume, epoch] of message.owns) this.#keeper.onOwnerClaim(from, volume, epoch);
        return;
      }
      case 'pair':
        return this.#keeper.onPair(from, message);
      case 'mirror':
        return this.#keeper.onMirror(from, message);
      case 'trim':
        return this.#keeper.onTrim(from, message);
      case 'unpair':
        return this.#keeper.onUnpair(from, message);
      case 'mirrored':
        return this.#owned.get(message.volume)?.onMirrored(from, message.session, message.upTo);
      case 'mirrorFailed':
        return this.#owned.get(message.volume)?.onMirrorFailed(from, message.session);
      case 'giveUp':
      case 'handover':
        void this.#adoptVolume(message.volume, 'free', from);
        return;
      case 'change':
      case 'query':
        void this.#serveForPeer(from, message);
        return;
      case 'result': {
        const request = this.#requests.get(message.id);
        if (!request || request.peer !== from) return;
        request.settle('error' in message ? reviveError(message.error) : message);
        return;
      }
    }
  }

  #heard(from: NodeId): void {
    const peer = this.#peers.get(from);
    if (peer) peer.lastHeard = this.#ports.clock.now();
    else this.#peers.set(from, { lastHeard: this.#ports.clock.now(), owns: [], adopts: false });
    this.#suspected.delete(from);
  }

  #onPeer(peer: NodeId, up: boolean): void {
    if (up) {
      this.#heard(peer);
      this.#send(peer, this.#heartbeatMessage(), true);
      for (const owned of this.#owned.values()) if (!owned.partner) this.#pair(owned, peer);
      return;
    }
    this.#peers.delete(peer);
    this.#abandonRequests(peer, `lost the link to ${peer}`);
    this.#partnerLost(peer);
  }

  /** Ops forwarded to `peer` will get no answer: retry them now (at the next owner). */
  #abandonRequests(peer: NodeId, why: string, volume?: number): void {
    for (const request of [...this.#requests.values()]) {
      if (request.peer === peer && (volume === undefined || request.volume === volume)) request.settle(new NodeError('ENOTOWNER', why));
    }
  }

  #ownership(): Ownership {
    return [...this.#owned.values()].filter((v) => v.serving).map((v) => [v.volume, v.epoch]);
  }

  #adopts(): boolean {
    return !this.#leaving && this.#ports.clock.now() >= this.#brokenUntil;
  }

  #heartbeatMessage(): Message {
    const partners: Partners = [...this.#owned.values()].filter((v) => v.serving).map((v) => [v.volume, v.partner ?? null, v.session]);
    return { t: 'heartbeat', owns: this.#ownership(), partners, adopts: this.#adopts() };
  }

  #heartbeat(): void {
    const message = this.#heartbeatMessage();
    for (const peer of this.#ports.link.peers()) this.#send(peer, message, true);
    // A volume without a partner pairs with any node that is back (or newly heard from).
    for (const owned of this.#owned.values()) {
      const partner = owned.serving && !owned.partner ? this.#choosePartner() : undefined;
      if (partner) this.#pair(owned, partner);
    }
    const now = this.#ports.clock.now();
    for (const [node, peer] of this.#peers) {
      if (now - peer.lastHeard <= this.options.hangTimeoutMs || this.#suspected.has(node)) continue;
      this.#suspected.add(node);
      this.#partnerLost(node);
      if (this.#keeper.owners().has(node)) void this.#ownerSilent(node);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Partners

  #choosePartner(exclude?: NodeId): NodeId | undefined {
    const now = this.#ports.clock.now();
    const live = this.#ports.link.peers()
      .filter((p) => p !== exclude && now - (this.#peers.get(p)?.lastHeard ?? -Infinity) <= this.options.hangTimeoutMs)
      .sort();
    // The ring successor of this node, so that partners spread over the nodes.
    return live.find((p) => p > this.id) ?? live[0];
  }

  #pair(owned: OwnedVolume, partner: NodeId): void {
    owned.pair(partner);
    this.#watch(partner);
    this.#emit({ type: 'partner', volume: owned.volume, partner });
  }

  #partnerLost(node: NodeId): void {
    for (const owned of this.#owned.values()) {
      if (owned.partner !== node) continue;
      owned.partnerLost(node);
      const next = this.#choosePartner(node);
      if (next) this.#pair(owned, next);
    }
  }

  /** Waits on a node's liveness lock: it is granted when the node's context is gone. */
  #watch(node: NodeId): void {
    if (this.#watches.has(node)) return;
    const wait = this.#ports.locks.wait(liveLock(node));
    this.#watches.set(node, wait);
    void wait.granted.then((lock) => {
      lock.release();
      this.#watches.delete(node);
      this.#died(node);
    }, () => this.#watches.delete(node));
  }

  #died(node: NodeId): void {
    this.#abandonRequests(node, `${node} is gone`);
    this.#partnerLost(node);
    for (const volume of this.#keeper.owners().get(node) ?? []) void this.#adoptVolume(volume, 'free', node);
  }

  /** An owner we mirror for went silent: dead (its lock is free) or hung or cut off (steal). */
  async #ownerSilent(node: NodeId): Promise<void> {
    const lock = await this.#ports.locks.tryAcquire(liveLock(node));
    if (lock) {
      lock.release();
      return this.#died(node);
    }
    if (!this.#suspected.has(node)) return; // it spoke again meanwhile
    for (const volume of this.#keeper.owners().get(node) ?? []) void this.#adoptVolume(volume, 'steal', node);
  }

  // ------------------------------------------------------------------------------------------
  // Owning volumes

  #adoptVolume(volume: number, how: 'steal' | 'free', from?: NodeId): Promise<void> {
    if (this.#leaving || this.#owned.has(volume) || this.#stopped.has(volume) || this.#ports.clock.now() < this.#brokenUntil) {
      return Promise.resolve();
    }
    const running = this.#adopting.get(volume);
    // A steal must not be lost in a sweep's attempt to adopt the volume free (which fails while
    // the silent owner holds its lock): it runs once that attempt is over, unless it succeeded.
    if (running) return how === 'steal' ? running.then(() => this.#adoptVolume(volume, how, from)) : running;
    const work = this.#adoptNow(volume, how, from).finally(() => this.#adopting.delete(volume));
    this.#adopting.set(volume, work);
    return work;
  }

  async #adoptNow(volume: number, how: 'steal' | 'free', from?: NodeId): Promise<void> {
    const name = volumeLock(volume);
    const lock = how === 'steal' ? await this.#ports.locks.steal(name) : await this.#ports.locks.tryAcquire(name);
    if (!lock) return;
    this.#emit({ type: 'takeover-started', volume, from, how });
    try {
      await this.#takeOwnership(volume, lock);
    } catch (error) {
      lock.release();
      if (error instanceof NodeError && error.code === 'EVOLUMESTOPPED') {
        this.#stopped.set(volume, error);
        this.#emit({ type: 'volume-stopped', volume, error });
      } else if (error instanceof MediumError && error.code !== 'ENOSPC') {
        this.#brokenUntil = this.#ports.clock.now() + this.options.brokenCooldownMs;
      }
    }
  }

  #released(volume: number, why: Ending): void {
    this.#owned.delete(volume);
    if (why === 'gave-up') this.#brokenUntil = this.#ports.clock.now() + this.options.brokenCooldownMs;
    this.#emit({ type: 'released', volume, why });
  }

  /**
   * Adopts volumes that no live node owns, spreads volumes over the nodes, tidies the stores.
   * A sweep that takes longer than sweepMs (slow stores) is not overlapped by the next one.
   */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      for (const volume of this.options.volumes) {
        if (!this.#owned.has(volume) && !this.#ownerOf(volume)) await this.#adoptVolume(volume, 'free');
      }
      this.#rebalance();
      this.#reportFlushLag();
      await this.#tidy();
    } finally {
      this.#sweeping = false;
    }
  }

  /** Tells listeners how far behind the medium each owned volume is (once more when it caught up). */
  #reportFlushLag(): void {
    for (const owned of this.#owned.values()) {
      const records = owned.unflushed;
      if (records === 0 && !this.#lagging.has(owned.volume)) continue;
      if (records === 0) this.#lagging.delete(owned.volume);
      else this.#lagging.add(owned.volume);
      this.#emit({ type: 'flush-lag', volume: owned.volume, records, bytes: owned.unflushedBytes });
    }
  }

  /** Hands one volume to the live node that owns fewest, when that evens things out. */
  #rebalance(): void {
    const now = this.#ports.clock.now();
    if (this.#leaving || this.#rebalancing || this.#adopting.size > 0 || now < this.#rebalanceAfter) return;
    const linked = new Set(this.#ports.link.peers());
    let target: NodeId | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    for (const [node, peer] of this.#peers) {
      if (!linked.has(node) || !peer.adopts || now - peer.lastHeard > this.options.hangTimeoutMs || peer.owns.length >= fewest) continue;
      target = node;
      fewest = peer.owns.length;
    }
    const movable = [...this.#owned.values()].filter((v) => v.serving && !v.degraded);
    if (!target || this.#owned.size - fewest < 2 || movable.length === 0) return;
    this.#rebalancing = true;
    this.#rebalanceAfter = now + 2 * this.options.sweepMs;
    const owned = movable.at(-1)!;
    this.#handedOver.set(owned.volume, now);
    void this.#handOver(owned, target).finally(() => (this.#rebalancing = false));
  }

  async #handOver(owned: OwnedVolume, target: NodeId | undefined): Promise<void> {
    if (await owned.handOver()) {
      if (target) this.#send(target, { t: 'handover', volume: owned.volume, epoch: owned.epoch });
    }
  }

  /**
   * Deletes records no replay can need: those the medium already holds, and stale tails of
   * fenced owners. Covers this node's stores and those of nodes that are gone.
   *
   * Housekeeping must not grow with the backlog. The stores a volume's write path is using (our
   * journal of a volume we own, our mirror of one we mirror) are never read here: that path keeps
   * their tails, and a range delete below the applied position, which reads nothing, is all they
   * get. A gone node's store is read only when its volume's state has moved since it was last
   * tidied, as nothing else can make its records needless.
   */
  async #tidy(): Promise<void> {
    try {
      const nodes = await this.#ports.stores.nodes();
      for (const node of nodes) {
        if (node !== this.id) {
          const lock = await this.#ports.locks.tryAcquire(liveLock(node));
          if (!lock) continue; // alive: it tidies its own
          lock.release();
        }
        for (const volume of this.options.volumes) {
          const ours = node === this.id;
          await this.#tidyStore(node, 'journal', volume, ours && this.#owned.has(volume));
          await this.#tidyStore(node, 'mirror', volume, ours && this.#keeper.ownerOf(volume) !== undefined);
        }
      }
    } catch {
      // tidying is best effort; the next sweep tries again
    }
  }

  async #tidyStore(node: NodeId, kind: 'journal' | 'mirror', volume: number, inUse: boolean): Promise<void> {
    const store = kind === 'journal' ? this.#ports.stores.journal(node) : this.#ports.stores.mirror(node);
    const state = await this.#ports.medium.state(volume);
    const key = `${node}\n${kind}\n${volume}`;
    const seen = `${state.epoch}:${state.applied}`;
    // Our own stores may have taken late writes (a put that was out when a volume ended).
    if (node !== this.id && this.#tidied.get(key) === seen) return;
    if (state.applied > 0) await store.deleteRange(volume, 1, state.applied);
    if (!inUse) {
      for (const record of await store.list(volume, state.applied + 1)) {
        if (!isHistory(state, record)) await store.deleteRange(volume, record.lsn, record.lsn);
      }
    }
    if (node !== this.id) this.#tidied.set(key, seen);
  }

  // ------------------------------------------------------------------------------------------
  // Time

  #every(ms: number, tick: () => void): void {
    const loop = () => {
      if (this.#left) return;
      tick();
      this.#ports.clock.after(ms, loop);
    };
    this.#ports.clock.after(ms, loop);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#ports.clock.after(ms, resolve));
  }
}
