// The page every end-to-end tab loads: it starts a tandemfs node with the real adapters
// (IndexedDB, OPFS worker, Web Locks, WebRTC) and exposes a small API for the tests to drive.
import { startBrowserNode } from '../../src/browser/start-node.js';
import { tabApi } from './tab-api.js';

const tandemTab = tabApi(startBrowserNode);

(globalThis as unknown as { tandemTab: typeof tandemTab }).tandemTab = tandemTab;
