// What the demo's tabs tell each other, so that every tab can draw the whole cluster: a snapshot
// of each node several times a second, its steps and events as they happen, the faults it is
// about to suffer, the names of the files its bursts got acked, and the slow-motion setting.
// This is the demo's own BroadcastChannel, beside tandemfs (whose nodes talk over their links).
import type { NodeEvent, NodeStatus, Step } from '../../src/index.js';

export interface LinkView {
  peer: string;
  up: boolean;
  /** Round trip over the link, ms (undefined until measured, or when no answer came). */
  rtt?: number;
}

export interface BurstView {
  done: number;
  total: number;
  running: boolean;
}

export interface Snapshot {
  node: string;
  status: NodeStatus;
  links: LinkView[];
  /** Records in this node's journal and mirror, by volume. */
  journal: Record<number, number>;
  mirror: Record<number, number>;
  burst?: BurstView;
  /** Slow motion as this tab last heard it set: each step held holdMs (the newest setting wins). */
  slow: { holdMs: number; at: number };
  /** When the snapshot was taken (wall()). */
  at: number;
}

export type BusMessage =
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'step'; step: Step; at: number }
  | { type: 'event'; node: string; event: NodeEvent; at: number }
  | { type: 'fault'; node: string; what: string; at: number }
  | { type: 'burst'; node: string; total: number; at: number }
  | { type: 'acked'; node: string; paths: string[] }
  | { type: 'slow'; holdMs: number }
  | { type: 'bye'; node: string };

/** Wall-clock milliseconds, comparable between tabs (performance.now() starts anew in each). */
export const wall = (): number => performance.timeOrigin + performance.now();

export class Bus {
  readonly #channel: BroadcastChannel;
  readonly #handlers: Array<(message: BusMessage) => void> = [];

  constructor(cluster: string) {
    this.#channel = new BroadcastChannel(`tandemfs-demo:${cluster}`);
    this.#channel.onmessage = ({ data }: MessageEvent<BusMessage>) => {
      for (const handler of this.#handlers) handler(data);
    };
  }

  /** Tells the other tabs, and this tab's own handlers. */
  post(message: BusMessage): void {
    this.#channel.postMessage(message);
    for (const handler of this.#handlers) handler(message);
  }

  on(handler: (message: BusMessage) => void): void {
    this.#handlers.push(handler);
  }
}
