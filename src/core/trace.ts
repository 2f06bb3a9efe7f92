// Steps a record takes, seen from a node's ports, for teaching and debugging: a StepTracer wraps
// the ports a node runs on and reports each journal put, mirror message, mirror put, flush, trim
// and fence as it begins. With a hold (slow motion) each step waits that long before it happens,
// so that a class can follow one record from the tab that writes it to the medium; the node's
// acks wait for the held steps, as they would for slow storage. Liveness (urgent messages:
// heartbeats) is never held, or slow motion would make live nodes look hung.
import type { Medium, NodeId, Ports, RecordStore, Link } from './ports.js';
import { isMessage, type Message } from './messages.js';

export type StepKind =
  /** The owner puts records in its journal. */
  | 'journal'
  /** The owner sends records to its partner. */
  | 'send'
  /** The partner puts records in its mirror. */
  | 'mirror'
  /** The partner tells the owner that its mirror holds the records. */
  | 'mirrored'
  /** The owner applies records to the medium (a flush, or a takeover's replay). */
  | 'flush'
  /** Flushed records are deleted from a journal or a mirror. */
  | 'trim'
  /** A node claims a new epoch of a volume in the medium: every older owner is fenced. */
  | 'fence'
  /** A client sends an op to the volume's owner, or the owner answers it. */
  | 'forward'
  | 'answer';

export interface Step {
  readonly kind: StepKind;
  /** The node taking the step. */
  readonly node: NodeId;
  readonly volume: number;
  /** The LSNs it concerns, first and last (a trim's range; none for a fence or a forward). */
  readonly lsns?: readonly [first: number, last: number];
  /** How many records it carries (a trim: the range it deletes). */
  readonly count: number;
  /** The other node of a message. */
  readonly peer?: NodeId;
  /** The store of a trim. */
  readonly store?: 'journal' | 'mirror';
  /** The epoch claimed (a fence), or the records' epoch. */
  readonly epoch?: number;
  /** How long the step is held before it happens (0 unless in slow motion). */
  readonly holdMs: number;
}

export interface StepTracerOptions {
  /** Called as each step begins (before its hold). */
  readonly onStep: (step: Step) => void;
  /** How long to hold each step now; 0 (the default) runs at full speed. */
  readonly holdMs?: () => number;
}

/** A link message only the tracer speaks: a round-trip probe, answered by the peer's tracer. */
interface Probe {
  t: 'tracePing' | 'tracePong';
  n: number;
}

const isProbe = (message: unknown): message is Probe =>
  isMessage(message) && ((message.t as string) === 'tracePing' || (message.t as string) === 'tracePong');

export class StepTracer {
  readonly #onStep: (step: Step) => void;
  readonly #holdMs: () => number;
  #ports?: Ports;
  /** Held messages, in the order sent: each leaves at `due` (never before the one ahead of it). */
  #held: Array<{ to: NodeId; message: unknown; due: number }> = [];
  #releasing = false;
  #probes = new Map<number, () => void>();
  #nextProbe = 1;
  /** The volume of each change a client sent us ("client:id"), to report our answer to it. */
  #changes = new Map<string, number>();

  constructor(options: StepTracerOptions) {
    this.#onStep = options.onStep;
    this.#holdMs = options.holdMs ?? (() => 0);
  }

  /** The ports a node should run on: `ports` with every step reported (and held). Once per tracer. */
  wrap(ports: Ports): Ports {
    if (this.#ports) throw new Error('a StepTracer wraps one node');
    this.#ports = ports;
    const { stores, self } = ports;
    return {
      ...ports,
      journal: this.#store(ports.journal, 'journal'),
      mirror: this.#store(ports.mirror, 'mirror'),
      // The node tidies its own stores through the directory too: those trims are its steps.
      stores: {
        nodes: () => stores.nodes(),
        journal: (node) => (node === self ? this.#store(stores.journal(node), 'journal') : stores.journal(node)),
        mirror: (node) => (node === self ? this.#store(stores.mirror(node), 'mirror') : stores.mirror(node)),
      },
      medium: this.#medium(ports.medium),
      link: this.#link(ports.link),
    };
  }

  /**
   * The round trip to `peer` over the link, in milliseconds (a probe and its answer, beside the
   * node's own messages and never held); undefined when no answer came within `timeoutMs`.
   */
  ping(peer: NodeId, timeoutMs = 2000): Promise<number | undefined> {
    const ports = this.#wrapped();
    const n = this.#nextProbe++;
    const start = ports.clock.now();
    return new Promise((resolve) => {
      const timer = ports.clock.after(timeoutMs, () => {
        this.#probes.delete(n);
        resolve(undefined);
      });
      this.#probes.set(n, () => {
        this.#probes.delete(n);
        timer.cancel();
        resolve(ports.clock.now() - start);
      });
      if (!ports.link.send(peer, { t: 'tracePing', n } satisfies Probe)) {
        timer.cancel();
        this.#probes.delete(n);
        resolve(undefined);
      }
    });
  }

  #wrapped(): Ports {
    if (!this.#ports) throw new Error('wrap() the ports first');
    return this.#ports;
  }

  /** Reports the step, then waits for its hold. */
  async #take(step: Omit<Step, 'node' | 'holdMs'>): Promise<void> {
    const holdMs = this.#holdMs();
    this.#onStep({ ...step, node: this.#wrapped().self, holdMs });
    if (holdMs > 0) await new Promise<void>((resolve) => this.#wrapped().clock.after(holdMs, resolve));
  }

  #store(store: RecordStore, kind: 'journal' | 'mirror'): RecordStore {
    return {
      put: async (records) => {
        const first = records[0];
        if (first) await this.#take({ kind, volume: first.volume, lsns: [first.lsn, records.at(-1)!.lsn], count: records.length, epoch: first.epoch });
        return store.put(records);
      },
      list: (volume, from) => store.list(volume, from),
      deleteRange: async (volume, from, to) => {
        await this.#take({ kind: 'trim', volume, lsns: [from, to], count: to - from + 1, store: kind });
        return store.deleteRange(volume, from, to);
      },
    };
  }

  #medium(medium: Medium): Medium {
    return {
      state: (volume) => medium.state(volume),
      claim: async (volume, epoch, base) => {
        await this.#take({ kind: 'fence', volume, count: 0, epoch });
        return medium.claim(volume, epoch, base);
      },
      apply: async (volume, epoch, ops) => {
        const first = ops[0];
        if (first) await this.#take({ kind: 'flush', volume, lsns: [first.lsn, ops.at(-1)!.lsn], count: ops.length, epoch });
        return medium.apply(volume, epoch, ops);
      },
      stat: (volume, path) => medium.stat(volume, path),
      list: (volume, path) => medium.list(volume, path),
      read: (volume, path, offset, length) => medium.read(volume, path, offset, length),
    };
  }

  #link(link: Link): Link {
    return {
      self: link.self,
      send: (to, message, urgent) => this.#send(link, to, message, urgent ?? false),
      peers: () => link.peers(),
      onMessage: (handler) =>
        link.onMessage((from, message) => {
          if (isProbe(message)) return this.#probed(link, from, message);
          if (isMessage(message) && message.t === 'change') this.#changes.set(`${from}:${message.id}`, message.volume);
          handler(from, message);
        }),
      onPeer: (handler) => link.onPeer(handler),
    };
  }

  #probed(link: Link, from: NodeId, probe: Probe): void {
    if (probe.t === 'tracePing') link.send(from, { t: 'tracePong', n: probe.n } satisfies Probe);
    else this.#probes.get(probe.n)?.();
  }

  #send(link: Link, to: NodeId, message: unknown, urgent: boolean): boolean {
    if (isMessage(message)) this.#report(to, message);
    const holdMs = urgent ? 0 : this.#holdMs();
    if (urgent || (holdMs === 0 && this.#held.length === 0)) return link.send(to, message, urgent);
    // Held messages keep their order: one sent after slow motion ends still waits for those ahead.
    this.#held.push({ to, message, due: this.#wrapped().clock.now() + holdMs });
    this.#release(link);
    return link.peers().includes(to);
  }

  /** Sends the held messages as they fall due, in order. */
  #release(link: Link): void {
    if (this.#releasing) return;
    const next = this.#held[0];
    if (!next) return;
    this.#releasing = true;
    const clock = this.#wrapped().clock;
    clock.after(Math.max(0, next.due - clock.now()), () => {
      this.#releasing = false;
      while (this.#held[0] && this.#held[0].due <= clock.now()) {
        const { to, message } = this.#held.shift()!;
        link.send(to, message);
      }
      this.#release(link);
    });
  }

  /** Reports a message that is a step of a record (or of a client's op). */
  #report(peer: NodeId, message: Message): void {
    const holdMs = this.#holdMs();
    const step = (fields: Omit<Step, 'node' | 'holdMs' | 'peer'>) => this.#onStep({ ...fields, peer, node: this.#wrapped().self, holdMs });
    switch (message.t) {
      case 'mirror':
        if (message.lsns.length) step({ kind: 'send', volume: message.volume, lsns: [message.lsns[0]!, message.lsns.at(-1)!], count: message.lsns.length, epoch: message.epoch });
        return;
      case 'mirrored':
        return step({ kind: 'mirrored', volume: message.volume, lsns: [message.upTo, message.upTo], count: 1 });
      case 'change':
        return step({ kind: 'forward', volume: message.volume, count: 1 });
      case 'result': {
        const volume = this.#changes.get(`${peer}:${message.id}`);
        this.#changes.delete(`${peer}:${message.id}`);
        if (volume !== undefined) step({ kind: 'answer', volume, count: 1 });
        return;
      }
      default:
    }
  }
}
