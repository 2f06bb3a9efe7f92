// The OPFS medium in real Chromium: the Medium contract on both file-access paths (sync access
// handles, and the createWritable fallback), then what only a real OPFS can show — fencing
// between two workers ("tabs"), durability, the two-slot state, coalescing, large writes, busy
// files, a worker killed mid-apply, and failures surfacing as typed errors.
import { expect } from 'chai';
import fc from 'fast-check';
import { OpfsMedium, type Access } from '../../src/browser/opfs-medium.js';
import { mediumContract, type MediumUnderTest } from '../../src/core/medium-contract.js';
import { RECENT_OPS, type LsnOp } from '../../src/core/ports.js';
import { FencedError, MediumError } from '../../src/errors.js';
import { crc32c } from '../../src/record/crc32c.js';
import type { Op } from '../../src/record/types.js';
import { MemoryFs } from '../../src/sim/memory-fs.js';
import { noise } from './noise.js';

const VOLUME = 3;
const MiB = 1 << 20;

let clusters = 0;

/** The media one test opens: closed, and their OPFS directories removed, after it. */
class Clusters {
  readonly #access: Access;
  readonly #media: OpfsMedium[] = [];
  readonly #names = new Set<string>();

  constructor(access: Access) {
    this.#access = access;
  }

  fresh(): string {
    const name = `test-${Date.now().toString(36)}-${(clusters += 1)}`;
    this.#names.add(name);
    return name;
  }

  async open(cluster = this.fresh(), access: Access | 'auto' = this.#access): Promise<OpfsMedium> {
    const medium = await OpfsMedium.create({ cluster, access });
    this.#media.push(medium);
    return medium;
  }

  async underTest(): Promise<MediumUnderTest> {
    const medium = await this.open();
    return {
      medium,
      read: (volume, path) => medium.read(volume, path, 0, Infinity),
      exists: async (volume, path) => (await medium.stat(volume, path)) !== undefined,
    };
  }

  async dispose(): Promise<void> {
    for (const medium of this.#media) medium.close();
    const tandem = await (await navigator.storage.getDirectory()).getDirectoryHandle('tandemfs', { create: true });
    // A worker killed mid-batch frees its file handles some milliseconds after its death.
    for (const name of this.#names) await retryBusy(() => tandem.removeEntry(name, { recursive: true }).catch(ignoreNotFound));
  }
}

async function retryBusy(attempt: () => Promise<void>): Promise<void> {
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (tries > 40 || (error as Error).name !== 'NoModificationAllowedError') throw error;
      await sleep(50);
    }
  }
}

function ignoreNotFound(error: unknown): void {
  if ((error as Error).name !== 'NotFoundError') throw error;
}

/** Runs `body` with a fresh set of media for one test. */
function withClusters(access: Access, body: (clusters: Clusters) => Promise<void>): () => Promise<void> {
  return async () => {
    const set = new Clusters(access);
    try {
      await body(set);
    } finally {
      await set.dispose();
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ascii = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

function numbered(first: number, ops: readonly Op[]): LsnOp[] {
  return ops.map((op, i) => ({ lsn: first + i, opId: first + i, op }));
}

function write(path: string, offset: number, data: Uint8Array | string, mtimeMs?: number): Op {
  return { type: 'write', path, offset, data: typeof data === 'string' ? ascii(data) : data, mtimeMs };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const lockName = (cluster: string, volume: number) => `tandemfs:medium:${cluster}:${volume}`;

/** Waits until the lock is held (by any context of the origin). */
async function lockHeld(name: string): Promise<void> {
  for (;;) {
    const { held = [] } = await navigator.locks.query();
    if (held.some((lock) => lock.name === name)) return;
    await sleep(0);
  }
}

async function clusterDirectory(cluster: string): Promise<FileSystemDirectoryHandle> {
  const tandem = await (await navigator.storage.getDirectory()).getDirectoryHandle('tandemfs');
  return tandem.getDirectoryHandle(cluster);
}

/** The sequence number in a state slot's header (bytes 8–15), or -1 when the slot is missing. */
async function slotSequence(directory: FileSystemDirectoryHandle, name: string): Promise<number> {
  const handle = await directory.getFileHandle(name).catch(() => undefined);
  if (!handle) return -1;
  const bytes = await (await handle.getFile()).arrayBuffer();
  return Number(new DataView(bytes).getBigUint64(8, true));
}

type SlotName = 'a' | 'b';

interface DecodedSlot {
  readonly name: SlotName;
  readonly sequence: number;
  readonly state: Record<string, unknown>;
  /** The length of the encoded state (the slot's JSON body). */
  readonly bodyBytes: number;
}

/** The newest valid state slot of VOLUME, decoded (the format is described in opfs-worker.ts). */
async function newestSlot(directory: FileSystemDirectoryHandle): Promise<DecodedSlot> {
  let newest: DecodedSlot | undefined;
  for (const name of ['a', 'b'] as const) {
    const handle = await directory.getFileHandle(`v${VOLUME}.state.${name}`).catch(() => undefined);
    const bytes = handle && new Uint8Array(await (await handle.getFile()).arrayBuffer());
    if (!bytes || bytes.length < 24) continue;
    const view = new DataView(bytes.buffer);
    const body = bytes.subarray(24, 24 + view.getUint32(16, true));
    if (crc32c(body, crc32c(bytes.subarray(0, 20))) !== view.getUint32(20, true)) continue;
    const sequence = Number(view.getBigUint64(8, true));
    if (!newest || sequence > newest.sequence) newest = { name, sequence, state: JSON.parse(new TextDecoder().decode(body)), bodyBytes: body.length };
  }
  if (!newest) throw new Error('no valid state slot');
  return newest;
}

async function writeSlot(directory: FileSystemDirectoryHandle, name: SlotName, sequence: number, state: unknown): Promise<void> {
  const body = ascii(JSON.stringify(state));
  const bytes = new Uint8Array(24 + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x5353_4654, true);
  view.setUint32(4, 1, true);
  view.setBigUint64(8, BigInt(sequence), true);
  view.setUint32(16, body.length, true);
  bytes.set(body, 24);
  view.setUint32(20, crc32c(body, crc32c(bytes.subarray(0, 20))), true);
  const writable = await (await directory.getFileHandle(`v${VOLUME}.state.${name}`, { create: true })).createWritable();
  await writable.write(bytes);
  await writable.close();
}

/** The times the newest state of VOLUME keeps, by path. */
async function storedTimes(directory: FileSystemDirectoryHandle): Promise<Record<string, unknown>> {
  return (await newestSlot(directory)).state.times as Record<string, unknown>;
}

/**
 * Margin around a wall-clock window for a file's lastModified: a file system may keep times in
 * whole seconds.
 */
const TIME_SLACK_MS = 1_000;

/** Runs `work` and returns the wall-clock window it ran in, widened by TIME_SLACK_MS. */
async function timed(work: () => Promise<unknown>): Promise<{ from: number; to: number }> {
  const from = Date.now();
  await work();
  return { from: from - TIME_SLACK_MS, to: Date.now() + TIME_SLACK_MS };
}

function expectWithin(time: number | undefined, { from, to }: { from: number; to: number }, what: string): void {
  expect(time !== undefined && time >= from && time <= to, `${what}: ${String(time)}, not within ${from}–${to}`).to.equal(true);
}

/** Chromium's FileSystemFileHandle.move(), missing from TypeScript's DOM lib. */
interface MovableFile extends FileSystemFileHandle {
  move(parent: FileSystemDirectoryHandle, name: string): Promise<void>;
}

/** A writable on the file, once the worker that held it after its last batch has let it go. */
async function writableWhenFree(handle: FileSystemFileHandle): Promise<FileSystemWritableFileStream> {
  let writable: FileSystemWritableFileStream | undefined;
  await retryBusy(async () => {
    writable = await handle.createWritable({ keepExistingData: true });
  });
  return writable!;
}

/** Flips the last byte of a file, from the page. */
async function damage(directory: FileSystemDirectoryHandle, name: string): Promise<void> {
  const handle = await directory.getFileHandle(name);
  const file = await handle.getFile();
  // The slot's last byte of state (its header says the body's length; a whole block follows).
  const header = new DataView(await file.slice(0, 24).arrayBuffer());
  const at = 24 + header.getUint32(16, true) - 1;
  const last = new Uint8Array(await file.slice(at, at + 1).arrayBuffer())[0] ?? 0;
  const writable = await writableWhenFree(handle);
  await writable.write({ type: 'write', position: at, data: new Uint8Array([last ^ 0xff]) });
  await writable.close();
}

/** Ops at LSNs `first`, `first` + 1, ... with op ids `idOf(lsn)`: each a 1-byte write to /f, cheap to apply in bulk. */
function withIds(first: number, count: number, idOf: (lsn: number) => number): LsnOp[] {
  return Array.from({ length: count }, (_, i) => ({ lsn: first + i, opId: idOf(first + i), op: write('/f', 0, 'x') }));
}

/** [opId, lsn] of the LSNs `first`–`last`, as a claim reports them. */
function idPairs(first: number, last: number, idOf: (lsn: number) => number): Array<[number, number]> {
  return Array.from({ length: last - first + 1 }, (_, i): [number, number] => [idOf(first + i), first + i]);
}

/** Compares two long [opId, lsn] lists, saying where they part (chai's deep equal prints 65,536 pairs). */
function expectPairs(actual: ReadonlyArray<readonly [number, number]>, expected: ReadonlyArray<readonly [number, number]>, when: string): void {
  const at = expected.findIndex((pair, i) => actual[i]?.[0] !== pair[0] || actual[i]?.[1] !== pair[1]);
  const where = at < 0 ? 'the end' : `index ${at}: ${JSON.stringify(actual[at])}, not ${JSON.stringify(expected[at])}`;
  expect(actual.length === expected.length && at < 0, `${when}: ${actual.length} pairs, ${expected.length} expected; they part at ${where}`).to.equal(true);
}

/** The segment file and the offset of VOLUME's op-id ring entry for `lsn` (the format is described in opfs-worker.ts). */
async function ringSlot(directory: FileSystemDirectoryHandle, lsn: number): Promise<{ handle: FileSystemFileHandle; at: number }> {
  const [slot, segmentSlots] = [lsn % (2 * RECENT_OPS), 16_384];
  const ring = await directory.getDirectoryHandle(`v${VOLUME}.ops`);
  return { handle: await ring.getFileHandle(String(Math.floor(slot / segmentSlots))), at: (slot % segmentSlots) * 16 };
}

/** The entry (opId, lsn) in the ring slot for `lsn`, read from the page. */
async function ringEntry(directory: FileSystemDirectoryHandle, lsn: number): Promise<[number, number] | undefined> {
  const { handle, at } = await ringSlot(directory, lsn);
  const bytes = await (await handle.getFile()).slice(at, at + 16).arrayBuffer();
  if (bytes.byteLength < 16) return undefined;
  const view = new DataView(bytes);
  return [view.getFloat64(0, true), view.getFloat64(8, true)];
}

/** Writes `entry` (opId, lsn) into the ring slot for `lsn`, from the page. */
async function writeRingEntry(directory: FileSystemDirectoryHandle, lsn: number, [opId, stored]: [number, number]): Promise<void> {
  const { handle, at } = await ringSlot(directory, lsn);
  const bytes = new DataView(new ArrayBuffer(16));
  bytes.setFloat64(0, opId, true);
  bytes.setFloat64(8, stored, true);
  const writable = await writableWhenFree(handle);
  await writable.write({ type: 'write', position: at, data: bytes.buffer });
  await writable.close();
}

// ---------------------------------------------------------------------------------------------

describe('OpfsMedium', () => {
  for (const access of ['sync', 'writable'] as const) {
    describe(`the Medium contract, ${access === 'sync' ? 'sync access handles' : 'the createWritable fallback'}`, () => {
      for (const contractCase of mediumContract()) {
        it(contractCase.name, withClusters(access, (set) => contractCase.run(() => set.underTest())));
      }
    });
  }

  it('uses sync access handles where the worker has them, and the writable fallback when asked', withClusters('sync', async (set) => {
    expect((await set.open()).access).to.equal('sync');
    expect((await set.open(undefined, 'auto')).access).to.equal('sync');
    expect((await set.open(undefined, 'writable')).access).to.equal('writable');
  }));

  it('refuses a cluster name that is not an OPFS directory name', async () => {
    for (const cluster of ['', '.', '..', 'a/b', 'a\\b']) {
      const error = await rejection(OpfsMedium.create({ cluster }));
      expect(error, cluster).to.have.property('code', 'EINVAL');
    }
  });

  for (const access of ['sync', 'writable'] as const) {
    describe(`adapter, ${access === 'sync' ? 'sync access handles' : 'createWritable fallback'}`, () => {
      it('rethrows a fenced apply or claim as a FencedError with its data', withClusters(access, async (set) => {
        const medium = await set.open();
        await medium.claim(VOLUME, 2, 0);
        const fenced = await rejection(medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'x')])));
        expect(fenced).to.be.instanceOf(FencedError);
        expect(fenced).to.include({ code: 'EFENCED', message: 'volume 3: epoch 1 is fenced by epoch 2' });
        expect((fenced as FencedError).data).to.deep.equal({ volume: VOLUME, epoch: 1, current: 2 });
        expect(await rejection(medium.claim(VOLUME, 2, 5))).to.be.instanceOf(FencedError);
      }));

      it('fences across two workers: a claim waits for the apply in progress, and the old epoch is refused after it', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const [a, b] = [await set.open(cluster), await set.open(cluster)];
        await a.claim(VOLUME, 1, 0);
        const big = numbered(1, Array.from({ length: 24 }, (_, i) => write(`/big/${i}`, 0, noise(MiB, i + 1))));
        const order: string[] = [];
        const applying = a.apply(VOLUME, 1, big).then(() => order.push('apply'));
        await lockHeld(lockName(cluster, VOLUME));
        const claiming = b.claim(VOLUME, 2, big.length).then((state) => (order.push('claim'), state));
        let sawWaiting = false;
        while (order.length === 0) {
          const { pending = [] } = await navigator.locks.query();
          sawWaiting ||= pending.some((lock) => lock.name === lockName(cluster, VOLUME));
          await sleep(1);
        }
        const claimed = await claiming;
        await applying;
        expect(sawWaiting, "B's claim was seen waiting for the lock").to.equal(true);
        expect(order).to.deep.equal(['apply', 'claim']);
        const recent = big.map(({ opId, lsn }) => [opId, lsn]);
        expect(claimed).to.deep.equal({ epoch: 2, applied: big.length, epochs: [{ epoch: 1, base: 0 }, { epoch: 2, base: big.length }], recent });
        const refused = await rejection(a.apply(VOLUME, 1, numbered(big.length + 1, [write('/big/0', 0, 'zombie')])));
        expect(refused).to.be.instanceOf(FencedError);
        expect(sameBytes(await b.read(VOLUME, '/big/0', 0, Infinity), noise(MiB, 1))).to.equal(true);
      }));

      it('keeps the state and the files for a new instance (durability)', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const first = await set.open(cluster);
        await first.claim(VOLUME, 1, 0);
        const written = await timed(() => first.apply(VOLUME, 1, numbered(1, [write('/d/f', 0, 'hello', 1234), { type: 'setTimes', path: '/d', atimeMs: 5, mtimeMs: 6 }])));
        await first.claim(VOLUME, 3, 2);
        first.close();
        const second = await set.open(cluster);
        expect(await second.state(VOLUME)).to.deep.equal({ epoch: 3, applied: 2, epochs: [{ epoch: 1, base: 0 }, { epoch: 3, base: 2 }] });
        expect(text(await second.read(VOLUME, '/d/f', 0, Infinity))).to.equal('hello');
        const file = await second.stat(VOLUME, '/d/f');
        expect(file).to.include({ kind: 'file', size: 5 });
        expectWithin(file?.mtimeMs, written, "the file's mtime, its lastModified");
        expect(await second.stat(VOLUME, '/d')).to.deep.equal({ kind: 'directory', size: 0, mode: 0o755, atimeMs: 5, mtimeMs: 6 });
      }));

      it('keeps each state slot file a whole 64 KiB block, so that a claim (the fence) needs no new quota', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const medium = await set.open(cluster);
        await medium.claim(VOLUME, 1, 0);
        await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'one')]));
        for (let epoch = 2; epoch <= 40; epoch++) await medium.claim(VOLUME, epoch, 1); // the state grows
        const directory = await clusterDirectory(cluster);
        for (const slot of ['a', 'b']) {
          const file = await (await directory.getFileHandle(`v${VOLUME}.state.${slot}`)).getFile();
          expect(file.size, `slot ${slot}`).to.equal(64 * 1024);
        }
        expect((await medium.state(VOLUME)).epochs).to.have.length(40);
      }));

      it('falls back to the other state slot when the newest is damaged, and fails when both are', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const medium = await set.open(cluster);
        await medium.claim(VOLUME, 1, 0); // slot a, sequence 1
        await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'one')])); // slot b, sequence 2
        await medium.apply(VOLUME, 1, numbered(2, [write('/f', 3, 'two')])); // slot a, sequence 3
        const directory = await clusterDirectory(cluster);
        const [a, b] = [await slotSequence(directory, `v${VOLUME}.state.a`), await slotSequence(directory, `v${VOLUME}.state.b`)];
        expect([a, b]).to.deep.equal([3, 2]);
        await damage(directory, `v${VOLUME}.state.a`);
        expect(await medium.state(VOLUME)).to.deep.equal({ epoch: 1, applied: 1, epochs: [{ epoch: 1, base: 0 }] });
        // The next write goes over the damaged slot; the replayed op changes nothing.
        await medium.apply(VOLUME, 1, numbered(2, [write('/f', 3, 'two')]));
        expect(await medium.state(VOLUME)).to.include({ applied: 2 });
        expect(text(await medium.read(VOLUME, '/f', 0, Infinity))).to.equal('onetwo');
        await damage(directory, `v${VOLUME}.state.a`);
        await damage(directory, `v${VOLUME}.state.b`);
        const error = await rejection(medium.state(VOLUME));
        expect(error).to.be.instanceOf(MediumError);
        expect(error).to.include({ code: 'EIO', permanent: true });
      }));

      it('coalesced writes leave the same bytes as the same writes one by one, and as MemoryFs', withClusters(access, async (set) => {
        const medium = await set.open();
        await medium.claim(VOLUME, 1, 0);
        await medium.claim(VOLUME + 1, 1, 0);
        const piece = fc.record({
          path: fc.constantFrom('/a', '/b'),
          offset: fc.nat({ max: 40 }),
          data: fc.uint8Array({ minLength: 0, maxLength: 12 }),
          truncate: fc.option(fc.nat({ max: 30 }), { freq: 8 }),
        });
        let applied = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 30 }), async (pieces) => {
            const ops: Op[] = [{ type: 'truncate', path: '/a', size: 0 }, { type: 'truncate', path: '/b', size: 0 }];
            for (const { path, offset, data, truncate } of pieces) {
              ops.push(truncate === null ? write(path, offset, data) : { type: 'truncate', path, size: truncate });
            }
            const batch = numbered(applied + 1, ops);
            applied += ops.length;
            await medium.apply(VOLUME, 1, batch);
            for (const op of batch) await medium.apply(VOLUME + 1, 1, [op]);
            const model = new MemoryFs();
            for (const op of ops) model.apply(op);
            for (const path of ['/a', '/b']) {
              const [together, oneByOne] = [await medium.read(VOLUME, path, 0, Infinity), await medium.read(VOLUME + 1, path, 0, Infinity)];
              expect(sameBytes(together, oneByOne), `${path}: one batch vs one by one`).to.equal(true);
              expect(sameBytes(together, model.read(path, 0, Infinity)), `${path}: vs MemoryFs`).to.equal(true);
            }
          }),
          { numRuns: access === 'sync' ? 60 : 25 },
        );
      }));

      it('round-trips large writes (1 MiB, at offset 0 and past a gap), coalesced or not', withClusters(access, async (set) => {
        const medium = await set.open();
        await medium.claim(VOLUME, 1, 0);
        const [one, two] = [noise(MiB, 7), noise(MiB, 8)];
        const started = performance.now();
        await medium.apply(VOLUME, 1, numbered(1, [write('/one', 0, one), write('/gap', 3 * MiB + 7, two)]));
        const halves = [write('/joined', 0, two.subarray(0, MiB / 2)), write('/joined', MiB / 2, two.subarray(MiB / 2))];
        await medium.apply(VOLUME, 1, numbered(3, halves));
        const elapsed = performance.now() - started;
        expect(sameBytes(await medium.read(VOLUME, '/one', 0, Infinity), one)).to.equal(true);
        expect(sameBytes(await medium.read(VOLUME, '/joined', 0, Infinity), two)).to.equal(true);
        const gap = await medium.read(VOLUME, '/gap', 0, Infinity);
        expect(gap?.length).to.equal(4 * MiB + 7);
        expect(gap?.subarray(0, 3 * MiB + 7).every((byte) => byte === 0)).to.equal(true);
        expect(sameBytes(gap?.subarray(3 * MiB + 7), two)).to.equal(true);
        expect(sameBytes(await medium.read(VOLUME, '/gap', 3 * MiB + 7 + 10, 5), two.subarray(10, 15))).to.equal(true);
        console.log(`[${access}] 3 MiB written in 2 applies: ${elapsed.toFixed(1)} ms`);
      }));

      it('surfaces injected quota, I/O and broken-I/O failures as MediumErrors with the right code', withClusters(access, async (set) => {
        const medium = await set.open();
        await medium.claim(VOLUME, 1, 0);
        const expectations = [
          ['quota', { code: 'ENOSPC', permanent: false }, { quota: true }],
          ['io', { code: 'EIO', permanent: false }, {}],
          ['broken', { code: 'EIO', permanent: true }, {}],
        ] as const;
        for (const [kind, fields, data] of expectations) {
          await medium.failNext(1, kind);
          const error = await rejection(medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'x')])));
          expect(error, kind).to.be.instanceOf(MediumError);
          expect(error, kind).to.include(fields);
          expect((error as MediumError).data, kind).to.include(data);
          expect(await medium.state(VOLUME), kind).to.include({ applied: 0 });
        }
        await medium.failNext(2, 'io');
        for (const attempt of [1, 2]) expect(await rejection(medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'x')]))), `attempt ${attempt}`).to.be.instanceOf(MediumError);
        await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'x')]));
        expect(text(await medium.read(VOLUME, '/f', 0, Infinity))).to.equal('x');
        // A fenced apply is reported as fenced, and does not use up an injected fault.
        await medium.failNext(1, 'quota');
        expect(await rejection(medium.apply(VOLUME, 0, []))).to.be.instanceOf(FencedError);
        expect(await rejection(medium.apply(VOLUME, 1, numbered(2, [write('/f', 0, 'y')])))).to.include({ code: 'ENOSPC' });
      }));

      it('a batch cut short before its state was written leaves a link unmarked and a mode unset: applying it again marks and sets them', withClusters(access, async (set) => {
        const medium = await set.open(set.fresh());
        await medium.claim(VOLUME, 1, 0);
        await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'x'), { type: 'mkdir', path: '/d' }]));
        const ops: Op[] = [{ type: 'symlink', path: '/l', target: 'f' }, { type: 'chmod', path: '/f', mode: 0o600 }, { type: 'chmod', path: '/d', mode: 0o700 }];
        await medium.failNext(1, 'io', 'state');
        expect(await rejection(medium.apply(VOLUME, 1, numbered(3, ops)))).to.include({ code: 'EIO' });
        expect(await medium.stat(VOLUME, '/l')).to.include({ kind: 'file', size: 1 }); // its file, with no mark yet
        expect(await medium.stat(VOLUME, '/f')).to.include({ mode: 0o644 });
        await medium.apply(VOLUME, 1, numbered(3, ops));
        expect(await medium.stat(VOLUME, '/l')).to.include({ kind: 'symlink', target: 'f', mode: 0o777 });
        expect(await medium.stat(VOLUME, '/f')).to.include({ mode: 0o600 });
        expect(await medium.stat(VOLUME, '/d')).to.include({ mode: 0o700 });
      }));

      it('never reports the op ids of a batch cut short before its state was written; the ops that replace them are reported', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const [a, b] = [await set.open(cluster), await set.open(cluster)];
        const [first, cut, next] = [(lsn: number) => 1e6 + lsn, (lsn: number) => 2e6 + lsn, (lsn: number) => 3e6 + lsn];
        await a.claim(VOLUME, 1, 0);
        await a.apply(VOLUME, 1, withIds(1, 3, first));
        // A small batch cut short: its op ids were to go in the state that was never written.
        await a.failNext(1, 'io', 'state');
        expect(await rejection(a.apply(VOLUME, 1, withIds(4, 3, cut)))).to.include({ code: 'EIO' });
        // A large one: too many op ids for the state, so they were written to the ring first.
        await a.failNext(1, 'io', 'state');
        expect(await rejection(a.apply(VOLUME, 1, withIds(4, 4000, cut)))).to.include({ code: 'EIO' });
        expect(await a.state(VOLUME)).to.include({ applied: 3 });
        const directory = await clusterDirectory(cluster);
        expect(await ringEntry(directory, 4003)).to.deep.equal([cut(4003), 4003]);
        expect((await b.claim(VOLUME, 2, 3)).recent).to.deep.equal(idPairs(1, 3, first));
        // The next owner applies other ops at LSNs 4 and 5. Their op ids are in the state, newer
        // than the cut batch's still in the ring, and LSN 6 on stays above applied.
        await b.apply(VOLUME, 2, withIds(4, 2, next));
        expect(await ringEntry(directory, 4)).to.deep.equal([cut(4), 4]);
        expect((await a.claim(VOLUME, 3, 5)).recent).to.deep.equal([...idPairs(1, 3, first), ...idPairs(4, 5, next)]);
        // Once they are many, the state's op ids move into the ring, over the cut batch's.
        await a.apply(VOLUME, 3, withIds(6, 1000, next));
        expect(await ringEntry(directory, 4)).to.deep.equal([next(4), 4]);
        expect((await b.claim(VOLUME, 4, 1005)).recent).to.deep.equal([...idPairs(1, 3, first), ...idPairs(4, 1005, next)]);
      }));

      it('keeps the op ids for another worker and a fresh instance over the same OPFS, through barrier batches', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const [a, b] = [await set.open(cluster), await set.open(cluster)];
        const idOf = (lsn: number) => 2 ** 53 - 1 - 7 * lsn;
        // Enough ops for their ids to go to the ring, then barrier batches whose ids stay in the state.
        const many = withIds(1, 2000, idOf);
        const ops: Op[] = [write('/d/f', 0, 'one'), { type: 'mkdir', path: '/e' }, { type: 'rename', path: '/d', target: '/g' }, write('/g/f', 3, 'two'), { type: 'unlink', path: '/g/f' }];
        const numberedOps = ops.map((op, i) => ({ lsn: 2001 + i, opId: idOf(2001 + i), op }));
        await a.claim(VOLUME, 1, 0);
        for (const batch of [many, numberedOps.slice(0, 2), ...numberedOps.slice(2).map((op) => [op])]) await a.apply(VOLUME, 1, batch);
        // A is alive and may still hold the volume's files: B's claim waits for them.
        expect((await b.claim(VOLUME, 2, 2005)).recent).to.deep.equal(idPairs(1, 2005, idOf));
        await b.apply(VOLUME, 2, withIds(2006, 3, idOf));
        // B dies as a crashed tab would; a fresh instance reads what it left.
        b.close();
        const c = await set.open(cluster);
        expect((await c.claim(VOLUME, 3, 2008)).recent).to.deep.equal(idPairs(1, 2008, idOf));
        expect(await c.stat(VOLUME, '/g')).to.include({ kind: 'directory' });
      }));

      it('remembers the last RECENT_OPS op ids as the ring wraps, and a batch cut short past the end costs none of them', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const medium = await set.open(cluster);
        await medium.claim(VOLUME, 1, 0);
        // Past the ring's end (2 x RECENT_OPS slots) and into its first segment again, in batches
        // that start in one segment and end in the next.
        const applied = 2 * RECENT_OPS + 5000;
        const idOf = (lsn: number) => 2 ** 53 - 1 - 3 * lsn;
        const started = performance.now();
        for (let lsn = 1; lsn <= applied; lsn += 4000) await medium.apply(VOLUME, 1, withIds(lsn, Math.min(4000, applied - lsn + 1), idOf));
        const applyMs = performance.now() - started;
        const claimStarted = performance.now();
        const { recent } = await medium.claim(VOLUME, 2, applied);
        const claimMs = performance.now() - claimStarted;
        const window = idPairs(applied - RECENT_OPS + 1, applied, idOf);
        expectPairs(recent, window, 'after the ring wrapped');
        // A batch cut short rewrites slots whose LSNs are 2 x RECENT_OPS below its own, out of the window.
        await medium.failNext(1, 'io', 'state');
        expect(await rejection(medium.apply(VOLUME, 2, withIds(applied + 1, 4000, (lsn) => lsn)))).to.include({ code: 'EIO' });
        expectPairs((await medium.claim(VOLUME, 3, applied)).recent, window, 'after a batch cut short');
        await medium.apply(VOLUME, 3, withIds(applied + 1, 10, (lsn) => -lsn));
        const shifted = [...window.slice(10), ...idPairs(applied + 1, applied + 10, (lsn) => -lsn)];
        expectPairs((await medium.claim(VOLUME, 4, applied + 10)).recent, shifted, 'after the next owner applied 10 more');
        // A slot reports only the LSN it stands for now: an entry of the ring's previous lap, or
        // of its next (a batch of over RECENT_OPS ops cut short), is no op id of the window.
        const [older, newer] = [applied - 100, applied - 200];
        const directory = await clusterDirectory(cluster);
        await writeRingEntry(directory, older, [777, older - 2 * RECENT_OPS]);
        await writeRingEntry(directory, newer, [778, newer + 2 * RECENT_OPS]);
        const others = shifted.filter(([, lsn]) => lsn !== older && lsn !== newer);
        expectPairs((await medium.claim(VOLUME, 5, applied + 10)).recent, others, 'with entries of other laps');
        console.log(`[${access}] ${applied} one-byte ops in batches of 4,000: ${applyMs.toFixed(0)} ms; a claim reading ${RECENT_OPS} op ids: ${claimMs.toFixed(1)} ms`);
      }));

      it("reads, stats and lists; times set by set-times ops are kept and carried by renames, others are OPFS's", withClusters(access, async (set) => {
        const cluster = set.fresh();
        const medium = await set.open(cluster);
        await medium.claim(VOLUME, 1, 0);
        const written = await timed(() => medium.apply(VOLUME, 1, numbered(1, [write('/d/b', 0, 'bee', 77), write('/d/a', 0, 'hello world'), { type: 'mkdir', path: '/d/c' }])));
        await medium.apply(VOLUME, 1, numbered(4, [{ type: 'setTimes', path: '/d/a', atimeMs: 10, mtimeMs: 20 }]));
        expect(await medium.list(VOLUME, '/d')).to.deep.equal([{ name: 'a', kind: 'file', mode: 0o644 }, { name: 'b', kind: 'file', mode: 0o644 }, { name: 'c', kind: 'directory', mode: 0o755 }]);
        expect(await medium.list(VOLUME, '/')).to.deep.equal([{ name: 'd', kind: 'directory', mode: 0o755 }]);
        expect(await medium.list(VOLUME, '/d/a')).to.equal(undefined);
        expect(text(await medium.read(VOLUME, '/d/a', 6, 100))).to.equal('world');
        expect(await medium.read(VOLUME, '/d/c', 0, Infinity)).to.equal(undefined);
        expect(await medium.stat(VOLUME, '/nope')).to.equal(undefined);
        const plain = await medium.stat(VOLUME, '/d/c');
        expect(plain).to.deep.equal({ kind: 'directory', size: 0, mode: 0o755, atimeMs: 0, mtimeMs: 0 });
        // A write's mtimeMs is not kept: the file's times are its lastModified, when the write reached OPFS.
        const bee = await medium.stat(VOLUME, '/d/b');
        expectWithin(bee?.mtimeMs, written, "/d/b's mtime");
        expect(bee?.atimeMs).to.equal(bee?.mtimeMs);
        await medium.apply(VOLUME, 1, numbered(5, [{ type: 'rename', path: '/d', target: '/e' }]));
        expect(await medium.stat(VOLUME, '/e/a')).to.deep.equal({ kind: 'file', size: 11, mode: 0o644, atimeMs: 10, mtimeMs: 20 });
        expect(await medium.stat(VOLUME, '/e/b'), 'a renamed file keeps its lastModified').to.deep.equal(bee);
        // A write after set-times: the atime stays, the mtime is the write's.
        const rewritten = await timed(() => medium.apply(VOLUME, 1, numbered(6, [write('/e/a', 0, 'H', 30)])));
        const changed = await medium.stat(VOLUME, '/e/a');
        expect(changed?.atimeMs).to.equal(10);
        expectWithin(changed?.mtimeMs, rewritten, "/e/a's mtime after a write");
        await medium.apply(VOLUME, 1, numbered(7, [{ type: 'unlink', path: '/e/a' }, write('/e/a', 0, 'new')]));
        const fresh = await medium.stat(VOLUME, '/e/a');
        expect(fresh?.atimeMs, 'a new file at an unlinked path has its own times').to.not.equal(10);
        expect(await storedTimes(await clusterDirectory(cluster)), 'the state keeps no times for written files').to.deep.equal({});
      }));

      it('drops the times an earlier version kept for written files from a state it reads, and keeps set-times ones', withClusters(access, async (set) => {
        const cluster = set.fresh();
        const first = await set.open(cluster);
        await first.claim(VOLUME, 1, 0);
        await first.apply(VOLUME, 1, numbered(1, [write('/w', 0, 'w'), write('/s', 0, 's'), write('/t', 0, 't')]));
        first.close();
        // What the earlier version wrote: a write's mtime alone; set-times' both (and a later write's mtime over it).
        const directory = await clusterDirectory(cluster);
        const legacy = { '/w': { mtimeMs: 111 }, '/s': { atimeMs: 5, mtimeMs: 6 }, '/t': { atimeMs: 7, mtimeMs: 222 } };
        const newest = await newestSlot(directory);
        await retryBusy(() => writeSlot(directory, newest.name === 'a' ? 'b' : 'a', newest.sequence + 1, { ...newest.state, times: legacy }));
        const second = await set.open(cluster);
        expect(await second.stat(VOLUME, '/s')).to.include({ atimeMs: 5, mtimeMs: 6 });
        expect(await second.stat(VOLUME, '/t')).to.include({ atimeMs: 7, mtimeMs: 222 });
        expect((await second.stat(VOLUME, '/w'))?.mtimeMs).to.not.equal(111);
        await second.apply(VOLUME, 1, numbered(4, [write('/u', 0, 'u')]));
        expect(await storedTimes(directory)).to.deep.equal({ '/s': { atimeMs: 5, mtimeMs: 6 }, '/t': { atimeMs: 7, mtimeMs: 222 } });
      }));
    });
  }

  describe('adapter, sync access handles only', () => {
    it('waits for a file another context holds, and gives up with a transient MediumError after ~2 s', withClusters('sync', async (set) => {
      const cluster = set.fresh();
      const medium = await set.open(cluster);
      await medium.claim(VOLUME, 1, 0);
      await medium.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'abc')]));
      const handle = await (await (await clusterDirectory(cluster)).getDirectoryHandle(`v${VOLUME}`)).getFileHandle('f');
      // A writable open in the page keeps the worker from taking a sync access handle on the file.
      let writable = await writableWhenFree(handle);
      const applying = medium.apply(VOLUME, 1, numbered(2, [write('/f', 1, 'X')]));
      await sleep(200);
      await writable.abort();
      await applying;
      expect(text(await medium.read(VOLUME, '/f', 0, Infinity))).to.equal('aXc');
      writable = await writableWhenFree(handle);
      const started = performance.now();
      const error = await rejection(medium.apply(VOLUME, 1, numbered(3, [write('/f', 0, 'Y')])));
      const waited = performance.now() - started;
      await writable.abort();
      expect(error).to.be.instanceOf(MediumError);
      expect(error).to.include({ code: 'EIO', permanent: false });
      expect((error as MediumError).data).to.include({ busy: true });
      expect(waited).to.be.within(1500, 4000);
      expect(await medium.state(VOLUME)).to.include({ applied: 2 });
    }));

    it('reads a file while batches write it through writables: every read succeeds (a read that meets a write is taken again)', withClusters('sync', async (set) => {
      const cluster = set.fresh();
      const [a, b] = [await set.open(cluster, 'writable'), await set.open(cluster)];
      await a.claim(VOLUME, 1, 0);
      let lsn = 1;
      let writing = true;
      const writes = (async () => {
        for (let round = 0; round < 40; round += 1) {
          await a.apply(VOLUME, 1, numbered(lsn, Array.from({ length: 8 }, (_, i) => write('/hot', (round * 8 + i) * 65536, noise(65536, round)))));
          lsn += 8;
        }
        writing = false;
      })();
      let reads = 0;
      const failures: string[] = [];
      while (writing) {
        await b.read(VOLUME, '/hot', 0, Infinity).then(() => reads++, (error: Error) => failures.push(`${error.name}: ${error.message}`));
      }
      await writes;
      expect(failures, 'reads that failed').to.deep.equal([]);
      expect(reads).to.be.above(5);
    }));

    it('keeps a busy volume\'s files open between batches, and lets them go soon after the last one', withClusters('sync', async (set) => {
      const cluster = set.fresh();
      const [a, b] = [await set.open(cluster), await set.open(cluster)];
      await a.claim(VOLUME, 1, 0);
      await a.apply(VOLUME, 1, numbered(1, [write('/f', 0, 'abc')]));
      const directory = await clusterDirectory(cluster);
      const file = await (await directory.getDirectoryHandle(`v${VOLUME}`)).getFileHandle('f');
      // Just after the batch, the file and the state slots are still open in A's worker...
      const busy = await rejection(file.createWritable({ keepExistingData: true }));
      expect((busy as Error).name).to.equal('NoModificationAllowedError');
      const slot = await directory.getFileHandle(`v${VOLUME}.state.a`);
      expect((await rejection(slot.createWritable({ keepExistingData: true })) as Error).name).to.equal('NoModificationAllowedError');
      // ...yet readable, and a claim from another worker gets through once A lets them go.
      expect(text(await b.read(VOLUME, '/f', 0, Infinity))).to.equal('abc');
      const started = performance.now();
      expect(await b.claim(VOLUME, 2, 1)).to.include({ epoch: 2, applied: 1 });
      const waited = performance.now() - started;
      expect(waited).to.be.below(1000);
      const refused = await rejection(a.apply(VOLUME, 1, numbered(2, [write('/f', 0, 'zombie')])));
      expect(refused).to.be.instanceOf(FencedError);
      await b.apply(VOLUME, 2, numbered(2, [write('/f', 3, 'def')]));
      expect(text(await a.read(VOLUME, '/f', 0, Infinity))).to.equal('abcdef');
      const writable = await writableWhenFree(file);
      await writable.abort();
    }));

    it('after a worker dies mid-apply (a crashed tab), the next owner claims, replays the batch and gets every file', withClusters('sync', async (set) => {
      const cluster = set.fresh();
      const [a, b] = [await set.open(cluster), await set.open(cluster)];
      await a.claim(VOLUME, 1, 0);
      const batch = numbered(1, Array.from({ length: 32 }, (_, i) => write(`/f${i}`, 0, noise(MiB / 2, i + 1))));
      const dying = a.apply(VOLUME, 1, batch);
      await lockHeld(lockName(cluster, VOLUME));
      await sleep(5);
      a.close();
      expect(await rejection(dying)).to.include({ code: 'EIO', permanent: true });
      const claimed = await b.claim(VOLUME, 2, batch.length);
      await b.apply(VOLUME, 2, batch.slice(claimed.applied));
      for (const { op } of batch) {
        if (op.type === 'write') expect(sameBytes(await b.read(VOLUME, op.path, 0, Infinity), op.data), op.path).to.equal(true);
      }
      expect(await b.state(VOLUME)).to.include({ epoch: 2, applied: batch.length });
    }));

    it('a directory rename cut short by a dying worker: after the next claim every file is at its source or every file at its target, and replay finishes it', withClusters('sync', async (set) => {
      const files = Array.from({ length: 300 }, (_, i) => write(`/d/s${i % 3}/f${i}`, 0, `file ${i}`));
      const setup = numbered(1, [...files, write('/e/old', 0, 'replaced')]);
      const rename = numbered(setup.length + 1, [{ type: 'rename', path: '/d', target: '/e' }]);
      const prepare = async () => {
        const cluster = set.fresh();
        const [a, b] = [await set.open(cluster), await set.open(cluster)];
        await a.claim(VOLUME, 1, 0);
        await a.apply(VOLUME, 1, setup);
        return { cluster, a, b };
      };
      // How long a whole rename takes, to kill the next ones at points through it.
      const timed = await prepare();
      const started = performance.now();
      await timed.a.apply(VOLUME, 1, rename);
      const wholeMs = performance.now() - started;
      const outcomes: string[] = [];
      for (const fraction of [0, 0.2, 0.4, 0.6, 0.8, 0.95]) {
        const { cluster, a, b } = await prepare();
        const renaming = a.apply(VOLUME, 1, rename).catch(() => undefined);
        await lockHeld(lockName(cluster, VOLUME));
        await sleep(wholeMs * fraction);
        a.close();
        await renaming;
        const marked = (await newestSlot(await clusterDirectory(cluster))).state.pending !== undefined;
        await b.claim(VOLUME, 2, setup.length);
        const [source, target] = [await names(b, '/d'), await names(b, '/e')];
        const done = source === undefined && (await fileCount(b, '/e')) === files.length;
        // Not started, or stopped after clearing the target (which the replay clears anyway).
        const notMoved = (await fileCount(b, '/d')) === files.length && (target === undefined || sameList(target, ['old']));
        expect(done || notMoved, `killed at ${fraction}: /d ${String(source)}, /e ${String(target)}`).to.equal(true);
        outcomes.push(marked ? 'cut mid-move, finished by the claim' : done ? 'finished' : target === undefined ? 'target cleared' : 'not started');
        await b.apply(VOLUME, 2, rename);
        for (const [i, op] of files.entries()) {
          const moved = `/e/s${i % 3}/f${i}`;
          expect(text(await b.read(VOLUME, moved, 0, Infinity)), moved).to.equal(op.type === 'write' ? text(op.data) : '');
        }
        expect(await b.stat(VOLUME, '/d')).to.equal(undefined);
        expect(await b.stat(VOLUME, '/e/old')).to.equal(undefined);
      }
      console.log(`directory rename of 300 files (${wholeMs.toFixed(0)} ms whole), worker killed at 0-95 %: ${outcomes.join('; ')}`);
    }));

    it('finishes a directory rename marked as under way before the next claim or apply does anything else', withClusters('sync', async (set) => {
      for (const next of ['claim', 'apply'] as const) {
        const cluster = set.fresh();
        const first = await set.open(cluster);
        await first.claim(VOLUME, 1, 0);
        await first.apply(VOLUME, 1, numbered(1, Array.from({ length: 6 }, (_, i) => write(`/d/x/f${i}`, 0, `file ${i}`))));
        first.close();
        // What a worker killed part-way through `rename /d /e` leaves: the marker, and some files moved.
        const directory = await clusterDirectory(cluster);
        const volume = await directory.getDirectoryHandle(`v${VOLUME}`);
        const source = await (await volume.getDirectoryHandle('d')).getDirectoryHandle('x');
        const target = await (await volume.getDirectoryHandle('e', { create: true })).getDirectoryHandle('x', { create: true });
        for (const name of ['f0', 'f1']) await ((await source.getFileHandle(name)) as MovableFile).move(target, name);
        const newest = await newestSlot(directory);
        await writeSlot(directory, newest.name === 'a' ? 'b' : 'a', newest.sequence + 1, { ...newest.state, pending: { from: '/d', to: '/e' } });
        const second = await set.open(cluster);
        if (next === 'claim') await second.claim(VOLUME, 2, 6);
        else await second.apply(VOLUME, 1, []);
        expect(await second.stat(VOLUME, '/d'), next).to.equal(undefined);
        for (let i = 0; i < 6; i += 1) expect(text(await second.read(VOLUME, `/e/x/f${i}`, 0, Infinity)), `${next}: f${i}`).to.equal(`file ${i}`);
        expect((await newestSlot(directory)).state, next).to.not.have.property('pending');
      }
    }));

    // Every batch rewrites the whole state, so a state that grew with the files written made each
    // batch cost more the more files the volume had had. The state logic is the same on both
    // file-access paths; the faster one is enough.
    it('keeps the state small however many files are written: only set-times ops store times in it', withClusters('sync', async (set) => {
      const cluster = set.fresh();
      const medium = await set.open(cluster);
      const directory = await clusterDirectory(cluster);
      await medium.claim(VOLUME, 1, 0);
      await medium.apply(VOLUME, 1, numbered(1, [write('/kept', 0, 'k')]));
      await medium.apply(VOLUME, 1, numbered(2, [{ type: 'setTimes', path: '/kept', atimeMs: 10, mtimeMs: 20 }]));
      const [files, perBatch] = [3_000, 500];
      let lsn = 3;
      const started = performance.now();
      for (let first = 0; first < files; first += perBatch) {
        // Each write carries an mtime, as the fs layer's do: an earlier worker kept every one in the state.
        const ops = Array.from({ length: perBatch }, (_, i) => write(`/many/${Math.floor((first + i) / 100)}/f${first + i}`, 0, `${first + i}`, 1e12 + first + i));
        await medium.apply(VOLUME, 1, numbered(lsn, ops));
        lsn += ops.length;
        const { state, bodyBytes } = await newestSlot(directory);
        const times = Object.keys(state.times as object);
        expect(times.length, `paths with stored times after ${first + perBatch} files`).to.equal(1);
        expect(times).to.deep.equal(['/kept']);
        expect(state.meta ?? {}, 'no mode or link stored for a written file').to.deep.equal({});
        // The rest of the state is its epochs and at most 512 op ids (small numbers here).
        expect(bodyBytes, `the encoded state after ${first + perBatch} files`).to.be.below(8 * 1024);
      }
      const elapsed = performance.now() - started;
      for (const slot of ['a', 'b']) {
        expect((await (await directory.getFileHandle(`v${VOLUME}.state.${slot}`)).getFile()).size, `slot ${slot}`).to.equal(64 * 1024);
      }
      expect(await fileCount(medium, '/many')).to.equal(files);
      expect(await medium.stat(VOLUME, '/kept')).to.include({ atimeMs: 10, mtimeMs: 20 });
      expect((await medium.stat(VOLUME, '/many/29/f2999'))?.mtimeMs).to.not.equal(1e12 + 2999);
      console.log(`${files} files written in batches of ${perBatch}: ${elapsed.toFixed(0)} ms`);
    }));

    it('measures small applies (rough timings in the log)', withClusters('sync', async (set) => {
      for (const access of ['sync', 'writable'] as const) {
        const medium = await set.open(undefined, access);
        await medium.claim(VOLUME, 1, 0);
        const times: number[] = [];
        for (let lsn = 1; lsn <= 60; lsn += 1) {
          const started = performance.now();
          await medium.apply(VOLUME, 1, numbered(lsn, [write('/log', (lsn - 1) * 4096, noise(4096, lsn))]));
          times.push(performance.now() - started);
        }
        const batch = numbered(61, Array.from({ length: 64 }, (_, i) => write('/log', (60 + i) * 4096, noise(4096, i))));
        const started = performance.now();
        await medium.apply(VOLUME, 1, batch);
        const batchMs = performance.now() - started;
        times.sort((x, y) => x - y);
        console.log(`[${access}] apply of one 4 KiB write: median ${times[30]?.toFixed(2)} ms, max ${times.at(-1)?.toFixed(2)} ms; 64 x 4 KiB coalesced: ${batchMs.toFixed(2)} ms`);
        expect(await medium.state(VOLUME)).to.include({ applied: 124 });
      }
    }));
  });
});

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((name, i) => name === b[i]);
}

/** The names in the directory `path`; undefined when there is none. */
async function names(medium: OpfsMedium, path: string): Promise<string[] | undefined> {
  return (await medium.list(VOLUME, path))?.map((entry) => entry.name);
}

/** Files under the directory `path`, at any depth. */
async function fileCount(medium: OpfsMedium, path: string): Promise<number> {
  let count = 0;
  for (const { name, kind } of (await medium.list(VOLUME, path)) ?? []) count += kind === 'file' ? 1 : await fileCount(medium, `${path}/${name}`);
  return count;
}
