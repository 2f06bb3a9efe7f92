// A node's journal and mirror in IndexedDB (with `idb`), and the directory through which any node
// of the cluster reads the stores every node left in this origin (takeover, recovery, tidying).
//
// Layout: one database per node, `tandemfs:<cluster>:node:<node>` (both names URI-encoded, so
// that no cluster's name is a prefix of another's), version 1, with two object stores, `journal`
// and `mirror`. Keys are [volume, lsn, part] (out of line); each value is one part of a record's
// frame, `{ epoch, parts, bytes }`, with at most PART_BYTES bytes.
//
// `idb` opens and deletes the databases (upgrades, blocked and closing connections); the reads
// and writes use the native API on its connection: they are on the ack path, and `idb`'s promise
// per request cost 0.05 ms of a 0.4 ms put (bench/write).
import { deleteDB, openDB, unwrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { NodeId, RecordStore, StoreDirectory, StoredRecord } from '../core/ports.js';
import { MediumError } from '../errors.js';

/** The schema version; `upgrade` below takes every older database up to it. */
const VERSION = 1;

/**
 * The most frame bytes one IndexedDB value holds. Chromium writes a value above about 65,510
 * bytes as a separate blob file, at half the speed (shared/ENVIRONMENT.md); a part and its two
 * numbers stay well below that.
 */
export const PART_BYTES = 61_440;

export type Durability = 'relaxed' | 'strict';

type Kind = 'journal' | 'mirror';

/** [volume, lsn, part]: the parts of a record sort together and in order, records in (volume, lsn) order. */
export type PartKey = [volume: number, lsn: number, part: number];

/** One part of a record. Every part carries the record's part count, so that a torn record shows. */
export interface Part {
  readonly epoch: number;
  readonly parts: number;
  readonly bytes: ArrayBuffer;
}

export interface StoresSchema extends DBSchema {
  journal: { key: PartKey; value: Part };
  mirror: { key: PartKey; value: Part };
}

type Database = IDBPDatabase<StoresSchema>;

/** The database of `node`'s stores in `cluster`. */
export function databaseName(cluster: string, node: NodeId): string {
  return `${clusterPrefix(cluster)}${encodeURIComponent(node)}`;
}

function clusterPrefix(cluster: string): string {
  return `tandemfs:${encodeURIComponent(cluster)}:node:`;
}

/** The node an encoded name denotes; none for a name this code cannot have made. */
function nodeOf(encoded: string): NodeId[] {
  try {
    return [decodeURIComponent(encoded)];
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// This node's stores, and the directory of every node's

export class IdbStores {
  readonly journal: RecordStore;
  readonly mirror: RecordStore;
  readonly directory: StoreDirectory;
  readonly #cluster: string;
  readonly #self: NodeId;
  readonly #durability: Durability;
  readonly #db: Database;
  /** Other nodes' databases, opened on first use; an entry leaves when its connection closes. */
  readonly #others = new Map<NodeId, Promise<Database | undefined>>();
  #closed = false;

  /** Opens (creating it if needed) the database of `node`'s journal and mirror. */
  static async open(options: { cluster: string; node: NodeId; durability?: Durability }): Promise<IdbStores> {
    const { cluster, node, durability = 'relaxed' } = options;
    const name = databaseName(cluster, node);
    try {
      const db: Database = await openDB<StoresSchema>(name, VERSION, {
        upgrade(db, oldVersion) {
          switch (oldVersion) {
            case 0:
              db.createObjectStore('journal');
              db.createObjectStore('mirror');
          }
        },
        // Someone deletes or upgrades our database: let them, and fail our calls from now on (EIO)
        // rather than block them for ever or write into a database that is going away.
        blocking: () => db.close(),
      });
      return new IdbStores(cluster, node, durability, db);
    } catch (error) {
      throw storeError(`opening ${name}`, error);
    }
  }

  /**
   * Deletes a node's database. Only for a dead node's (its liveness lock is free): a live node
   * gives its database up when asked, and would then lose its journal. Resolves once every
   * connection to it has closed (a hung tab's may not close until the tab goes).
   */
  static async deleteNode(cluster: string, node: NodeId): Promise<void> {
    const name = databaseName(cluster, node);
    try {
      await deleteDB(name);
    } catch (error) {
      throw storeError(`deleting ${name}`, error);
    }
  }

  private constructor(cluster: string, self: NodeId, durability: Durability, db: Database) {
    this.#cluster = cluster;
    this.#self = self;
    this.#durability = durability;
    this.#db = db;
    const own = async () => this.#db;
    this.journal = new IdbRecordStore(`journal of ${self}`, 'journal', own, durability);
    this.mirror = new IdbRecordStore(`mirror of ${self}`, 'mirror', own, durability);
    this.directory = {
      nodes: () => this.#nodes(),
      journal: (node) => (node === self ? this.journal : this.#otherStore(node, 'journal')),
      mirror: (node) => (node === self ? this.mirror : this.#otherStore(node, 'mirror')),
    };
  }

  /** Closes this node's database and every other node's this one opened. */
  close(): void {
    this.#closed = true;
    this.#db.close();
    for (const other of this.#others.values()) void other.then((db) => db?.close(), () => {});
    this.#others.clear();
  }

  async #nodes(): Promise<NodeId[]> {
    let databases: IDBDatabaseInfo[];
    try {
      databases = await indexedDB.databases();
    } catch (error) {
      throw storeError('listing the databases', error);
    }
    const prefix = clusterPrefix(this.#cluster);
    return databases.flatMap(({ name }) => (name?.startsWith(prefix) ? nodeOf(name.slice(prefix.length)) : []));
  }

  #otherStore(node: NodeId, kind: Kind): RecordStore {
    return new IdbRecordStore(`${kind} of ${node}`, kind, () => this.#other(node), this.#durability);
  }

  /** `node`'s database, opened once and shared; undefined while it has none. */
  #other(node: NodeId): Promise<Database | undefined> {
    if (this.#closed) return Promise.reject(new Error(`the stores of ${this.#self} are closed`));
    let opening = this.#others.get(node);
    if (!opening) {
      const forget = () => {
        if (this.#others.get(node) === opening) this.#others.delete(node);
      };
      opening = openExisting(databaseName(this.#cluster, node), forget);
      // A node with no database may make one later: ask again next time.
      opening.then((db) => {
        if (!db) forget();
      }, forget);
      this.#others.set(node, opening);
    }
    return opening;
  }
}

/**
 * Opens a database another node made, at whatever version it has; undefined, and nothing made,
 * when there is none. `onClosed` runs when the connection closes: we close it as soon as anyone
 * wants to delete or upgrade the database (tidying a dead node must not wait for our reads).
 */
async function openExisting(name: string, onClosed: () => void): Promise<Database | undefined> {
  let missing = false;
  try {
    const db: Database = await openDB<StoresSchema>(name, undefined, {
      // Opening with no version upgrades only a database that did not exist: abort, and none is made.
      upgrade(_db, _oldVersion, _newVersion, transaction) {
        missing = true;
        transaction.done.catch(() => {}); // the abort is the point; the open reports it
        transaction.abort();
      },
      blocking: () => {
        db.close();
        onClosed();
      },
      terminated: onClosed,
    });
    return db;
  } catch (error) {
    if (missing) return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// One record store

class IdbRecordStore implements RecordStore {
  readonly #label: string;
  readonly #kind: Kind;
  readonly #connect: () => Promise<Database | undefined>;
  readonly #durability: Durability;

  constructor(label: string, kind: Kind, connect: () => Promise<Database | undefined>, durability: Durability) {
    this.#label = label;
    this.#kind = kind;
    this.#connect = connect;
    this.#durability = durability;
  }

  async put(records: readonly StoredRecord[]): Promise<void> {
    if (records.length === 0) return;
    const db = await this.#database('put');
    if (!db) throw new MediumError(`${this.#label}: put: that node has no stores`, { permanent: true });
    await this.#transaction(db, 'put', 'readwrite', (store) => putRecords(store, records));
  }

  async list(volume?: number, from = -Infinity): Promise<StoredRecord[]> {
    const db = await this.#database('list');
    if (!db) return [];
    const range = volume === undefined ? null : IDBKeyRange.bound([volume, from, 0], [volume, Infinity, Infinity]);
    const [keys, parts] = await this.#transaction(db, 'list', 'readonly', (store) => [store.getAllKeys(range), store.getAll(range)]);
    return assemble(keys.result as PartKey[], parts.result as Part[]);
  }

  async deleteRange(volume: number, from: number, to: number): Promise<void> {
    if (from > to) return;
    const db = await this.#database('deleteRange');
    if (!db) return;
    await this.#transaction(db, 'deleteRange', 'readwrite', (store) => {
      store.delete(IDBKeyRange.bound([volume, from, 0], [volume, to, Infinity]));
    });
  }

  /** The database holding this store; undefined when there is none, or it lacks this store. */
  async #database(what: string): Promise<Database | undefined> {
    try {
      const db = await this.#connect();
      return db?.objectStoreNames.contains(this.#kind) ? db : undefined;
    } catch (error) {
      throw storeError(`${this.#label}: ${what}`, error);
    }
  }

  /**
   * Runs `work` as one transaction and resolves, with what `work` returned, once the transaction
   * has committed. `work` makes every request at once (a transaction with nothing left to do
   * commits); the requests' results are read after the commit.
   */
  async #transaction<T>(db: Database, what: string, mode: IDBTransactionMode, work: (store: IDBObjectStore) => T): Promise<T> {
    let tx: IDBTransaction | undefined;
    try {
      tx = unwrap(db).transaction(this.#kind, mode, { durability: this.#durability });
      const committed = commitOf(tx);
      try {
        const result = work(tx.objectStore(this.#kind));
        await committed;
        return result;
      } catch (error) {
        // A request refused as it was made (a key IndexedDB cannot hold): without the abort, the
        // requests made before it would commit alone.
        committed.catch(() => {});
        if (!tx.error) tryAbort(tx);
        throw error;
      }
    } catch (error) {
      throw storeError(`${this.#label}: ${what}`, error, tx);
    }
  }
}

/** Resolves when the transaction commits; rejects with its error when it aborts. */
function commitOf(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
}

function tryAbort(tx: IDBTransaction): void {
  try {
    tx.abort();
  } catch {
    // it finished (committed or aborted) meanwhile
  }
}

/**
 * Puts the records as their parts, the last of a key winning. Nothing is deleted first, which
 * would cost a request per put on the ack path: a longer version replaced by a shorter one keeps
 * its later parts, which `assemble` tells apart by their part count, until the record's range
 * is deleted (trimmed) — deletes always take every part of a record.
 */
function putRecords(store: IDBObjectStore, records: readonly StoredRecord[]): void {
  const latest = new Map(records.map((record) => [`${record.volume}/${record.lsn}`, record]));
  for (const { volume, lsn, epoch, frame } of latest.values()) {
    const parts = Math.max(1, Math.ceil(frame.length / PART_BYTES));
    for (let part = 0; part < parts; part++) {
      // A copy of exactly the part's bytes: a view would be stored with its whole buffer.
      const bytes = frame.slice(part * PART_BYTES, (part + 1) * PART_BYTES).buffer;
      store.put({ epoch, parts, bytes } satisfies Part, [volume, lsn, part] satisfies PartKey);
    }
  }
}

/**
 * Joins each record's parts, in key order. Its first part says how many it has: parts past that
 * count are left over from a longer version it replaced, and ignored. A record missing a part is
 * skipped as incomplete. That cannot lose an acked record: a put is one transaction, so a
 * record's parts are all stored or none are, and deletes take all of them. Only damage to the
 * database itself could tear one, and then the record's other copy (journal or mirror) is used,
 * as for a frame that fails its CRC32C.
 */
function assemble(keys: readonly PartKey[], parts: readonly Part[]): StoredRecord[] {
  const records: StoredRecord[] = [];
  let first = 0;
  while (first < keys.length) {
    const [volume, lsn] = keys[first]!;
    let end = first + 1;
    while (end < keys.length && keys[end]![0] === volume && keys[end]![1] === lsn) end++;
    const count = parts[first]!.parts;
    const group = parts.slice(first, first + count);
    const whole = count >= 1 && first + count <= end && group.every((part, i) => part.parts === count && keys[first + i]![2] === i);
    if (whole) records.push({ volume, lsn, epoch: group[0]!.epoch, frame: joined(group) });
    first = end;
  }
  return records;
}

/** The parts' bytes as one fresh frame (the values read are clones the caller may own). */
function joined(parts: readonly Part[]): Uint8Array {
  if (parts.length === 1) return new Uint8Array(parts[0]!.bytes);
  const frame = new Uint8Array(parts.reduce((sum, part) => sum + part.bytes.byteLength, 0));
  let offset = 0;
  for (const { bytes } of parts) {
    frame.set(new Uint8Array(bytes), offset);
    offset += bytes.byteLength;
  }
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * A store failure as a MediumError: ENOSPC when the quota is exhausted (the error, or the
 * transaction's own error when the failure came as an abort), EIO otherwise. Neither is marked
 * permanent: IndexedDB does not tell a passing failure from a lasting one, and a failed
 * transaction changed nothing, so trying again is safe (quota comes back as records are flushed).
 */
function storeError(what: string, error: unknown, tx?: { readonly error: DOMException | null }): MediumError {
  const quota = isQuotaError(error) || isQuotaError(tx?.error);
  const message = `${what}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  return new MediumError(message, quota ? { permanent: false, quota: true } : { permanent: false });
}

function isQuotaError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'QuotaExceededError';
}
