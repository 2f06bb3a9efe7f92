// FS in a dedicated worker (fs-worker.ts), in a page of its own: the worker's node reaches the
// cluster through this page (hostWorkerNode), and reads and writes cross both ways.
import { FS, hostWorkerNode } from '../../src/index.js';

describe('FS in a dedicated worker', () => {
  it("reaches its page's cluster: each side reads the other's writes, and Node's errors cross over", async () => {
    const cluster = `fs-worker-${Date.now()}`;
    const page = new FS(cluster);
    const worker = new Worker(new URL('./fs-worker.ts', import.meta.url), { type: 'module' });
    const bridge = hostWorkerNode(worker);
    // A worker that fails to load or throws fails the wait in progress at once, with its error.
    let failure: Error | undefined;
    const failed = new Set<(error: Error) => void>();
    worker.addEventListener('error', (event) => {
      const where = event instanceof ErrorEvent ? `${event.message} (${event.filename}:${event.lineno})` : 'its module did not load';
      failure = new Error(`the worker failed: ${where}`);
      for (const reject of failed) reject(failure);
    });
    /** The worker's next message that `wanted` accepts (the bridge's requests never reach us: hostWorkerNode stops them). */
    const receive = <T>(what: string, wanted: (data: unknown) => data is T) => new Promise<T>((resolve, reject) => {
      const end = () => (clearTimeout(timer), worker.removeEventListener('message', listener), failed.delete(fail));
      const fail = (error: Error) => (end(), reject(error));
      const timer = setTimeout(() => fail(new Error(`the worker did not ${what} within 60 s`)), 60_000);
      const listener = ({ data }: MessageEvent<unknown>) => {
        if (wanted(data)) (end(), resolve(data));
      };
      if (failure) return fail(failure);
      failed.add(fail);
      worker.addEventListener('message', listener);
    });
    type Answer = { ok: boolean; value?: unknown; code?: string; message?: string };
    const call = (method: string, ...args: unknown[]) => {
      const answer = receive(`answer ${method}`, (data): data is Answer => typeof data === 'object' && data !== null && 'ok' in data);
      worker.postMessage({ call: method, args });
      return answer;
    };
    try {
      // Not a call before the worker says its handler is in place: the source tree's WebAssembly
      // bindings instantiate in a top-level await, and a module worker drops the messages that
      // arrive while its evaluation waits there (fs-worker.ts).
      await receive('say it is ready', (data): data is { ready: true } => (data as { ready?: unknown } | null)?.ready === true);
      const joined = await call('init', cluster);
      if (!joined.ok) throw new Error(`the worker's FS did not start: ${joined.message}`);
      const written = await call('writeFile', '/from-worker.txt', 'written in a worker');
      if (!written.ok) throw new Error(`writeFile in the worker failed: ${written.message}`);
      const text = await page.promises.readFile('/from-worker.txt', 'utf8');
      if (text !== 'written in a worker') throw new Error(`the page read ${String(text)}`);
      await page.promises.writeFile('/from-page.txt', 'written in the page');
      const read = await call('readFile', '/from-page.txt', 'utf8');
      if (read.value !== 'written in the page') throw new Error(`the worker read ${JSON.stringify(read)}`);
      const refused = await call('mkdir', '/from-page.txt');
      if (refused.code !== 'EEXIST') throw new Error(`mkdir over a file in the worker gave ${JSON.stringify(refused)}`);
    } finally {
      worker.terminate();
      bridge.close();
      await page.close();
    }
  });
});
