// The Locks port over Web Locks. A lock is held for as long as the promise its callback returns
// is pending; the browser releases every lock of a context that closes or crashes, which is how a
// partner learns that its owner is gone. A stolen lock rejects its request with an AbortError.
import type { HeldLock, LockWait, Locks } from '../core/ports.js';

class WebLock implements HeldLock {
  readonly name: string;
  #lost = false;
  #released = false;
  #onLost: Array<() => void> = [];
  #release: () => void;

  constructor(name: string, release: () => void) {
    this.name = name;
    this.#release = release;
  }

  get lost(): boolean {
    return this.#lost;
  }

  onLost(callback: () => void): void {
    this.#onLost.push(callback);
  }

  release(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#released = true;
    this.#release();
  }

  /** The request ended without release(): the lock was stolen from us. */
  stolen(): void {
    if (this.#released || this.#lost) return;
    this.#lost = true;
    for (const callback of this.#onLost.splice(0)) callback();
  }
}

export class WebLocks implements Locks {
  #locks: LockManager;
  #prefix: string;

  /** Lock names get `scope` in front, so that clusters sharing an origin never meet. */
  constructor(scope = '', locks: LockManager = navigator.locks) {
    this.#locks = locks;
    this.#prefix = scope ? `${scope}/` : '';
  }

  /** Requests `name`; resolves with a held lock (or null when `ifAvailable` and it is taken). */
  #request(name: string, options: LockOptions): Promise<WebLock | null> {
    const scoped = this.#prefix + name;
    return new Promise<WebLock | null>((resolve, reject) => {
      let held: WebLock | undefined;
      this.#locks
        .request(scoped, options, (lock) => {
          if (!lock) {
            resolve(null);
            return undefined;
          }
          return new Promise<void>((release) => {
            held = new WebLock(name, release);
            resolve(held);
          });
        })
        .then(
          () => held?.stolen(), // a grant we did not release ended: only a steal does that
          (error: unknown) => {
            if (held) held.stolen();
            else reject(error);
          },
        );
    });
  }

  tryAcquire(name: string): Promise<HeldLock | null> {
    return this.#request(name, { ifAvailable: true });
  }

  wait(name: string): LockWait {
    const abort = new AbortController();
    const granted = this.#request(name, { signal: abort.signal }) as Promise<HeldLock>;
    let cancelled = false;
    void granted.then((lock) => cancelled && lock.release(), () => {});
    return {
      granted,
      cancel: () => {
        cancelled = true;
        abort.abort();
      },
    };
  }

  async steal(name: string): Promise<HeldLock> {
    return (await this.#request(name, { steal: true }))!;
  }
}
