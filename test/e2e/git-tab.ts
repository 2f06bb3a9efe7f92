// The page of the isomorphic-git end-to-end tests (git.test.ts): isomorphic-git, unmodified, on a
// tandemfs `FS`, driven from Node through `tandemTab` (the name test/e2e/browser.ts's Tab calls).
// Every fs.promises call isomorphic-git makes is counted, with the errors it got, for the test to
// look at: tracing wraps the FS instance's own methods and changes nothing they do.
import { Buffer } from 'buffer';
import type * as Git from 'isomorphic-git';
import { FS } from '../../src/index.js';

// isomorphic-git uses Node's `Buffer` as a global; a browser has none. Set it before the module
// is evaluated: a dynamic import, which esbuild bundles into this file.
(globalThis as { Buffer?: unknown }).Buffer ??= Buffer;
const git: typeof Git = await import('isomorphic-git');

const DIR = '/repo';
const AUTHOR = { name: 'tandemfs e2e', email: 'e2e@tandemfs.test', timezoneOffset: 0 };

/** One commit of the test's plan: files to write (relative to the work tree) and to remove. */
export interface Step {
  writes: Record<string, string>;
  removes: string[];
  message: string;
  timestamp: number;
}

/** A commit as read back: its parents, message, and every blob of its tree by path. */
export interface CommitView {
  oid: string;
  parents?: string[];
  message?: string;
  files?: Record<string, string>;
  error?: string;
}

/** A blob as read back with readBlob, and its oid recomputed from those bytes with hashBlob. */
export interface BlobView {
  content?: string;
  rehash?: string;
  error?: string;
}

/** fs.promises calls: how many per method, their time in all, their failures by code, and one example of each. */
export interface FsCalls {
  calls: Record<string, number>;
  ms: Record<string, number>;
  failures: Record<string, { count: number; example: string }>;
}

const TRACED = [
  'readFile', 'writeFile', 'appendFile', 'open', 'stat', 'lstat', 'access', 'readdir', 'mkdir', 'rmdir', 'rm', 'unlink',
  'rename', 'truncate', 'utimes', 'chmod', 'symlink', 'readlink', 'cp',
] as const;

let fs: FS | undefined;
const trace: FsCalls = { calls: {}, ms: {}, failures: {} };

function files(): FS {
  if (!fs) throw new Error('open() the file system first');
  return fs;
}

function describeArgs(args: unknown[]): string {
  return args.map((arg) => {
    if (typeof arg === 'string') return JSON.stringify(arg);
    if (arg instanceof Uint8Array) return `<${arg.length} bytes>`;
    if (arg === undefined) return 'undefined';
    try {
      return JSON.stringify(arg);
    } catch {
      return String(arg);
    }
  }).join(', ');
}

/** Counts each call on the instance's own `promises` object, and each failure by its code. */
function traceCalls(instance: FS): void {
  const promises = instance.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of TRACED) {
    const original = promises[method];
    if (typeof original !== 'function') continue;
    const bound = original.bind(promises);
    promises[method] = async (...args: unknown[]) => {
      trace.calls[method] = (trace.calls[method] ?? 0) + 1;
      const start = performance.now();
      try {
        return await bound(...args);
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name ?? 'Error';
        // isomorphic-git probes each fs with readFile() and no path (isPromiseFs): its own key.
        const key = method === 'readFile' && args[0] === undefined ? 'readFile() probe ' + code : `${method} ${code}`;
        const failure = (trace.failures[key] ??= { count: 0, example: `${method}(${describeArgs(args)}): ${String((error as Error).message ?? error)}` });
        failure.count += 1;
        throw error;
      } finally {
        trace.ms[method] = (trace.ms[method] ?? 0) + performance.now() - start;
      }
    };
  }
}

function message(error: unknown): string {
  return error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
}

async function treeFiles(treeOid: string, prefix: string, into: Record<string, string>): Promise<void> {
  const { tree } = await git.readTree({ fs: files(), dir: DIR, oid: treeOid });
  for (const entry of tree) {
    const path = prefix + entry.path;
    if (entry.type === 'tree') await treeFiles(entry.oid, `${path}/`, into);
    else into[path] = entry.oid;
  }
}

const tandemTab = {
  /** Opens `new FS(name)` in this tab (it joins the cluster); resolves to its node's id. */
  async open(name: string): Promise<string> {
    fs = new FS(name);
    traceCalls(fs);
    return (await fs.status()).node;
  },

  status: () => files().status(),
  fsCalls: (): FsCalls => JSON.parse(JSON.stringify(trace)) as FsCalls,

  init: () => git.init({ fs: files(), dir: DIR, defaultBranch: 'main' }),

  /**
   * Writes the step's files, stages them, and commits; resolves to the commit's oid. Logs
   * "git-e2e committing <message>" as it calls git.commit (its files are written and staged by
   * then): the driver crashes the tab on it, with the commit in flight.
   */
  async commit(step: Step): Promise<string> {
    const fs = files();
    for (const [path, content] of Object.entries(step.writes)) {
      const full = `${DIR}/${path}`;
      await fs.promises.mkdir(full.slice(0, full.lastIndexOf('/')), { recursive: true });
      await fs.promises.writeFile(full, content);
    }
    for (const path of step.removes) await fs.promises.unlink(`${DIR}/${path}`);
    await git.add({ fs, dir: DIR, filepath: Object.keys(step.writes) });
    for (const path of step.removes) await git.remove({ fs, dir: DIR, filepath: path });
    console.log(`git-e2e committing ${step.message}`);
    return git.commit({ fs, dir: DIR, message: step.message, author: { ...AUTHOR, timestamp: step.timestamp } });
  },

  /** `git log` of `ref` (HEAD by default), newest first: oids and messages. */
  async log(ref?: string): Promise<Array<{ oid: string; message: string }>> {
    const commits = await git.log({ fs: files(), dir: DIR, ...(ref ? { ref } : {}) });
    return commits.map(({ oid, commit }) => ({ oid, message: commit.message }));
  },

  branch: (ref: string) => git.branch({ fs: files(), dir: DIR, ref }),
  checkout: (ref: string) => git.checkout({ fs: files(), dir: DIR, ref }),
  currentBranch: () => git.currentBranch({ fs: files(), dir: DIR }),
  resolveRef: (ref: string) => git.resolveRef({ fs: files(), dir: DIR, ref }),
  gitStatus: (filepath: string) => git.status({ fs: files(), dir: DIR, filepath }),
  statusMatrix: () => git.statusMatrix({ fs: files(), dir: DIR }),
  resetIndex: (filepath: string) => git.resetIndex({ fs: files(), dir: DIR, filepath }),

  /** The file's content at commit `oid` (readBlob with a filepath), as text. */
  async readBlob(oid: string, filepath: string): Promise<string> {
    const { blob } = await git.readBlob({ fs: files(), dir: DIR, oid, filepath });
    return new TextDecoder().decode(blob);
  },

  /** A work-tree file's text, or null when there is none. */
  async readWorkFile(path: string): Promise<string | null> {
    return (await files().promises.readFile(`${DIR}/${path}`, 'utf8').catch((error: { code?: string }) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    })) as string | null;
  },

  writeWorkFile: (path: string, content: string) => files().promises.writeFile(`${DIR}/${path}`, content),

  /**
   * Reads every commit of `oids` (readCommit) and walks its tree (readTree), then reads every blob
   * those trees name (readBlob, which checks the SHA-1 of a loose object) and hashes its bytes
   * again (hashBlob). Failures are reported per commit and per blob, not thrown.
   */
  async verify(oids: string[]): Promise<{ commits: CommitView[]; blobs: Record<string, BlobView> }> {
    const commits: CommitView[] = [];
    const blobs: Record<string, BlobView> = {};
    for (const oid of oids) {
      try {
        const { commit } = await git.readCommit({ fs: files(), dir: DIR, oid });
        const tree: Record<string, string> = {};
        await treeFiles(commit.tree, '', tree);
        commits.push({ oid, parents: commit.parent, message: commit.message, files: tree });
        for (const blob of Object.values(tree)) blobs[blob] ??= {};
      } catch (error) {
        commits.push({ oid, error: message(error) });
      }
    }
    for (const oid of Object.keys(blobs)) {
      try {
        const { blob } = await git.readBlob({ fs: files(), dir: DIR, oid });
        const { oid: rehash } = await git.hashBlob({ object: blob });
        blobs[oid] = { content: new TextDecoder().decode(blob), rehash };
      } catch (error) {
        blobs[oid] = { error: message(error) };
      }
    }
    return { commits, blobs };
  },
};

export type GitTab = typeof tandemTab;

(globalThis as unknown as { tandemTab: GitTab }).tandemTab = tandemTab;
