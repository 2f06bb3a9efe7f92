// The small API an end-to-end tab exposes for the tests to drive, over a node started by `start`
// (in the page: tab.ts; in a dedicated worker: worker-tab-worker.ts).
import type { NodeEvent } from '../../src/core/node.js';
import type { NodeOptions } from '../../src/core/options.js';
import type { BrowserNode, ClosableLink } from '../../src/browser/start-node.js';
import { NodeError } from '../../src/errors.js';

export interface StartOptions {
  cluster: string;
  volumes: number[];
  secret?: string;
  node?: Partial<NodeOptions>;
}

type Start = (options: { cluster: string; volumes: readonly number[]; secret?: string } & Partial<Omit<NodeOptions, 'volumes'>>) => Promise<BrowserNode<ClosableLink>>;

export function tabApi(startNode: Start) {
  let running: BrowserNode<ClosableLink> | undefined;
  const events: NodeEvent[] = [];
  const utf8 = new TextEncoder();
  const node = (): BrowserNode<ClosableLink> => {
    if (!running) throw new Error('start() the node first');
    return running;
  };
  return {
    async start(options: StartOptions): Promise<string> {
      running = await startNode({ cluster: options.cluster, volumes: options.volumes, secret: options.secret, ...options.node });
      running.node.onEvent((event) => events.push(event));
      return running.node.id;
    },

    /** Writes `text` at `offset` of `path`; resolves to the op's LSN, or its error's code and message. */
    async write(volume: number, path: string, offset: number, text: string): Promise<{ lsn: number } | { error: string; message: string }> {
      try {
        return { lsn: await node().node.submit(volume, { type: 'write', path, offset, data: utf8.encode(text), mtimeMs: Date.now() }) };
      } catch (error) {
        return { error: error instanceof NodeError ? error.code : String(error), message: String(error) };
      }
    },

    status: () => node().node.status(),
    events: () => JSON.parse(JSON.stringify(events)) as unknown[],

    /** A file's content as the medium (OPFS) holds it, or null. */
    async read(volume: number, path: string): Promise<string | null> {
      const bytes = await node().medium.read(volume, path, 0, 1 << 30);
      return bytes ? new TextDecoder().decode(bytes) : null;
    },

    /** The [volume, lsn] of every record in a node's journal or mirror (any node of the origin). */
    async records(kind: 'journal' | 'mirror', of?: string): Promise<Array<[number, number]>> {
      const directory = node().stores.directory;
      const store = kind === 'journal' ? directory.journal(of ?? node().node.id) : directory.mirror(of ?? node().node.id);
      return (await store.list()).map((record) => [record.volume, record.lsn]);
    },

    failMedium: (count: number, kind: 'io' | 'quota' | 'broken') => node().medium.failNext(count, kind),
    leave: () => node().node.leave(),
  };
}
