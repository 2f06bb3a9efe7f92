// A simulated cluster: the world, its clock, the invariant checker and the nodes running the
// real core. The random scenario drives one; the claim tests script one step by step.
import { Node, type NodeEvent } from '../core/node.js';
import type { NodeOptions } from '../core/options.js';
import type { NodeId, Ports } from '../core/ports.js';
import { FsError, NodeError } from '../errors.js';
import type { Op } from '../record/types.js';
import type { Message } from '../core/messages.js';
import type { ChangeResult, FsChange, FsQuery, QueryResult } from '../core/fs-request.js';
import { Checker, opKey } from './checker.js';
import { Rng } from './rng.js';
import { Scheduler } from './scheduler.js';
import { DEFAULT_LATENCIES, World, type Latencies } from './world.js';

export type NodeSettings = Partial<NodeOptions> & Pick<NodeOptions, 'volumes'>;
export type MakeNode = (ports: Ports, options: NodeSettings) => Node;

export interface ClusterOptions {
  seed: number;
  volumes?: number[];
  makeNode?: MakeNode;
  /** Options for every node (volumes come from `volumes`). */
  node?: Partial<NodeOptions>;
  latencies?: Latencies;
  traceLines?: number;
}

export interface Submitted {
  readonly volume: number;
  readonly op: Op;
  /** Resolves to the LSN once acked; rejects with the node's error. Never settles if its node crashed. */
  readonly done: Promise<number>;
  /** The LSN, once acked. */
  lsn?: number;
  error?: unknown;
}

export class SimCluster {
  readonly rng: Rng;
  readonly scheduler: Scheduler;
  readonly world: World;
  readonly checker: Checker;
  readonly nodes = new Map<NodeId, Node>();
  readonly volumes: number[];
  readonly trace: string[] = [];
  readonly stats = { submitted: 0, acked: 0, failed: 0 };
  #options: ClusterOptions;
  /** Options given to nodes started from now on. */
  readonly nodeOptions: Partial<NodeOptions>;
  #nextNode = 1;
  /** Client ops not settled yet, by the node they were submitted at. */
  #outstanding = new Map<NodeId, number>();
  /** Ops forwarded to an owner, by "client node:request id", to check the ack when it is sent. */
  #forwarded = new Map<string, { volume: number; op: Op }>();
  /** Keys of ops forwarded at least once: their acks are checked as the owner sends them. */
  #forwardedKeys = new Set<string>();
  /** Changes sent to an owner ("client:id"), their volume and op id; and the op ids of changes that carry a raw op (checked as ops). */
  #forwardedChanges = new Map<string, { volume: number; opId: number }>();
  #forwardedChangeIds = new Set<number>();
  #rawChanges = new Set<number>();

  constructor(options: ClusterOptions) {
    this.#options = options;
    this.nodeOptions = { ...options.node };
    this.rng = new Rng(options.seed);
    this.scheduler = new Scheduler(this.rng.fork());
    this.world = new World(this.scheduler, this.rng.fork(), options.latencies ?? DEFAULT_LATENCIES);
    this.volumes = options.volumes ?? [1, 2];
    this.checker = new Checker(this.world, (line) => this.note(line));
    this.world.observer = this.checker;
    this.world.onSend = (from, to, message) => this.#watchWire(from, to, message as Message);
    this.scheduler.onError = (error) => this.checker.threw(error);
    const { hangTimeoutMs = 1500, heartbeatMs = 200 } = this.nodeOptions;
    this.world.livenessWindowMs = 2 * (hangTimeoutMs + heartbeatMs);
  }

  /** Ops and their acks on the wire: a forwarded op's ack is checked when its owner sends it. */
  #watchWire(from: NodeId, to: NodeId, message: Message): void {
    if (message.t === 'change') {
      this.#forwardedChanges.set(`${from}:${message.id}`, { volume: message.volume, opId: message.opId });
      this.#forwardedChangeIds.add(message.opId);
      if (message.change.kind === 'op') this.#rawChanges.add(message.opId);
    }
    if (message.t === 'result' && 'change' in message && message.change.lsn > 0) {
      const forwarded = this.#forwardedChanges.get(`${to}:${message.id}`);
      if (forwarded && !this.#rawChanges.has(forwarded.opId)) this.#checkAck(from, forwarded.volume, message.change.lsn, undefined);
    }
    if (message.t === 'change' && message.change.kind === 'op') {
      this.#forwarded.set(`${from}:${message.id}`, { volume: message.volume, op: message.change.op });
      this.#forwardedKeys.add(opKey(message.change.op));
    } else if (message.t === 'result' && 'change' in message) {
      const forwarded = this.#forwarded.get(`${to}:${message.id}`);
      if (forwarded && message.change.lsn > 0) this.#checkAck(from, forwarded.volume, message.change.lsn, forwarded.op);
    }
  }

  /** The moment `owner` acks an op (undefined: a change's last op): what the checker makes of an ack, with what the owner says. */
  #checkAck(owner: NodeId, volume: number, lsn: number, op: Op | undefined): void {
    const node = this.nodes.get(owner);
    const status = node?.status().owns.find((v) => v.volume === volume);
    if (!node || !status) return; // the volume ended here in this very step, after the ack
    const { requireMirror, journalCapBytes } = node.options;
    this.checker.ack(volume, lsn, op, { node: owner, epoch: status.epoch, degraded: status.degraded, partner: status.partner }, requireMirror, journalCapBytes);
  }

  /** Every up owner that says a volume is mirrored must have all its acked records mirrored. */
  audit(): void {
    for (const id of this.up()) {
      for (const v of this.node(id).status().owns) {
        if (!v.degraded) this.checker.audit(v.volume, { node: id, epoch: v.epoch, degraded: false, partner: v.partner });
      }
    }
  }

  note(line: string): void {
    this.trace.push(`${this.scheduler.now.toFixed(1).padStart(9)} ms  ${line}`);
    if (this.trace.length > (this.#options.traceLines ?? 120)) this.trace.shift();
  }

  get now(): number {
    return this.scheduler.now;
  }

  node(id: NodeId): Node {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Starts a new node (a fresh id: a restarted tab is a new node). */
  start(): NodeId {
    const id = `n${this.#nextNode++}`;
    this.world.spawn(id);
    const make = this.#options.makeNode ?? ((ports, options) => new Node(ports, options));
    const node = make(this.world.ports(id, this.rng.fork()), { ...this.nodeOptions, volumes: this.volumes });
    this.nodes.set(id, node);
    node.onEvent((event: NodeEvent) => {
      if (!UNTRACED.has(event.type)) this.note(`${id} ${describeEvent(event)}`);
    });
    this.note(`start ${id}`);
    node.start().catch((error) => this.note(`${id} failed to start: ${String(error)}`));
    return id;
  }

  up(): NodeId[] {
    return [...this.nodes.keys()].filter((id) => this.world.isUp(id));
  }

  /** Nodes that have not crashed (up or hung). */
  live(): NodeId[] {
    return [...this.nodes.keys()].filter((id) => this.world.processes.get(id)?.state !== 'down');
  }

  /** The up node that owns `volume`, if any. */
  ownerOf(volume: number): NodeId | undefined {
    return this.up().find((id) => this.node(id).status().owns.some((v) => v.volume === volume));
  }

  /** A client at node `at` applies `op` to `volume`. */
  submit(at: NodeId, volume: number, op: Op): Submitted {
    this.checker.submitted(volume, op);
    this.stats.submitted++;
    this.#outstanding.set(at, (this.#outstanding.get(at) ?? 0) + 1);
    const submitted: Submitted = {
      volume,
      op,
      done: this.node(at).submit(volume, op).then(
        (lsn) => {
          this.stats.acked++;
          submitted.lsn = lsn;
          if (lsn === 0) return lsn; // the op had nothing to do (a rename onto itself): no LSN
          // Served here (never forwarded): this is the owner's ack moment.
          if (!this.#forwardedKeys.has(opKey(op))) this.#checkAck(at, volume, lsn, op);
          this.checker.acked(volume, lsn, op);
          return lsn;
        },
        (error) => {
          this.stats.failed++;
          submitted.error = error;
          if (error instanceof NodeError || error instanceof FsError) this.checker.failed(volume, op, error.code);
          else this.note(`client error that is not a NodeError: ${String(error)}`);
          throw error;
        },
      ).finally(() => this.#outstanding.set(at, this.#outstanding.get(at)! - 1)),
    };
    submitted.done.catch(() => {});
    return submitted;
  }

  /** A client at node `at` makes an fs change to `volume` (checked with Node's semantics at the owner). */
  change(at: NodeId, volume: number, change: FsChange): Promise<ChangeResult> {
    const node = this.node(at);
    const opId = node.newChangeId();
    this.checker.submittedChange(volume, opId);
    this.stats.submitted++;
    this.#outstanding.set(at, (this.#outstanding.get(at) ?? 0) + 1);
    const done = node.change(volume, change, opId).then(
      (result) => {
        this.stats.acked++;
        if (result.lsn === 0) return result;
        // Served here (never forwarded): this is the owner's ack moment.
        if (!this.#forwardedChangeIds.has(opId)) this.#checkAck(at, volume, result.lsn, undefined);
        this.checker.ackedChange(volume, result.lsn, opId);
        return result;
      },
      (error: unknown) => {
        this.stats.failed++;
        if (error instanceof NodeError || error instanceof FsError) this.checker.failedChange(volume, opId, error.code);
        else this.note(`client error that is not a NodeError: ${String(error)}`);
        throw error;
      },
    ).finally(() => this.#outstanding.set(at, this.#outstanding.get(at)! - 1));
    done.catch(() => {});
    return done;
  }

  /** A client at node `at` reads from `volume`. */
  query(at: NodeId, volume: number, query: FsQuery): Promise<QueryResult> {
    return this.node(at).query(volume, query);
  }

  /** Client ops still waiting at nodes that have not crashed. */
  inProgress(): number {
    let count = 0;
    for (const [id, n] of this.#outstanding) if (this.world.processes.get(id)?.state !== 'down') count += n;
    return count;
  }

  async run(ms: number): Promise<void> {
    await this.scheduler.runUntil(this.scheduler.now + ms);
  }

  /** Runs until `done()` holds; false if `ms` of virtual time passed first. */
  async runUntil(done: () => boolean, ms = 60_000): Promise<boolean> {
    const deadline = this.scheduler.now + ms;
    while (!done() && this.scheduler.now < deadline) await this.scheduler.runUntil(Math.min(deadline, this.scheduler.now + 50), done);
    return done();
  }

  /** Every client op settled, every volume owned by an up node, nothing left to flush or store. */
  settled(): boolean {
    if (this.inProgress() > 0 || this.world.storesBusy()) return false;
    const owned = new Set<number>();
    for (const id of this.up()) {
      for (const volume of this.node(id).status().owns) {
        if (volume.unflushed > 0) return false;
        owned.add(volume.volume);
      }
    }
    return this.volumes.every((v) => owned.has(v));
  }

  /** Settles, gives the sweeps time to tidy, and runs the final checks. Returns the violations. */
  async finish(settleMs = 60_000): Promise<string[]> {
    if (!(await this.runUntil(() => this.settled(), settleMs))) {
      this.checker.violations.push(`liveness: the cluster did not settle within ${settleMs} ms`);
    }
    await this.run(3000);
    this.checker.final();
    return this.checker.violations;
  }
}

export function describeEvent(event: NodeEvent): string {
  switch (event.type) {
    case 'takeover-started':
      return `takeover of volume ${event.volume} started (${event.how}${event.from ? ` from ${event.from}` : ''})`;
    case 'takeover-finished':
      return `owns volume ${event.volume} at epoch ${event.epoch}, replayed ${event.replayed}`;
    case 'released':
      return `released volume ${event.volume} (${event.why})`;
    case 'degraded':
      return `volume ${event.volume} ${event.degraded ? 'degraded' : 'mirrored'}`;
    case 'partner':
      return `volume ${event.volume} partner ${event.partner}`;
    case 'volume-stopped':
      return `volume ${event.volume} STOPPED: ${event.error.message}`;
    case 'replay-progress':
      return `volume ${event.volume} replayed ${event.replayed} of ${event.total}`;
    case 'flush-lag':
      return `volume ${event.volume} has ${event.records} records (${event.bytes} bytes) to flush`;
  }
}

/** Events too frequent for the trace. */
const UNTRACED = new Set<NodeEvent['type']>(['replay-progress', 'flush-lag']);
