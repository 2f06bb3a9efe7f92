// Virtual time for the simulator. Events run one at a time in (time, random tie-break) order;
// after each, every promise continuation it caused runs before the next event, so the only
// interleavings are the ones the schedule chooses: the same seed gives the same run.
import { Rng } from './rng.js';

export interface SimEvent {
  readonly time: number;
  readonly tie: number;
  readonly seq: number;
  run(): void;
  cancelled: boolean;
}

/** A binary min-heap of events. */
class Queue {
  #items: SimEvent[] = [];

  get size(): number {
    return this.#items.length;
  }

  #less(a: SimEvent, b: SimEvent): boolean {
    return a.time !== b.time ? a.time < b.time : a.tie !== b.tie ? a.tie < b.tie : a.seq < b.seq;
  }

  push(event: SimEvent): void {
    const items = this.#items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.#less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.#less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Lets every pending promise continuation run (they are all microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  now = 0;
  events = 0;
  #queue = new Queue();
  #seq = 0;
  #rng: Rng;
  /** Hears what an event threw; without it, the error ends runUntil. */
  onError?: (error: unknown) => void;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  /** Runs `run` after `delay` ms of virtual time. */
  at(delay: number, run: () => void): SimEvent {
    const event: SimEvent = { time: this.now + Math.max(0, delay), tie: this.#rng.next(), seq: this.#seq++, run, cancelled: false };
    this.#queue.push(event);
    return event;
  }

  /** Runs events until `done()` holds, virtual time passes `until`, or nothing is left. */
  async runUntil(until: number, done: () => boolean = () => false): Promise<void> {
    await settle();
    while (!done()) {
      const event = this.#queue.pop();
      if (!event) {
        this.now = Math.max(this.now, until); // nothing happens meanwhile: time just passes
        return;
      }
      if (event.time > until) {
        this.#queue.push(event);
        this.now = until;
        return;
      }
      if (event.cancelled) continue;
      this.now = Math.max(this.now, event.time);
      this.events++;
      try {
        event.run();
      } catch (error) {
        if (!this.onError) throw error;
        this.onError(error);
      }
      await settle();
    }
  }
}
