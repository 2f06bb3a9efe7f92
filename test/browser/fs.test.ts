// The fs behaviour suite (test/fs-contract.ts) in Chromium: against tandemfs itself (FS, a real
// node: IndexedDB journal, OPFS medium, WebRTC link) and, as the reference users come from,
// against lightning-fs. Each case gets a fresh cluster (or lightning-fs database) of its own.
// lightning-fs ships CommonJS and a UMD build; the test runner serves ES modules unbundled, so the
// UMD build is loaded for its global.
import '@isomorphic-git/lightning-fs/dist/lightning-fs.min.js';
import type LightningFSType from '@isomorphic-git/lightning-fs';
import { FS } from '../../src/index.js';
import { fsCases, type FsLike } from '../fs-contract.js';

const LightningFS = (self as unknown as { LightningFS: typeof LightningFSType }).LightningFS;

let unique = 0;
const name = (system: string) => `fs-contract-${system}-${Date.now()}-${unique++}`;

describe('fs semantics: tandemfs in Chromium', () => {
  for (const fsCase of fsCases) {
    const run = fsCase.differs?.tandemfs ? it.skip : it;
    run(fsCase.name, async () => {
      const fs = new FS(name('tandemfs'));
      try {
        await fsCase.run(fs.promises as unknown as FsLike);
      } finally {
        await fs.close();
      }
    });
  }

  it('writes and reads back a 64 MiB file (in changes of 1 MiB, each applied once)', async () => {
    const fs = new FS(name('tandemfs'));
    try {
      const big = new Uint8Array(64 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big.fill((i >> 12) & 0xff, i, i + 4096);
      big[big.length - 1] = 7;
      await fs.promises.writeFile('/big.bin', big);
      const back = (await fs.promises.readFile('/big.bin')) as Uint8Array;
      if (back.length !== big.length) throw new Error(`read back ${back.length} bytes of ${big.length}`);
      for (let i = 0; i < big.length; i += 4096) if (back[i] !== big[i]) throw new Error(`byte ${i} differs`);
      if (back[big.length - 1] !== 7) throw new Error('the last byte differs');
      if ((await fs.promises.stat('/big.bin')).size !== big.length) throw new Error('stat size differs');
    } finally {
      await fs.close();
    }
  });

  it('callback forms call back with (error, value), as lightning-fs does', async () => {
    const fs = new FS(name('tandemfs'));
    try {
      await new Promise<void>((resolve, reject) => fs.writeFile('/cb', 'text', (error: Error | null) => (error ? reject(error) : resolve())));
      const text = await new Promise<unknown>((resolve, reject) => fs.readFile('/cb', 'utf8', (error: Error | null, value?: unknown) => (error ? reject(error) : resolve(value))));
      if (text !== 'text') throw new Error(`read back ${String(text)}`);
      const code = await new Promise<unknown>((resolve) => fs.stat('/none', (error: Error | null) => resolve((error as { code?: string } | null)?.code)));
      if (code !== 'ENOENT') throw new Error(`stat of a missing path called back with ${String(code)}`);
      const called = <T>(start: (callback: (error: Error | null, value?: T) => void) => void) =>
        new Promise<T | undefined>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
      await called((cb) => fs.symlink('cb', '/cb-link', cb));
      const target = await called((cb) => fs.readlink('/cb-link', cb));
      if (target !== 'cb') throw new Error(`readlink called back with ${String(target)}`);
      await called((cb) => fs.chmod('/cb-link', 0o600, cb));
      const stats = await called<{ mode: number }>((cb) => fs.stat('/cb', cb));
      if (stats?.mode !== 0o100600) throw new Error(`chmod through a link left mode ${stats?.mode.toString(8)}`);
    } finally {
      await fs.close();
    }
  });
});

describe('fs semantics: lightning-fs (the reference for drop-in use)', () => {
  for (const fsCase of fsCases) {
    const run = fsCase.differs?.['lightning-fs'] ? it.skip : it;
    run(fsCase.name, async () => {
      const fs = new LightningFS(name('lightning'), { wipe: true });
      await fsCase.run(withSyscalls(fs.promises as unknown as FsLike));
    });
  }
});

/**
 * lightning-fs's errors carry a code but no syscall (a difference docs/api.md lists): name one, so
 * that the suite compares what the two systems refuse rather than how their errors are dressed.
 */
function withSyscalls(fs: FsLike): FsLike {
  return new Proxy(fs, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          if (error && typeof error === 'object' && !('syscall' in error)) Object.assign(error, { syscall: String(key), path: args[0] });
          throw error;
        }
      };
    },
  });
}
