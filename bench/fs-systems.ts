// The file systems that `npm run bench -- fs` compares. Each one is an `FsSystem`: a name and a
// way to make a fresh, empty volume that presents the same promise API (the subset of Node's
// fs.promises that lightning-fs exposes as `fs.promises`), and to drop it again.
import LightningFS from '@isomorphic-git/lightning-fs';
import { configure, decodeDirListing, encodeDirListing, fs as zenfs, Inode, mounts, umount } from '@zenfs/core';
import { IndexedDB } from '@zenfs/dom';

/** What the bench calls. Paths are absolute, '/'-separated; `mkdir` is never recursive. */
export interface FsLike {
  writeFile(path: string, data: Uint8Array): Promise<unknown>;
  readFile(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<unknown>;
  unlink(path: string): Promise<unknown>;
  mkdir(path: string): Promise<unknown>;
}

export interface FsSystem {
  /** Column header in the table. */
  name: string;
  /** Prefix of this system's figures in the JSON line: [a-z0-9_]. */
  key: string;
  /** Printed under the table. */
  notes?: string[];
  /** A fresh, empty volume, on every call. The bench holds at most two volumes of a system at once. */
  setup(): Promise<FsLike>;
  /** Drops a volume `setup` made, data and all. Untimed. */
  teardown(fs: FsLike): Promise<void>;
  /**
   * Optional fast path that fills a volume with `paths` (their directories exist already), each
   * holding `data`, untimed: the bench prepares the 50,000-file volume with it. Without it, the
   * bench writes them with `writeFile`, 64 in flight.
   */
  populate?(fs: FsLike, paths: string[], data: Uint8Array): Promise<void>;
  /** Optional: awaited after each turn on `fs`, so its background work does not land in another system's turn. */
  settle?(fs: FsLike): Promise<void>;
  /**
   * Optional: this system works in the 50,000-file volume of the system `key` (same library and
   * data, another configuration), seen through `view`, instead of preparing its own.
   */
  sharesVolumeWith?: { key: string; view(fs: FsLike): FsLike };
  /**
   * Optional: prepare this system's 50,000-file volume after the others', alone. (tandemfs: the
   * other libraries' preparation blocks this tab's main thread for seconds at a time, and a tab
   * that silent looks hung to its partner, which then takes the volume over.)
   */
  prepareAlone?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let serial = 0;
const unique = (tag: string) => `bench-fs-${tag}-${Date.now().toString(36)}-${serial++}`;

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // A connection still open delays the delete until it closes; onsuccess comes then.
  });
}

// ---------------------------------------------------------------------------------------------
// @isomorphic-git/lightning-fs: metadata (the "superblock", every path's stat) lives in memory and
// is saved whole to IndexedDB by `fs.promises.flush()`, or 500 ms after the last mutation
// (debounced); file contents go to IndexedDB on each writeFile (one idb-keyval transaction each).

type LfsPromises = InstanceType<typeof LightningFS>['promises'];
/** Every lightning-fs view the bench holds: its database and its `fs.promises`. */
const lfsVolumes = new WeakMap<FsLike, { name: string; p: LfsPromises }>();

/** A view of a lightning-fs volume; with `flush`, `await fs.promises.flush()` after every mutation. */
function lfsView(name: string, p: LfsPromises, flush: boolean): FsLike {
  const mutate = flush
    ? async <T>(op: Promise<T>) => {
        await op;
        await p.flush();
      }
    : <T>(op: Promise<T>) => op;
  const fs: FsLike = {
    writeFile: (path, data) => mutate(p.writeFile(path, data)),
    readFile: async (path) => (await p.readFile(path)) as Uint8Array,
    readdir: (path) => p.readdir(path),
    stat: (path) => p.stat(path),
    unlink: (path) => mutate(p.unlink(path)),
    mkdir: (path) => mutate(p.mkdir(path)),
  };
  lfsVolumes.set(fs, { name, p });
  return fs;
}

/** lightning-fs with defaults; with `flush`, `await fs.promises.flush()` after every writeFile, unlink and mkdir. */
export function lightningFs(flush: boolean): FsSystem {
  return {
    name: flush ? 'lightning-fs+flush' : 'lightning-fs',
    key: flush ? 'lfs_flush' : 'lfs',
    notes: flush
      ? ['lightning-fs+flush: `await fs.promises.flush()` after every writeFile, unlink and mkdir. flush() saves the whole superblock (every path and stat, one IndexedDB put), so its cost grows with the volume; it shares the 50,000-file volume of lightning-fs (same library, same data).']
      : ['lightning-fs: defaults. Metadata is in memory and saved 500 ms after the last mutation (debounced); readFile runs a readwrite transaction; each new file costs a walk over all inodes (CacheFS.autoinc), so creating files slows as the volume grows; after 500 ms idle it deactivates (saves the superblock, closes IndexedDB) and the next ops reload it.'],
    async setup() {
      const name = unique(flush ? 'lfsf' : 'lfs');
      const p = new LightningFS(name, { wipe: true }).promises;
      await p.stat('/'); // activation: takes the Web Lock, loads the superblock
      return lfsView(name, p, flush);
    },
    async teardown(fs) {
      // It closes its IndexedDB connection when it deactivates, 500 ms after its last op; the
      // delete completes then.
      await deleteDatabase(lfsVolumes.get(fs)!.name);
    },
    // Through the API, every new file costs a walk over all inodes (the next inode number is the
    // maximum + 1), so 50,000 writeFiles are quadratic: over 10 minutes here. Instead, once the
    // volume is idle (superblock saved, IndexedDB closed), this writes lightning-fs's own
    // IndexedDB layout: the contents under their inode numbers, and the superblock ('!root', a
    // Map tree of stats) with the new entries. Its next op loads that.
    async populate(fs, paths, data) {
      const { name, p } = lfsVolumes.get(fs)!;
      await deactivated(p);
      await fillLightningFs(name, `${name}_files`, paths, data);
      await p.stat('/'); // activates again: loads the new superblock
    },
    // The debounced superblock save fires 500 ms after the last mutation, and the deactivation
    // (save, release the Web Lock, close IndexedDB) 500 ms after the last op: let both finish
    // here rather than in the next system's turn.
    settle: (fs) => deactivated(lfsVolumes.get(fs)!.p),
    ...(flush ? { sharesVolumeWith: { key: 'lfs', view: (fs: FsLike) => lfsView(lfsVolumes.get(fs)!.name, lfsVolumes.get(fs)!.p, true) } } : {}),
  };
}

/** Resolves once lightning-fs has deactivated: 500 ms after its last op. `_deactivationPromise` is its own. */
async function deactivated(p: object): Promise<void> {
  await sleep(600);
  await (p as { _deactivationPromise?: Promise<void> })._deactivationPromise;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** lightning-fs's superblock: Map('/' => directory); a directory maps 0 to its stat and names to entries. */
type LfsEntry = Map<string | 0, LfsEntry | LfsStat>;
interface LfsStat { mode: number; type: 'file' | 'dir'; size: number; mtimeMs: number; ino: number; uid: number; gid: number }

function maxInode(entry: LfsEntry): number {
  let max = (entry.get(0) as LfsStat).ino;
  for (const [key, child] of entry) if (key !== 0) max = Math.max(max, maxInode(child as LfsEntry));
  return max;
}

/** Adds files at `paths` (their directories exist) holding `data` to an idle lightning-fs volume's database. */
async function fillLightningFs(dbName: string, storeName: string, paths: string[], data: Uint8Array): Promise<void> {
  const db = await request(indexedDB.open(dbName));
  const store = (mode: IDBTransactionMode) => db.transaction(storeName, mode).objectStore(storeName);
  const root = (await request(store('readonly').get('!root'))) as Map<string, LfsEntry>;
  let ino = maxInode(root.get('/')!);
  const puts: Array<Promise<unknown>> = [];
  for (let at = 0; at < paths.length; at += 1000) {
    const batch = store('readwrite');
    for (const path of paths.slice(at, at + 1000)) {
      const parts = path.split('/').filter(Boolean);
      const name = parts.pop()!;
      let dir = root.get('/')!;
      for (const part of parts) dir = dir.get(part) as LfsEntry;
      const stat: LfsStat = { mode: 0o666, type: 'file', size: data.byteLength, mtimeMs: Date.now(), ino: ++ino, uid: 1, gid: 1 };
      dir.set(name, new Map([[0, stat]]));
      puts.push(request(batch.put(data, stat.ino)));
    }
  }
  await Promise.all(puts);
  await request(store('readwrite').put(root, '!root'));
  db.close();
}

// ---------------------------------------------------------------------------------------------
// ZenFS on IndexedDB: each volume is an IndexedDB backend mounted with configure({ mounts }) at
// its own mount point of the one global ZenFS VFS.

export function zenFsIndexedDb(): FsSystem {
  const points = new WeakMap<FsLike, string>();
  const p = zenfs.promises;
  const mountIndexedDb = (point: string) => configure({ mounts: { [point]: { backend: IndexedDB, storeName: point.slice(1) } } });
  const unmount = (point: string) => {
    const mounted = mounts.get(point) as unknown as ZenStoreFs | undefined;
    umount(point);
    mounted?.store.db.close();
  };
  return {
    name: 'ZenFS IndexedDB',
    key: 'zenfs_idb',
    notes: ['ZenFS IndexedDB: @zenfs/core configure({ mounts: { [point]: { backend: IndexedDB, storeName } } }), default options; each volume its own database and mount point. A writeFile runs 8 IndexedDB readwrite transactions one after another, a readFile 3 (it writes the access time), so 8 in flight gain nothing; readdir stats every entry; every inode is a 4 KiB record.'],
    async setup() {
      const point = `/${unique('zenfs')}`;
      await mountIndexedDb(point);
      const at = (path: string) => point + path;
      const fs: FsLike = {
        writeFile: (path, data) => p.writeFile(at(path), data),
        readFile: (path) => p.readFile(at(path)),
        readdir: (path) => p.readdir(at(path)),
        stat: (path) => p.stat(at(path)),
        unlink: (path) => p.unlink(at(path)),
        mkdir: (path) => p.mkdir(at(path)),
      };
      points.set(fs, point);
      return fs;
    },
    async teardown(fs) {
      const point = points.get(fs)!;
      unmount(point);
      await deleteDatabase(point.slice(1));
      await p.rmdir(point).catch(() => {}); // the mount point, in the in-memory root
    },
    // At about 85 writeFiles/s here, 50,000 take 10 minutes, and so does building them with
    // ZenFS's InMemory backend and copying (1.5 ms a file, 4 records each), and mounting a
    // volume walks all of it (1.5 ms a file). Instead: write one file through the API as a
    // template, then write ZenFS's records for the others straight into the live volume's
    // IndexedDB object store (per file: a copy of the template's inode with its ino and data ids,
    // and the contents; per directory: its JSON listing), and enter them in the mounted
    // StoreFS's cache and path tables, as its own writes would. All ZenFS internals (store.cache,
    // store.db, _ids, _add, _lastID) of @zenfs/core 2.7 and @zenfs/dom 1.2.
    async populate(fs, paths, data) {
      const point = points.get(fs)!;
      const name = point.slice(1);
      const volume = mounts.get(point) as unknown as ZenStoreFs;
      const [first, ...rest] = paths;
      await fs.writeFile(first!, data);
      const { cache, db } = volume.store;
      const template = cache.get(volume._ids.get(first!)!)!;
      let id = 0;
      for (const key of cache.keys()) id = Math.max(id, key);
      id += id % 2 === 0 ? 2 : 1; // inode ids are even, their data id the next odd one
      const records: Array<[number, Uint8Array]> = [];
      const listings = new Map<string, { key: number; names: Record<string, number> }>();
      const added: Array<[number, string]> = [];
      for (const path of rest) {
        const cut = path.lastIndexOf('/');
        const dir = path.slice(0, cut);
        let listing = listings.get(dir);
        if (!listing) {
          const key = new Inode(cache.get(volume._ids.get(dir)!)!.slice()).data;
          listing = { key, names: decodeDirListing(cache.get(key)!) };
          listings.set(dir, listing);
        }
        const inode = new Inode(template.slice());
        inode.ino = id;
        inode.data = id + 1;
        records.push([id, new Uint8Array(inode.buffer, inode.byteOffset, inode.byteLength)], [id + 1, data]);
        listing.names[path.slice(cut + 1)] = id;
        added.push([id, path]);
        id += 2;
      }
      for (const { key, names } of listings.values()) records.push([key, encodeDirListing(names)]);
      const puts: Array<Promise<unknown>> = [];
      for (let at = 0; at < records.length; at += 2000) {
        const store = db.transaction(name, 'readwrite').objectStore(name);
        for (const [key, value] of records.slice(at, at + 2000)) puts.push(request(store.put(value, key)));
      }
      await Promise.all(puts);
      for (const [key, value] of records) cache.set(key, value);
      for (const [ino, path] of added) volume._add(ino, path);
      volume._lastID = id - 2;
    },
  };
}

/** The parts of a mounted ZenFS StoreFS on IndexedDB that zenFsIndexedDb().populate uses. */
interface ZenStoreFs {
  store: { cache: Map<number, Uint8Array>; db: IDBDatabase };
  _ids: Map<string, number>;
  _add(ino: number, path: string): void;
  _lastID: number;
}

// ---------------------------------------------------------------------------------------------
// Raw OPFS, main thread, async API: a file per path under one directory per volume; writeFile is
// getFileHandle + createWritable + write + close (Chromium writes a swap file and moves it into
// place on close). Directory handles are cached, as any adapter would.

class OpfsFs implements FsLike {
  readonly #dirs = new Map<string, FileSystemDirectoryHandle>();

  constructor(readonly volume: FileSystemDirectoryHandle) {
    this.#dirs.set('', volume);
  }

  async #dir(path: string): Promise<FileSystemDirectoryHandle> {
    const cached = this.#dirs.get(path);
    if (cached) return cached;
    const cut = path.lastIndexOf('/');
    const handle = await (await this.#dir(path.slice(0, cut))).getDirectoryHandle(path.slice(cut + 1));
    this.#dirs.set(path, handle);
    return handle;
  }

  async #parent(path: string): Promise<[FileSystemDirectoryHandle, string]> {
    const cut = path.lastIndexOf('/');
    return [await this.#dir(path.slice(0, cut)), path.slice(cut + 1)];
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const [dir, name] = await this.#parent(path);
    const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await writable.write(data as Uint8Array<ArrayBuffer>);
    await writable.close();
  }

  /** An empty file. */
  async create(path: string): Promise<void> {
    const [dir, name] = await this.#parent(path);
    await dir.getFileHandle(name, { create: true });
  }

  async readFile(path: string): Promise<Uint8Array> {
    const [dir, name] = await this.#parent(path);
    return new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());
  }

  async readdir(path: string): Promise<string[]> {
    const names: string[] = [];
    for await (const name of (await this.#dir(path)).keys()) names.push(name);
    return names;
  }

  async stat(path: string): Promise<{ size: number; mtimeMs: number; isDirectory: boolean }> {
    const [dir, name] = await this.#parent(path);
    try {
      const file = await (await dir.getFileHandle(name)).getFile();
      return { size: file.size, mtimeMs: file.lastModified, isDirectory: false };
    } catch (error) {
      if ((error as DOMException).name !== 'TypeMismatchError') throw error;
      await dir.getDirectoryHandle(name);
      return { size: 0, mtimeMs: 0, isDirectory: true };
    }
  }

  async unlink(path: string): Promise<void> {
    const [dir, name] = await this.#parent(path);
    await dir.removeEntry(name);
  }

  async mkdir(path: string): Promise<void> {
    const [dir, name] = await this.#parent(path);
    this.#dirs.set(path, await dir.getDirectoryHandle(name, { create: true }));
  }
}

export function rawOpfs(): FsSystem {
  return {
    name: 'raw OPFS',
    key: 'opfs',
    notes: ['raw OPFS: main-thread async API, writeFile = getFileHandle + createWritable + write + close (no sync access handles, no worker); directory handles cached.'],
    async setup() {
      const root = await navigator.storage.getDirectory();
      return new OpfsFs(await root.getDirectoryHandle(unique('opfs'), { create: true }));
    },
    async teardown(fs) {
      const root = await navigator.storage.getDirectory();
      await root.removeEntry((fs as OpfsFs).volume.name, { recursive: true });
    },
    // createWritable makes a swap file per write: about 130 files/s here with 64 in flight, and
    // a worker's sync access handles about 220/s. Empty files (what the bench prepares) need
    // only getFileHandle({ create: true }): about 800/s, 64 in flight.
    async populate(fs, paths, data) {
      const opfs = fs as OpfsFs;
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < paths.length) {
          const path = paths[next++]!;
          if (data.byteLength > 0) await opfs.writeFile(path, data);
          else await opfs.create(path);
        }
      }));
    },
  };
}
