// The contract every Locks implementation keeps (Web Locks in a browser, the simulator's lock
// manager): exclusive locks, waits granted on release, steals that fence the holder. Framework
// free, so the same cases run under node:test and in Chromium.
import type { HeldLock, Locks } from './ports.js';

export interface LocksUnderTest {
  /** Two views of one lock space, as two tabs of an origin have. */
  readonly a: Locks;
  readonly b: Locks;
  /** Lets pending lock work happen (real time in a browser, virtual time in the simulator). */
  tick(): Promise<void>;
}

export interface LocksCase {
  readonly name: string;
  run(make: () => Promise<LocksUnderTest>): Promise<void>;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`locks contract: ${message}`);
}

let counter = 0;
const fresh = () => `tandemfs:contract:${Date.now()}:${counter++}`;

export function locksContract(): LocksCase[] {
  return [
    {
      name: 'tryAcquire takes a free lock and is refused a held one',
      async run(make) {
        const { a, b } = await make();
        const name = fresh();
        const held = await a.tryAcquire(name);
        check(held !== null && !held.lost, 'a free lock was not granted');
        check((await b.tryAcquire(name)) === null, 'a held lock was granted twice');
        held.release();
      },
    },
    {
      name: 'release frees the lock for the next taker, and a released lock counts as lost',
      async run(make) {
        const { a, b, tick } = await make();
        const name = fresh();
        const held = (await a.tryAcquire(name))!;
        held.release();
        check(held.lost, 'a released lock is not lost');
        await tick();
        const again = await b.tryAcquire(name);
        check(again !== null, 'a released lock was not free again');
        again.release();
      },
    },
    {
      name: 'a wait is granted when the holder releases',
      async run(make) {
        const { a, b, tick } = await make();
        const name = fresh();
        const held = (await a.tryAcquire(name))!;
        let granted: HeldLock | undefined;
        const grant = () => granted; // read through a call: the callback below assigns it later
        void b.wait(name).granted.then((lock) => (granted = lock));
        await tick();
        check(grant() === undefined, 'a wait was granted while the lock was held');
        held.release();
        await tick();
        const lock = grant();
        check(lock !== undefined && !lock.lost, 'a wait was not granted after the release');
        lock.release();
      },
    },
    {
      name: "steal takes a held lock at once; the holder's lock is lost and told so",
      async run(make) {
        const { a, b, tick } = await make();
        const name = fresh();
        const held = (await a.tryAcquire(name))!;
        let told = false;
        held.onLost(() => (told = true));
        const thief = await b.steal(name);
        await tick();
        check(!thief.lost, 'the thief does not hold the lock');
        check(held.lost, "the holder's lock is not lost after a steal");
        check(told, 'the holder was not told of the steal');
        check((await a.tryAcquire(name)) === null, 'a stolen lock was free');
        thief.release();
      },
    },
    {
      name: 'a cancelled wait is never granted, and leaves the lock free',
      async run(make) {
        const { a, b, tick } = await make();
        const name = fresh();
        const held = (await a.tryAcquire(name))!;
        let granted = false;
        const wait = b.wait(name);
        void wait.granted.then(() => (granted = true), () => {});
        await tick();
        wait.cancel();
        held.release();
        await tick();
        check(!granted, 'a cancelled wait was granted');
        const again = await a.tryAcquire(name);
        check(again !== null, 'a cancelled wait kept the lock');
        again.release();
      },
    },
  ];
}
