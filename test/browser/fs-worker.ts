// A dedicated worker that uses FS as an app would (fs-in-worker.test.ts starts it): each message is
// a call, each answer its result or its error code.
import { FS } from '../../src/index.js';

let fs: FS | undefined;

self.onmessage = async ({ data }: MessageEvent<{ call: string; args: unknown[] }>) => {
  if (typeof data?.call !== 'string') return; // the page's answer to the node's bridge request
  try {
    if (data.call === 'init') {
      fs = new FS();
      await fs.init(data.args[0] as string);
      return self.postMessage({ ok: true });
    }
    const method = (fs!.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[data.call]!;
    self.postMessage({ ok: true, value: await method.apply(fs!.promises, data.args) });
  } catch (error) {
    self.postMessage({ ok: false, code: (error as { code?: string }).code, message: String(error) });
  }
};

// The handler is in place: the page may call now, and not before. This module runs only once the
// whole graph it imports has evaluated, and the source tree's WebAssembly bindings (build/release.js,
// as asc writes them) instantiate in a top-level await. A module worker's messages are dispatched
// from the moment its evaluation first waits, not once it finishes (HTML: the port message queue is
// enabled when "run a module script" returns), so a call posted earlier would reach no handler and
// be lost. (The packed library inlines the WebAssembly, with no top-level await: scripts/build.mjs.)
self.postMessage({ ready: true });
