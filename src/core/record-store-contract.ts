// The contract every RecordStore and StoreDirectory implementation keeps (./ports.ts): keys,
// order, replacement, all-or-nothing puts, range deletes, and the directory of every node's
// stores. Framework-free, so that the same cases run under node:test against the simulator's
// stores and in a browser against IndexedDB.
import type { NodeId, RecordStore, StoreDirectory, StoredRecord } from './ports.js';

/** A node's fresh, empty stores, beside another node's, as one origin holds them. */
export interface StoresUnderTest {
  readonly self: NodeId;
  readonly journal: RecordStore;
  readonly mirror: RecordStore;
  readonly directory: StoreDirectory;
  /** Stores of another node, to test the directory. */
  readonly other: { readonly node: NodeId; readonly journal: RecordStore };
  /**
   * A record this implementation refuses in a put, part-way through the transaction (IndexedDB:
   * a key it cannot hold). Absent when it refuses none: then the all-or-nothing case can only
   * show that a whole put arrives whole.
   */
  readonly refused?: StoredRecord;
}

export interface RecordStoreCase {
  readonly name: string;
  run(make: () => Promise<StoresUnderTest>): Promise<void>;
}

/** Volumes other than 0, so that an implementation that ignores the volume shows it. */
const VOLUME = 3;
const OTHER_VOLUME = 10;

/** Bigger than one IndexedDB value may be (60 KiB): several parts. */
const LARGE = 200 * 1024;

export function recordStoreContract(): RecordStoreCase[] {
  return [...storeCases, ...sizeCases, ...directoryCases];
}

// ---------------------------------------------------------------------------------------------
// One store

const storeCases: RecordStoreCase[] = [
  {
    name: 'put then list returns every record in (volume, lsn) order, with its epoch and a byte-identical frame',
    async run(make) {
      const { journal } = await make();
      // Numerically, 9 < 10 < 100 and volume 3 < 10: an order by text would differ.
      const records = [
        record(OTHER_VOLUME, 1, 2, 40), record(VOLUME, 100, 1, 7), record(VOLUME, 9, 1, 0),
        record(0, 5, 3, 300), record(VOLUME, 10, 2, 1), record(VOLUME, 2 ** 40, 9, 12),
      ];
      await journal.put(records.slice(0, 3));
      await journal.put(records.slice(3));
      checkRecords(await journal.list(), sorted(records), 'list()');
    },
  },
  {
    name: "list(volume) returns only that volume's records, in LSN order, and none for a volume without records",
    async run(make) {
      const { journal } = await make();
      const records = [record(VOLUME + 1, 1), record(VOLUME, 12), record(VOLUME - 1, 2), record(VOLUME, 2), record(OTHER_VOLUME, 1)];
      await journal.put(records);
      checkRecords(await journal.list(VOLUME), [record(VOLUME, 2), record(VOLUME, 12)], `list(${VOLUME})`);
      checkRecords(await journal.list(OTHER_VOLUME), [record(OTHER_VOLUME, 1)], `list(${OTHER_VOLUME})`);
      checkRecords(await journal.list(VOLUME + 2), [], `list(${VOLUME + 2})`);
    },
  },
  {
    name: 'list(volume, from) returns only the records from that LSN on, and every part of a large one',
    async run(make) {
      const { journal } = await make();
      const records = [record(VOLUME, 3), record(VOLUME, 5, 1, LARGE), record(VOLUME, 6), record(VOLUME, 2 ** 40), record(OTHER_VOLUME, 9)];
      await journal.put(records);
      checkRecords(await journal.list(VOLUME, 5), records.slice(1, 4), `list(${VOLUME}, 5)`);
      checkRecords(await journal.list(VOLUME, 4), records.slice(1, 4), `list(${VOLUME}, 4)`);
      checkRecords(await journal.list(VOLUME, 1), records.slice(0, 4), `list(${VOLUME}, 1)`);
      checkRecords(await journal.list(VOLUME, 2 ** 40 + 1), [], `list(${VOLUME}, 2^40 + 1)`);
      checkRecords(await journal.list(OTHER_VOLUME, 10), [], `list(${OTHER_VOLUME}, 10)`);
    },
  },
  {
    name: 'put replaces a record with the same key, epoch and frame, and leaves the others as they were',
    async run(make) {
      const { journal } = await make();
      const old = (volume: number, lsn: number) => record(volume, lsn, 1, 10);
      const replaced = (volume: number, lsn: number) => record(volume, lsn, 2, 30, 'replaced');
      await journal.put([1, 2, 3, 4].map((lsn) => old(VOLUME, lsn)).concat(old(VOLUME + 1, 1), old(VOLUME + 1, 2)));
      // Keys apart, and next to others' (VOLUME/4 then VOLUME+1/5): only the keys put change.
      await journal.put([replaced(VOLUME, 4), replaced(VOLUME + 1, 5), replaced(VOLUME, 2)]);
      const expected = [
        old(VOLUME, 1), replaced(VOLUME, 2), old(VOLUME, 3), replaced(VOLUME, 4), old(VOLUME + 1, 1), old(VOLUME + 1, 2), replaced(VOLUME + 1, 5),
      ];
      checkRecords(await journal.list(), expected, 'after replacing records');
      await journal.put([record(VOLUME, 3, 3, LARGE, 'first'), record(VOLUME, 3, 4, 6, 'second')]);
      expected[2] = record(VOLUME, 3, 4, 6, 'second');
      checkRecords(await journal.list(), expected, 'after one put holding the same key twice (the later one wins)');
    },
  },
  {
    name: 'a put of many records is all or nothing: one that fails part-way leaves the store as it was',
    async run(make) {
      const { journal, refused } = await make();
      const many = Array.from({ length: 200 }, (_, i) => record(VOLUME, i + 1, 1, 100 + i));
      await journal.put(many);
      checkRecords(await journal.list(), many, 'after a put of 200 records');
      if (!refused) return; // this store cannot be made to fail part-way through a put
      const failing = [record(VOLUME, 1, 2, 9, 'replacement'), record(VOLUME, 500), record(OTHER_VOLUME, 1), refused];
      const error = await rejects(journal.put(failing), 'a put holding a record the store refuses');
      check(['EIO', 'ENOSPC'].includes(String(codeOf(error))), `the failed put threw ${String(error)}, not a MediumError`);
      checkRecords(await journal.list(), many, 'after the failed put');
    },
  },
  {
    name: 'deleteRange deletes exactly the records of that volume with from <= lsn <= to',
    async run(make) {
      const { journal } = await make();
      const lsns = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      await journal.put([...lsns.map((lsn) => record(VOLUME, lsn)), ...lsns.map((lsn) => record(OTHER_VOLUME, lsn))]);
      await journal.deleteRange(VOLUME, 4, 7);
      const left = (volume: number, kept: number[]) => kept.map((lsn) => record(volume, lsn));
      checkRecords(await journal.list(), [...left(VOLUME, [1, 2, 3, 8, 9, 10]), ...left(OTHER_VOLUME, lsns)], 'after deleteRange(4, 7)');
      await journal.deleteRange(VOLUME, 11, 20);
      await journal.deleteRange(VOLUME, 9, 8);
      await journal.deleteRange(VOLUME + 1, 1, 10);
      checkRecords(await journal.list(), [...left(VOLUME, [1, 2, 3, 8, 9, 10]), ...left(OTHER_VOLUME, lsns)], 'after deleting empty ranges');
      await journal.deleteRange(VOLUME, 8, 8);
      await journal.deleteRange(VOLUME, 1, Number.MAX_SAFE_INTEGER);
      checkRecords(await journal.list(), left(OTHER_VOLUME, lsns), 'after deleting the rest of the volume');
    },
  },
  {
    name: 'the journal and the mirror are separate stores',
    async run(make) {
      const { journal, mirror } = await make();
      await journal.put([record(VOLUME, 1, 1, 8, 'journal')]);
      checkRecords(await mirror.list(), [], 'the mirror after a put into the journal');
      await mirror.put([record(VOLUME, 1, 1, 9, 'mirror'), record(VOLUME, 2)]);
      checkRecords(await journal.list(), [record(VOLUME, 1, 1, 8, 'journal')], 'the journal after a put into the mirror');
      await mirror.deleteRange(VOLUME, 1, 2);
      checkRecords(await journal.list(), [record(VOLUME, 1, 1, 8, 'journal')], 'the journal after a deleteRange of the mirror');
      checkRecords(await mirror.list(), [], 'the mirror after its deleteRange');
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Frames of every size

const sizeCases: RecordStoreCase[] = [
  {
    name: 'large frames (200 KiB) round-trip beside small ones, whole and byte for byte',
    async run(make) {
      const { journal, mirror } = await make();
      const lengths = [LARGE, 61_439, 61_440, 61_441, 122_880, 122_881, 1, LARGE + 7];
      const records = lengths.map((length, i) => record(VOLUME, i + 1, 1, length));
      await journal.put(records);
      await mirror.put(records.slice(0, 2));
      checkRecords(await journal.list(), records, 'the journal');
      checkRecords(await journal.list(VOLUME), records, `the journal's volume ${VOLUME}`);
      checkRecords(await mirror.list(), records.slice(0, 2), 'the mirror');
    },
  },
  {
    name: 'a frame replaced by a shorter one leaves no stale parts: the record reads back as the shorter frame',
    async run(make) {
      const { journal } = await make();
      const neighbours = [record(VOLUME, 1, 1, LARGE, 'before'), record(VOLUME, 3, 1, LARGE, 'after')];
      await journal.put([...neighbours, record(VOLUME, 2, 1, LARGE, 'long')]);
      for (const length of [70_000, 61_440, 10, 0, LARGE]) {
        const replacement = record(VOLUME, 2, 2, length, `length ${length}`);
        await journal.put([replacement]);
        checkRecords(await journal.list(), [neighbours[0]!, replacement, neighbours[1]!], `replaced by a frame of ${length} bytes`);
      }
      await journal.deleteRange(VOLUME, 2, 2);
      checkRecords(await journal.list(), neighbours, 'after deleting the replaced record');
    },
  },
];

// ---------------------------------------------------------------------------------------------
// The directory of every node's stores

const directoryCases: RecordStoreCase[] = [
  {
    name: "the directory lists this node and the other node, and reads the other node's journal",
    async run(make) {
      const { self, journal, mirror, directory, other } = await make();
      await journal.put([record(VOLUME, 1, 1, 10, 'ours')]);
      await mirror.put([record(VOLUME, 7, 1, 10, 'our mirror')]);
      const theirs = [record(VOLUME, 1, 3, LARGE, 'theirs'), record(OTHER_VOLUME, 4, 3, 20, 'theirs')];
      await other.journal.put(theirs);
      const nodes = await directory.nodes();
      check(nodes.includes(self) && nodes.includes(other.node), `the directory lists ${JSON.stringify(nodes)}, not ${self} and ${other.node}`);
      checkRecords(await directory.journal(other.node).list(), theirs, "the other node's journal, read through the directory");
      checkRecords(await directory.journal(other.node).list(OTHER_VOLUME), theirs.slice(1), `its volume ${OTHER_VOLUME}`);
      checkRecords(await directory.mirror(other.node).list(), [], "the other node's mirror");
      checkRecords(await directory.journal(self).list(), [record(VOLUME, 1, 1, 10, 'ours')], 'our journal, read through the directory');
      checkRecords(await directory.mirror(self).list(), [record(VOLUME, 7, 1, 10, 'our mirror')], 'our mirror, read through the directory');
      await directory.journal(other.node).deleteRange(VOLUME, 1, 1);
      checkRecords(await other.journal.list(), theirs.slice(1), "the other node's journal after a deleteRange through the directory");
    },
  },
  {
    name: 'reading a node that has no stores gives empty lists, and does not make it appear in the directory',
    async run(make) {
      const { directory } = await make();
      const nobody = 'a node that never ran';
      checkRecords(await directory.journal(nobody).list(), [], 'its journal');
      checkRecords(await directory.mirror(nobody).list(VOLUME), [], `its mirror's volume ${VOLUME}`);
      await directory.journal(nobody).deleteRange(VOLUME, 1, 10);
      checkRecords(await directory.mirror(nobody).list(), [], 'its mirror, after a deleteRange of its journal');
      const nodes = await directory.nodes();
      check(!nodes.includes(nobody), `reading a node's stores made it appear in the directory: ${JSON.stringify(nodes)}`);
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A record whose frame is `length` bytes determined by its key, epoch and `tag`: two records
 * that differ in any of them differ in their frames, and every byte of a frame depends on its
 * position (a part stored in the wrong place, or dropped, shows).
 */
function record(volume: number, lsn: number, epoch = 1, length = 16, tag = ''): StoredRecord {
  let seed = hash(`${volume}:${lsn}:${epoch}:${tag}`);
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0; // a linear congruential generator
    frame[i] = seed >>> 24;
  }
  return { volume, lsn, epoch, frame };
}

function hash(text: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619) >>> 0;
  return h;
}

function sorted(records: readonly StoredRecord[]): StoredRecord[] {
  return [...records].sort((a, b) => a.volume - b.volume || a.lsn - b.lsn);
}

function checkRecords(actual: readonly StoredRecord[], expected: readonly StoredRecord[], when: string): void {
  const [got, want] = [actual.map(show).join(', '), expected.map(show).join(', ')];
  check(got === want, `${when}: the store holds [${got}], not [${want}]`);
  actual.forEach((r, i) => {
    check(sameBytes(r.frame, expected[i]!.frame), `${when}: the frame of ${show(r)} is not the one put`);
  });
}

/** A record's key, epoch and frame length, as text. */
function show({ volume, lsn, epoch, frame }: StoredRecord): string {
  return `${volume}/${lsn}@${epoch} (${frame.length} B)`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** The error `promise` rejects with; throws when it resolves. */
async function rejects(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`${what} succeeded; it should have failed`);
}

/** The error's `code`: compared instead of its class, which does not survive a worker boundary. */
function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}
