// Raw cost of a sync access handle: write 4 KiB at an offset and flush, in a worker (the only
// place sync access handles exist). Posts the median in ms.
/** The worker-only API, which the DOM typings this project compiles against do not carry. */
interface SyncAccessHandle {
  write(data: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

onmessage = async () => {
  const root = await navigator.storage.getDirectory();
  const file = await root.getFileHandle(`bench-sync-${Date.now()}`, { create: true });
  const handle = await (file as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle();
  const data = new Uint8Array(4096).fill(7);
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const start = performance.now();
    handle.write(data, { at: i * 4096 });
    handle.flush();
    times.push(performance.now() - start);
  }
  handle.close();
  await root.removeEntry(file.name);
  times.sort((a, b) => a - b);
  postMessage(times[times.length >> 1]);
};
