// The page of an end-to-end tab whose tandemfs node runs in a dedicated worker
// (worker-tab-worker.ts): the page only hosts it — hostWorkerNode hands the node a port to the
// cluster's hub, or with `?link=webrtc` runs the node's WebRTC side — and exposes the worker's API as `tandemTab`, the same API a main-thread tab has (tab.ts), plus
// `terminate()`, which kills the worker while the page lives.
import { wrap } from 'comlink';
import { hostWorkerNode } from '../../src/browser/worker-bridge.js';
import type { LinkKind } from '../../src/browser/hub.js';
import type { WorkerTabApi } from './worker-tab-worker.js';

const link = (new URLSearchParams(location.search).get('link') ?? undefined) as LinkKind | undefined;
const worker = new Worker(new URL('./worker-tab-worker.js', import.meta.url), { type: 'module' });
const bridge = hostWorkerNode(worker, { link });
const remote = wrap<WorkerTabApi>(worker);
worker.addEventListener('error', (event) => console.error(`worker error: ${event.message}`));

const tandemTab = {
  start: (options: Parameters<WorkerTabApi['start']>[0]) => remote.start(options),
  write: (volume: number, path: string, offset: number, text: string) => remote.write(volume, path, offset, text),
  status: () => remote.status(),
  events: () => remote.events(),
  read: (volume: number, path: string) => remote.read(volume, path),
  records: (kind: 'journal' | 'mirror', of?: string) => remote.records(kind, of),
  failMedium: (count: number, kind: 'io' | 'quota' | 'broken') => remote.failMedium(count, kind),
  leave: () => remote.leave(),
  /** Kills the worker (and its node) at once; the page lives on. */
  terminate: () => worker.terminate(),
  /** The page's WebRTC links for the worker node: how many are open. */
  bridged: () => bridge.links().length,
};

(globalThis as unknown as { tandemTab: typeof tandemTab }).tandemTab = tandemTab;
