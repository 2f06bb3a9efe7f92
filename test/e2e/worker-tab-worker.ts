// The dedicated worker of an end-to-end tab that hosts a worker node (worker-tab.ts is its page):
// it starts a tandemfs node with startWorkerNode — IndexedDB, the OPFS medium in a nested worker,
// Web Locks, and its link bridged through the page's WebRTC — and exposes to the page, with
// comlink, the same small API as a main-thread tab (tab.ts).
import { expose } from 'comlink';
import { startWorkerNode } from '../../src/browser/worker-node.js';
import { tabApi } from './tab-api.js';

const api = tabApi(startWorkerNode);

export type WorkerTabApi = typeof api;

expose(api);
