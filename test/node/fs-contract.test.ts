// The fs behaviour suite (test/fs-contract.ts) against tandemfs — the real core and fs layer,
// in the simulator — and, as the reference, against Node's own fs/promises in a temporary folder.
import * as nodeFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fsCases, type FsLike } from '../fs-contract.js';
import { cluster, fsClient, noViolations } from './sim-helpers.js';

/** tandemfs over a settled two-node simulated cluster; its invariants are checked at the end. */
async function tandemfs(): Promise<{ fs: FsLike; done(): Promise<void> }> {
  const sim = await cluster(2);
  const fs = fsClient(sim, sim.up()[0]!) as unknown as FsLike;
  return { fs, done: () => noViolations(sim) };
}

/** Node's fs/promises rooted in a fresh temporary folder. */
async function reference(): Promise<{ fs: FsLike; done(): Promise<void> }> {
  const root = await nodeFs.mkdtemp(join(tmpdir(), 'tandemfs-ref-'));
  const at = (path: string) => join(root, path);
  const fs: FsLike = {
    readFile: (p, o) => nodeFs.readFile(at(p), o as never) as Promise<Uint8Array | string>,
    writeFile: (p, d, o) => nodeFs.writeFile(at(p), d, o as never),
    appendFile: (p, d) => nodeFs.appendFile(at(p), d),
    mkdir: async (p, o) => {
      const made = await nodeFs.mkdir(at(p), o);
      return made === undefined ? undefined : made.slice(root.length);
    },
    readdir: (p, o) => nodeFs.readdir(at(p), o as never),
    rmdir: (p) => nodeFs.rmdir(at(p)),
    rm: (p, o) => nodeFs.rm(at(p), o),
    unlink: (p) => nodeFs.unlink(at(p)),
    rename: (a, b) => nodeFs.rename(at(a), at(b)),
    stat: (p) => nodeFs.stat(at(p)),
    lstat: (p) => nodeFs.lstat(at(p)),
    truncate: (p, l) => nodeFs.truncate(at(p), l),
    utimes: (p, a, m) => nodeFs.utimes(at(p), a, m),
    open: (p, f) => nodeFs.open(at(p), f) as never,
    // An absolute target names a path of the system under test: within the folder here.
    symlink: (t, p) => nodeFs.symlink(t.startsWith('/') ? at(t) : t, at(p)),
    readlink: async (p) => {
      const target = await nodeFs.readlink(at(p));
      return target.startsWith(`${root}/`) ? target.slice(root.length) : target;
    },
    chmod: (p, m) => nodeFs.chmod(at(p), m),
  };
  return { fs, done: () => nodeFs.rm(root, { recursive: true, force: true }) };
}

for (const [system, make] of [['tandemfs', tandemfs], ['node', reference]] as const) {
  describe(`fs semantics: ${system}`, () => {
    for (const fsCase of fsCases) {
      const reason = fsCase.differs?.[system];
      test(fsCase.name, { skip: reason }, async () => {
        const { fs, done } = await make();
        await fsCase.run(fs);
        await done();
      });
    }
  });
}
