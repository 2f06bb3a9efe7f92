// When an owner's flusher starts, if nothing needs it at once. Acked records are safe in two
// tabs' stores, so the medium can wait: a flush started during a burst of writes competes with
// the burst's journal and mirror puts for the one storage backend the tabs share (it cost a
// burst of 4 KiB writes about a third of its speed), and a batch has a fixed cost in the medium
// (a lock, the state read and written, a flush to disk) that a slow writer would pay per op.
// So the flusher waits for acks to pause for `flushDelayMs`, and no longer than `flushMaxDelayMs`
// after the first record that waits: that bounds what a takeover has to replay.
import type { Clock, Timer } from './ports.js';

export interface FlushScheduleOptions {
  readonly flushDelayMs: number;
  readonly flushMaxDelayMs: number;
}

export class FlushSchedule {
  readonly #clock: Clock;
  readonly #options: FlushScheduleOptions;
  readonly #start: () => void;
  #timer?: Timer;
  /** When records were last acked (or the flusher last stopped with records left). */
  #lastAck = 0;
  /** The latest the flusher may start: flushMaxDelayMs after the first record that waits. */
  #deadline?: number;

  /** `start` runs the flusher when the wait is over. */
  constructor(clock: Clock, options: FlushScheduleOptions, start: () => void) {
    this.#clock = clock;
    this.#options = options;
    this.#start = start;
  }

  /** Records were acked, or are left waiting: the flusher runs at the next pause (or the deadline). */
  wait(): void {
    const now = this.#clock.now();
    this.#lastAck = now;
    this.#deadline ??= now + this.#options.flushMaxDelayMs;
    this.#arm(now);
  }

  /** The flusher is starting (the wait ended, or something needs it at once): no wait is left. */
  started(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#deadline = undefined;
  }

  #dueAt(): number {
    return Math.min(this.#lastAck + this.#options.flushDelayMs, this.#deadline ?? Infinity);
  }

  /** One timer at most; when it fires early (acks came meanwhile) it waits for the rest. */
  #arm(now: number): void {
    if (this.#timer) return;
    this.#timer = this.#clock.after(Math.max(0, this.#dueAt() - now), () => {
      this.#timer = undefined;
      const later = this.#clock.now();
      if (later < this.#dueAt()) this.#arm(later);
      else this.#start();
    });
  }
}
