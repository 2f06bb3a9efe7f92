// The journal and mirror in IndexedDB: the RecordStore contract (src/core/record-store-contract.ts)
// against real Chromium IndexedDB, then what only this adapter can show — the values it writes,
// the durability it asks for, the databases it does not make, and its errors.
import { expect } from 'chai';
import { deleteDB, openDB } from 'idb';
import { databaseName, IdbStores, PART_BYTES, type Durability, type PartKey, type StoresSchema } from '../../src/browser/idb-stores.js';
import type { StoredRecord } from '../../src/core/ports.js';
import { recordStoreContract, type StoresUnderTest } from '../../src/core/record-store-contract.js';
import { MediumError } from '../../src/errors.js';

const VOLUME = 3;
const LARGE = 200 * 1024;

let clusters: string[] = [];
let opened: IdbStores[] = [];

/** A cluster name no other test uses, so that no test sees another's databases. */
function freshCluster(): string {
  const cluster = `idb-stores-test-${clusters.length}-${Math.random().toString(36).slice(2)}`;
  clusters.push(cluster);
  return cluster;
}

async function open(cluster: string, node: string, durability?: Durability): Promise<IdbStores> {
  const stores = await IdbStores.open(durability ? { cluster, node, durability } : { cluster, node });
  opened.push(stores);
  return stores;
}

async function databaseNames(): Promise<string[]> {
  return (await indexedDB.databases()).flatMap(({ name }) => (name === undefined ? [] : [name])).sort();
}

afterEach(async () => {
  for (const stores of opened) stores.close();
  const prefixes = clusters.map((cluster) => databaseName(cluster, ''));
  for (const name of await databaseNames()) {
    if (prefixes.some((prefix) => name.startsWith(prefix))) await deleteDB(name);
  }
  [clusters, opened] = [[], []];
});

/** Node n1's stores beside n2's, in a cluster of their own. */
async function idbStores(): Promise<StoresUnderTest> {
  const cluster = freshCluster();
  const [self, other] = [await open(cluster, 'n1'), await open(cluster, 'n2')];
  return {
    self: 'n1',
    journal: self.journal,
    mirror: self.mirror,
    directory: self.directory,
    other: { node: 'n2', journal: other.journal },
    refused: { volume: VOLUME, lsn: Number.NaN, epoch: 1, frame: new Uint8Array(8) }, // NaN is no IndexedDB key
  };
}

function record(volume: number, lsn: number, length: number, fill = lsn): StoredRecord {
  return { volume, lsn, epoch: 1, frame: new Uint8Array(length).fill(fill) };
}

/** Every key and value of one of n1's object stores, read straight from its database. */
async function rawContents(cluster: string, kind: 'journal' | 'mirror') {
  const db = await openDB<StoresSchema>(databaseName(cluster, 'n1'));
  try {
    return { keys: await db.getAllKeys(kind), values: await db.getAll(kind) };
  } finally {
    db.close();
  }
}

/** The error `promise` rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('it succeeded; it should have failed');
}

function expectMediumError(error: unknown, code: 'EIO' | 'ENOSPC'): void {
  expect(error).to.be.instanceOf(MediumError);
  expect((error as MediumError).code).to.equal(code);
  expect((error as MediumError).permanent).to.equal(false);
}

/** Fails instead of waiting for ever when `promise` does not settle in time. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms));
  return Promise.race([promise, late]);
}

describe('IdbStores', () => {
  describe('the RecordStore contract', () => {
    for (const contractCase of recordStoreContract()) {
      it(contractCase.name, () => contractCase.run(idbStores));
    }
  });

  describe('values in IndexedDB', () => {
    it('holds at most 61,440 frame bytes and two numbers in each value, a frame over that in several parts', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      // A small frame that is a view into a 1 MiB buffer: only its own bytes may be stored.
      const view = new Uint8Array(1 << 20).fill(7).subarray(1000, 1100);
      await stores.journal.put([
        record(VOLUME, 1, LARGE), record(VOLUME, 2, 61_440), record(VOLUME, 3, 61_441), { volume: VOLUME, lsn: 4, epoch: 1, frame: view },
      ]);
      await stores.mirror.put([record(VOLUME, 1, LARGE)]);
      expect(PART_BYTES).to.equal(61_440);
      const partsOf = (keys: PartKey[]) => keys.map(([volume, lsn, part]) => `${volume}/${lsn}#${part}`);
      for (const kind of ['journal', 'mirror'] as const) {
        const { values } = await rawContents(cluster, kind);
        for (const value of values) {
          expect(Object.keys(value).sort()).to.deep.equal(['bytes', 'epoch', 'parts']);
          expect(value.bytes).to.be.instanceOf(ArrayBuffer);
          expect(value.bytes.byteLength).to.be.at.most(61_440);
        }
      }
      const journal = await rawContents(cluster, 'journal');
      expect(partsOf(journal.keys)).to.deep.equal(['3/1#0', '3/1#1', '3/1#2', '3/1#3', '3/2#0', '3/3#0', '3/3#1', '3/4#0']);
      expect(journal.values.map((value) => value.bytes.byteLength)).to.deep.equal([61_440, 61_440, 61_440, 20_480, 61_440, 61_440, 1, 100]);
      expect(partsOf((await rawContents(cluster, 'mirror')).keys)).to.deep.equal(['3/1#0', '3/1#1', '3/1#2', '3/1#3']);
    });

    it('reads a record replaced by a shorter one as the shorter one, and a range delete leaves none of its parts', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      await stores.journal.put([record(VOLUME, 1, LARGE), record(VOLUME, 2, LARGE), record(VOLUME, 3, 10)]);
      await stores.journal.put([record(VOLUME, 1, 10, 7), record(VOLUME, 2, PART_BYTES + 1, 8)]);
      // The put deletes nothing (a request less on the ack path): the longer versions' later parts
      // stay, marked by their part count, until the records are deleted.
      expect((await rawContents(cluster, 'journal')).keys).to.deep.equal([
        [3, 1, 0], [3, 1, 1], [3, 1, 2], [3, 1, 3], [3, 2, 0], [3, 2, 1], [3, 2, 2], [3, 2, 3], [3, 3, 0],
      ]);
      const listed = await stores.journal.list(VOLUME);
      expect(listed.map(({ lsn, frame }) => [lsn, frame.length, frame[0]])).to.deep.equal([[1, 10, 7], [2, PART_BYTES + 1, 8], [3, 10, 3]]);
      await stores.journal.deleteRange(VOLUME, 1, 2);
      expect((await rawContents(cluster, 'journal')).keys).to.deep.equal([[3, 3, 0]]);
    });

    it('skips a record with a part missing, in the middle or at the end, and lists its neighbours', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      await stores.journal.put([record(VOLUME, 1, 10), record(VOLUME, 2, 150_000), record(VOLUME, 3, 150_000), record(VOLUME, 4, 10)]);
      // Damage no put can cause (a put is one transaction), made straight in the database.
      const db = await openDB<StoresSchema>(databaseName(cluster, 'n1'));
      await db.delete('journal', [VOLUME, 2, 1]);
      await db.delete('journal', [VOLUME, 3, 2]);
      db.close();
      expect((await stores.journal.list()).map(({ lsn }) => lsn)).to.deep.equal([1, 4]);
    });

    it("gives the caller frames of its own: changing one put, or one listed, changes nothing stored", async () => {
      const stores = await open(freshCluster(), 'n1');
      const put = record(VOLUME, 1, 100, 5);
      await stores.journal.put([put]);
      put.frame.fill(0);
      const [listed] = await stores.journal.list();
      expect([...listed!.frame]).to.deep.equal(new Array(100).fill(5));
      listed!.frame.fill(0);
      expect([...(await stores.journal.list())[0]!.frame]).to.deep.equal(new Array(100).fill(5));
    });
  });

  describe('durability', () => {
    /** The durability of every readwrite transaction IndexedDB reports while `run` runs. */
    async function writeDurabilities(run: () => Promise<void>): Promise<string[]> {
      const transaction = IDBDatabase.prototype.transaction;
      const seen: string[] = [];
      IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
        const tx = transaction.apply(this, args);
        if (tx.mode === 'readwrite') seen.push(tx.durability);
        return tx;
      };
      try {
        await run();
      } finally {
        IDBDatabase.prototype.transaction = transaction;
      }
      return seen;
    }

    async function roundTrip(stores: IdbStores): Promise<void> {
      await stores.journal.put([record(VOLUME, 1, LARGE), record(VOLUME, 2, 10)]);
      await stores.mirror.put([record(VOLUME, 1, 10)]);
      await stores.journal.deleteRange(VOLUME, 1, 1);
      expect((await stores.journal.list()).map(({ lsn, frame }) => [lsn, frame.length])).to.deep.equal([[2, 10]]);
      expect((await stores.mirror.list()).map(({ lsn }) => lsn)).to.deep.equal([1]);
    }

    it('strict: every write transaction is strict, and records round-trip', async () => {
      const stores = await open(freshCluster(), 'n1', 'strict');
      expect(await writeDurabilities(() => roundTrip(stores))).to.deep.equal(['strict', 'strict', 'strict']);
    });

    it('relaxed by default', async () => {
      const stores = await open(freshCluster(), 'n1');
      expect(await writeDurabilities(() => roundTrip(stores))).to.deep.equal(['relaxed', 'relaxed', 'relaxed']);
    });
  });

  describe('the directory', () => {
    it('makes no database for a node that has none, and refuses a put into its stores', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      const before = await databaseNames();
      expect(await stores.directory.journal('ghost').list()).to.deep.equal([]);
      expect(await stores.directory.mirror('ghost').list(VOLUME)).to.deep.equal([]);
      await stores.directory.journal('ghost').deleteRange(VOLUME, 1, 10);
      const error = await rejection(stores.directory.mirror('ghost').put([record(VOLUME, 1, 10)]));
      expect(error).to.be.instanceOf(MediumError);
      expect(await databaseNames()).to.deep.equal(before);
      expect(before).to.include(databaseName(cluster, 'n1')).and.not.include(databaseName(cluster, 'ghost'));
      expect(await stores.directory.nodes()).to.deep.equal(['n1']);
    });

    it("does not hold up deleteNode with the connections it opened, and then reads the node as empty", async () => {
      const cluster = freshCluster();
      const [stores, dead] = [await open(cluster, 'n1'), await open(cluster, 'n2')];
      await dead.journal.put([record(VOLUME, 1, 10)]);
      dead.close();
      expect(await stores.directory.journal('n2').list()).to.have.length(1); // opens n2's database
      await within(5_000, IdbStores.deleteNode(cluster, 'n2'), 'deleteNode');
      expect(await stores.directory.nodes()).to.deep.equal(['n1']);
      expect(await stores.directory.journal('n2').list()).to.deep.equal([]);
      expect(await databaseNames()).not.to.include(databaseName(cluster, 'n2'));
    });

    it('keeps clusters apart, even one whose name holds ":node:"', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      await open(`${cluster}:node:x`, 'n2');
      clusters.push(`${cluster}:node:x`);
      expect(await stores.directory.nodes()).to.deep.equal(['n1']);
    });
  });

  describe('errors', () => {
    it('after close(), every call fails with a MediumError (EIO)', async () => {
      const cluster = freshCluster();
      const [stores] = [await open(cluster, 'n1'), await open(cluster, 'n2')];
      stores.close();
      for (const call of [
        () => stores.journal.put([record(VOLUME, 1, 10)]),
        () => stores.mirror.list(),
        () => stores.journal.deleteRange(VOLUME, 1, 2),
        () => stores.directory.journal('n2').list(),
      ]) {
        expectMediumError(await rejection(call()), 'EIO');
      }
    });

    it('when its database is deleted under it, the stores fail with a MediumError (EIO) and make no new one', async () => {
      const cluster = freshCluster();
      const stores = await open(cluster, 'n1');
      await stores.journal.put([record(VOLUME, 1, 10)]);
      await within(5_000, IdbStores.deleteNode(cluster, 'n1'), 'deleteNode');
      const error = await rejection(stores.journal.put([record(VOLUME, 2, 10)]));
      expectMediumError(error, 'EIO');
      expect((error as MediumError).message).to.match(/^journal of n1: put: InvalidStateError: /);
      expectMediumError(await rejection(stores.mirror.list()), 'EIO');
      expect(await databaseNames()).not.to.include(databaseName(cluster, 'n1'));
    });

    it('a put IndexedDB refuses part-way fails with a MediumError (EIO) naming the cause, and stores none of it', async () => {
      const stores = await open(freshCluster(), 'n1');
      const error = await rejection(stores.journal.put([record(VOLUME, 1, LARGE), { ...record(VOLUME, 2, 10), lsn: Number.NaN }]));
      expectMediumError(error, 'EIO');
      expect((error as MediumError).message).to.match(/^journal of n1: put: DataError: /);
      expect(await stores.journal.list()).to.deep.equal([]);
    });
  });
});
