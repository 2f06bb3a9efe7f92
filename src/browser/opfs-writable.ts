// The medium's file access through `createWritable()`, for contexts that have no
// `createSyncAccessHandle()`. Same operations as the sync access handle path (opfs-worker.ts), at
// a cost: opening a writable copies the file into a swap file (keepExistingData), and nothing
// reaches the file before `close()`, which swaps the whole batch's changes in at once.
import type { FileAccess } from './opfs-worker.js';

export async function openWritable(file: FileSystemFileHandle): Promise<FileAccess> {
  const stream = await file.createWritable({ keepExistingData: true });
  return {
    async write(data, at) {
      await stream.seek(at); // seeking past the end zero-fills the gap, as a sync handle's write does
      await stream.write(data as Uint8Array<ArrayBuffer>); // ops arrive structured-cloned: never a SharedArrayBuffer
    },
    truncate: (size) => stream.truncate(size),
    // close() is the only way to make a writable's changes visible, and its only flush.
    commit: () => stream.close(),
    abandon: () => stream.abort(),
  };
}
