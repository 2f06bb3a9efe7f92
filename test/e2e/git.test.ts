// End to end, in real Chromium tabs: isomorphic-git, unmodified, on a tandemfs `FS`
// (test/e2e/git-tab.ts is the page). One test runs a repository of 100+ commits through its
// everyday calls; the other crashes the tab that owns the volume in the middle of a run of commits,
// and checks from its partner, then from a fresh tab after every tab closed, that no commit acked
// before the crash was lost and that every object of every one of them reads back and hashes right.
// The driver (here) keeps what each commit wrote and the oid each `git.commit` resolved to.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
// @ts-expect-error: plain .mjs build scripts without types
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';
// @ts-expect-error: plain .mjs build scripts without types
import { bundle, root, serve } from '../../scripts/site.mjs';
import { owned, Tab, until } from './browser.js';
import type { BlobView, CommitView, FsCalls, Step } from './git-tab.js';

const CLUSTER = 'git-e2e';
const VOLUME = 0;
/** Generous: this runs beside other test suites on a small machine. */
const SETTLE_MS = 60_000;

let out: string;
let server: Server;
let url: string;

before(async () => {
  // A directory of this file's own: other e2e files bundle theirs and may be served meanwhile.
  out = join(root, 'dist/e2e-git');
  await bundle({ 'git-tab': 'test/e2e/git-tab.ts', 'opfs-worker': 'src/browser/opfs-worker.ts', 'hub-worker': 'src/browser/hub-worker.ts' }, out);
  writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tandemfs git tab</title><script type="module" src="./git-tab.js"></script>');
  ({ server, url } = (await serve([out])) as { server: Server; url: string });
});
after(() => {
  server?.close();
});

/** A browser profile of its own (IndexedDB and OPFS persist across its tabs until closed). */
class Profile {
  readonly #context: BrowserContext;
  readonly #dir: string;

  private constructor(context: BrowserContext, dir: string) {
    this.#context = context;
    this.#dir = dir;
  }

  static async launch(): Promise<Profile> {
    const dir = mkdtempSync(join(tmpdir(), 'tandemfs-e2e-git-'));
    const context = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
    return new Profile(context, dir);
  }

  /** A new tab with `new FS(CLUSTER)` open in it; resolves to the tab and its node's id. */
  async open(): Promise<{ tab: Tab; id: string }> {
    const page = await this.#context.newPage();
    const tab = new Tab(page);
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as any).tandemTab !== undefined, null, { timeout: SETTLE_MS });
    const id = await tab.call<string>('open', CLUSTER);
    return { tab, id };
  }

  async close(): Promise<void> {
    await this.#context.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------
// The plan of commits, and what each one's tree must hold

type Tree = ReadonlyMap<string, string>;

const DIRS = ['', 'src/', 'src/lib/', 'docs/', 'test/unit/'];
const BASE_TIME = 1_700_000_000;

/** Commit `i`: rewrites README.md and one file of a few directories; every tenth removes a file. */
function planStep(i: number, tree: Tree): Step {
  const path = `${DIRS[i % DIRS.length]}f${i % 7}.txt`;
  const writes: Record<string, string> = {
    'README.md': `# tandemfs git e2e\n\ncommits: ${i + 1}\n`,
    [path]: `commit ${i} wrote ${path}\n`.repeat(1 + (i % 3)),
  };
  const removes: string[] = [];
  if (i % 10 === 9) {
    const candidates = [...tree.keys()].filter((p) => !(p in writes)).sort();
    if (candidates.length) removes.push(candidates[Math.floor(i / 10) % candidates.length]!);
  }
  return { writes, removes, message: `commit ${i}`, timestamp: BASE_TIME + i * 60 };
}

function applyStep(tree: Tree, step: Step): Tree {
  const next = new Map(tree);
  for (const [path, content] of Object.entries(step.writes)) next.set(path, content);
  for (const path of step.removes) next.delete(path);
  return next;
}

/** Git's blob oid of `content`: SHA-1 of "blob <bytes>\0<bytes>", computed here in Node. */
function blobOid(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** A commit the driver knows: its oid, its message, its parent, and the tree it must have. */
interface Known {
  oid: string;
  message: string;
  parent: string | undefined;
  tree: Tree;
}

/** Runs the plan's commits `from`..`to`-1 in `tab`, recording each oid once `git.commit` resolved there. */
async function commitRun(tab: Tab, known: Known[], tree: Tree, from: number, to: number): Promise<Tree> {
  for (let i = from; i < to; i++) {
    const step = planStep(i, tree);
    const oid = await tab.call<string>('commit', step);
    tree = applyStep(tree, step);
    known.push({ oid, message: step.message, parent: known.at(-1)?.oid, tree });
  }
  return tree;
}

/**
 * Reads every commit of `known` in `tab` (readCommit, readTree all the way down, readBlob, hashBlob)
 * and compares it with what the driver wrote; resolves to the problems found (none: all good).
 */
async function checkObjects(tab: Tab, known: readonly Known[]): Promise<string[]> {
  const { commits, blobs } = await tab.call<{ commits: CommitView[]; blobs: Record<string, BlobView> }>('verify', known.map((k) => k.oid));
  const problems: string[] = [];
  const contentOf = new Map<string, string>();
  for (const [index, want] of known.entries()) {
    const got = commits[index]!;
    if (got.error) {
      problems.push(`${want.message} (${want.oid}): readCommit/readTree failed: ${got.error}`);
      continue;
    }
    if (got.message?.trim() !== want.message) problems.push(`${want.oid}: message ${JSON.stringify(got.message)}, not ${JSON.stringify(want.message)}`);
    assertEqualish(problems, `${want.message}: parents`, got.parents, want.parent ? [want.parent] : []);
    const expected: Record<string, string> = {};
    for (const [path, content] of [...want.tree.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const oid = blobOid(content);
      expected[path] = oid;
      contentOf.set(oid, content);
    }
    assertEqualish(problems, `${want.message}: tree (path → blob oid)`, sortKeys(got.files ?? {}), expected);
  }
  for (const [oid, blob] of Object.entries(blobs)) {
    if (blob.error) problems.push(`blob ${oid}: readBlob failed: ${blob.error}`);
    else if (blob.rehash !== oid) problems.push(`blob ${oid}: its bytes hash to ${blob.rehash}`);
    else if (contentOf.has(oid) && blob.content !== contentOf.get(oid)) problems.push(`blob ${oid}: content ${JSON.stringify(blob.content)}`);
  }
  return problems;
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function assertEqualish(problems: string[], what: string, actual: unknown, expected: unknown): void {
  try {
    assert.deepEqual(actual, expected);
  } catch {
    problems.push(`${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
  }
}

// ------------------------------------------------------------------------------------------------
// The cluster

/** Tab A opens first and owns volume 0; tab B opens next and becomes its partner, in sync. */
async function pair(profile: Profile): Promise<{ a: Tab; b: Tab; aId: string; bId: string }> {
  const { tab: a, id: aId } = await profile.open();
  await until(() => owned(a, VOLUME), SETTLE_MS);
  const { tab: b, id: bId } = await profile.open();
  await until(async () => {
    const volume = await owned(a, VOLUME);
    return volume?.partner === bId && !volume.degraded;
  }, SETTLE_MS);
  return { a, b, aId, bId };
}

/** The fs.promises calls isomorphic-git made in `tab`, as a diagnostic, and the failures by code. */
async function reportFsCalls(t: TestContext, name: string, tab: Tab): Promise<FsCalls> {
  const calls = await tab.call<FsCalls>('fsCalls');
  const each = Object.entries(calls.calls).map(([method, count]) => `${method} ×${count} (${Math.round(calls.ms[method] ?? 0)} ms)`);
  t.diagnostic(`${name} fs.promises calls: ${each.join(', ')}`);
  for (const [key, { count, example }] of Object.entries(calls.failures)) t.diagnostic(`${name} failed ${key} ×${count}, e.g. ${example}`);
  return calls;
}

/**
 * Failures isomorphic-git asks for and handles: ENOENT and ENOTDIR probes (a ref, a config, a
 * .gitignore that is not there), EEXIST from mkdir, and the readFile() with no path by which it
 * tells a promise fs from a callback one (tandemfs refuses the missing path with EINVAL).
 */
const EXPECTED_FAILURE = /^(readFile\(\) probe EINVAL|\w+ ENOENT|\w+ ENOTDIR|mkdir EEXIST)$/;

function unexpectedFailures(calls: FsCalls): string[] {
  return Object.entries(calls.failures).filter(([key]) => !EXPECTED_FAILURE.test(key)).map(([key, { count, example }]) => `${key} ×${count}: ${example}`);
}

function timer(t: TestContext): (what: string) => void {
  let phase = performance.now();
  return (what) => {
    t.diagnostic(`${what}: ${Math.round(performance.now() - phase)} ms`);
    phase = performance.now();
  };
}

type Row = [string, number, number, number];

describe('isomorphic-git on tandemfs, in Chromium tabs', { concurrency: false, timeout: 480_000 }, () => {
  test('a repository of 100 commits: log, branch and checkout, status, statusMatrix, readBlob at old commits', { timeout: 240_000 }, async (t) => {
    const took = timer(t);
    const profile = await Profile.launch();
    try {
      const { a, b } = await pair(profile);
      took('two tabs, A owning volume 0 and B mirroring it');
      await a.call('init');
      const known: Known[] = [];
      const COUNT = 100;
      const tree = await commitRun(a, known, new Map(), 0, COUNT);
      assert.equal(new Set(known.map((k) => k.oid)).size, COUNT, 'two commits got the same oid');
      took(`${COUNT} commits (write, add, commit)`);

      // log: every commit, newest first, in tab A and (read through the cluster) in tab B.
      const log = await a.call<Array<{ oid: string; message: string }>>('log');
      assert.deepEqual(log.map((c) => c.oid), known.map((k) => k.oid).reverse(), 'git.log in A is not the commits made, newest first');
      assert.deepEqual(log.map((c) => c.message.trim()), known.map((k) => k.message).reverse());
      const logB = await b.call<Array<{ oid: string }>>('log');
      assert.deepEqual(logB.map((c) => c.oid), known.map((k) => k.oid).reverse(), 'git.log in B differs');
      took('git.log in A and B');

      // The objects of a sample of commits read back and hash right (git.log read every commit;
      // the crash test below walks every tree).
      const sample = [0, 9, 10, 50, COUNT - 1].map((index) => known[index]!);
      assert.deepEqual(await checkObjects(a, sample), []);
      took(`readCommit, readTree, readBlob and hashBlob over ${sample.length} commits`);

      // readBlob with a filepath at old commits: the content the file had then (README.md changes
      // in every commit; the others now and then).
      for (const index of [0, 9, 33, 64, COUNT - 2]) {
        const { oid, tree: then } = known[index]!;
        const paths = [...then.keys()].sort();
        for (const path of new Set(['README.md', ...Object.keys(planStep(index, known[index - 1]?.tree ?? new Map()).writes), paths[0]!, paths.at(-1)!])) {
          assert.equal(await a.call<string>('readBlob', oid, path), then.get(path), `readBlob ${path} at commit ${index}`);
        }
      }
      const removed = planStep(9, known[8]!.tree).removes[0]!;
      assert.ok(known[8]!.tree.has(removed) && !known[9]!.tree.has(removed));
      await assert.rejects(a.call('readBlob', known[9]!.oid, removed), /NotFoundError|not found|Could not find/i, `readBlob of ${removed}, removed by commit 9, at commit 9`);
      took('readBlob at old commits');

      // statusMatrix and status: clean after the commits; a modified file shows as modified.
      const clean = (await a.call<Row[]>('statusMatrix')).sort(([x], [y]) => (x < y ? -1 : 1));
      assert.deepEqual(clean, [...tree.keys()].sort().map((path) => [path, 1, 1, 1]), 'statusMatrix is not clean after the commits');
      assert.equal(await a.call('gitStatus', 'README.md'), 'unmodified');
      await a.call('writeWorkFile', 'README.md', 'changed in the work tree\n');
      assert.equal(await a.call('gitStatus', 'README.md'), '*modified');
      const dirty = await a.call<Row[]>('statusMatrix');
      assert.deepEqual(dirty.filter(([, h, w, s]) => !(h === 1 && w === 1 && s === 1)), [['README.md', 1, 2, 1]]);
      await a.call('writeWorkFile', 'README.md', tree.get('README.md')!);
      assert.equal(await a.call('gitStatus', 'README.md'), 'unmodified', 'README.md written back as committed still shows as changed');
      took('status and statusMatrix');

      // branch, checkout, a commit on the branch, and checkout back.
      await a.call('branch', 'feature');
      await a.call('checkout', 'feature');
      assert.equal(await a.call('currentBranch'), 'feature');
      const featureStep: Step = { writes: { 'feature/only-here.txt': 'only on feature\n', 'README.md': 'feature readme\n' }, removes: [], message: 'on feature', timestamp: BASE_TIME + COUNT * 60 };
      const featureOid = await a.call<string>('commit', featureStep);
      const featureLog = await a.call<Array<{ oid: string }>>('log', 'feature');
      assert.deepEqual(featureLog.map((c) => c.oid), [featureOid, ...known.map((k) => k.oid).reverse()]);
      assert.equal(await a.call('resolveRef', 'main'), known.at(-1)!.oid, 'main moved with a commit on feature');
      await a.call('checkout', 'main');
      assert.equal(await a.call('currentBranch'), 'main');
      assert.equal(await a.call('readWorkFile', 'feature/only-here.txt'), null, 'checkout main left a file of feature in the work tree');
      assert.equal(await a.call('readWorkFile', 'README.md'), tree.get('README.md'), 'checkout main did not restore README.md');
      const back = (await a.call<Row[]>('statusMatrix')).sort(([x], [y]) => (x < y ? -1 : 1));
      assert.deepEqual(back, [...tree.keys()].sort().map((path) => [path, 1, 1, 1]), 'statusMatrix is not clean after checking main out again');
      assert.equal(await a.call('readBlob', featureOid, 'feature/only-here.txt'), 'only on feature\n');
      took('branch, checkout feature, commit, checkout main');

      const calls = await reportFsCalls(t, 'A', a);
      assert.deepEqual(unexpectedFailures(calls), [], 'isomorphic-git met fs failures it does not expect');
    } finally {
      await profile.close();
    }
  });

  test('the owning tab crashes in the middle of a run of commits: its partner, then a fresh tab, has every acked commit, whole', { timeout: 240_000 }, async (t) => {
    const took = timer(t);
    const profile = await Profile.launch();
    try {
      const { a, b, aId, bId } = await pair(profile);
      took('two tabs, A owning volume 0 and B mirroring it');
      await a.call('init');
      const acked: Known[] = [];
      const CRASH_AFTER = 30;
      let tree = await commitRun(a, acked, new Map(), 0, CRASH_AFTER);
      took(`${CRASH_AFTER} commits acked in A`);
      const volume = await owned(a, VOLUME);
      assert.ok(volume && volume.partner === bId && !volume.degraded, `A no longer owns volume 0 mirrored by B before the crash: ${JSON.stringify(volume)}`);

      // Commit 30 goes in flight: its files written and staged, crash A as git.commit begins. (The
      // crash reaches the tab tens of milliseconds later: the commit may be part written, whole,
      // or even answered by then.)
      const inFlight = planStep(CRASH_AFTER, tree);
      const committing = a.page.waitForEvent('console', { predicate: (m) => m.text() === `git-e2e committing ${inFlight.message}`, timeout: SETTLE_MS });
      const result = a.call<string>('commit', inFlight).then((oid) => ({ oid }), (error: unknown) => ({ error: String(error) }));
      await committing;
      await a.crash();
      const settled = await result;
      const afterFlight = applyStep(tree, inFlight);
      if ('oid' in settled) {
        // Its answer reached the driver before the crash: it was acked, and must survive too.
        acked.push({ oid: settled.oid, message: inFlight.message, parent: acked.at(-1)!.oid, tree: afterFlight });
        tree = afterFlight;
      }
      t.diagnostic(`crashed A (${aId}) with ${acked.length} commits acked; commit ${CRASH_AFTER} ${'oid' in settled ? 'was acked just before' : 'was in flight'}`);

      // B takes over volume 0, with every acked commit.
      await until(() => owned(b, VOLUME), SETTLE_MS);
      took('B took volume 0 over');
      const logB = await b.call<Array<{ oid: string; message: string }>>('log');
      const history = logB.map((c) => c.oid).reverse();
      const lost = acked.filter((k) => !history.includes(k.oid)).map((k) => `${k.message} ${k.oid}`);
      assert.deepEqual(lost, [], 'acked commits missing from git.log in B after the crash');
      assert.deepEqual(history.slice(0, acked.length), acked.map((k) => k.oid), 'git.log in B does not begin with the acked commits, in order');
      const known = [...acked];
      if (history.length > acked.length) {
        // The in-flight commit landed: it must be commit 30, whole, on top of the last acked one.
        assert.equal(history.length, acked.length + 1, `git.log in B has commits nobody made: ${JSON.stringify(logB.slice(0, 3))}`);
        assert.equal(logB[0]!.message.trim(), inFlight.message);
        known.push({ oid: history.at(-1)!, message: inFlight.message, parent: acked.at(-1)!.oid, tree: afterFlight });
        tree = afterFlight;
      }
      t.diagnostic(`in B, git.log has ${history.length} commits${'oid' in settled ? '' : `: the in-flight commit ${history.length > acked.length ? 'landed' : 'did not land'}`}`);
      assert.deepEqual(await checkObjects(b, known), []);
      took(`B read and hashed every object of ${known.length} commits`);

      // B serves the repository: it drops what the lost commit may have staged, and commits on.
      const matrix = await b.call<Row[]>('statusMatrix');
      for (const [path, head, , stage] of matrix) if (!((head === 1 && stage === 1) || (head === 0 && stage === 0))) await b.call('resetIndex', path);
      const next = planStep(known.length, tree);
      const nextOid = await b.call<string>('commit', next);
      tree = applyStep(tree, next);
      known.push({ oid: nextOid, message: next.message, parent: known.at(-1)!.oid, tree });
      assert.deepEqual((await b.call<Array<{ oid: string }>>('log')).map((c) => c.oid), known.map((k) => k.oid).reverse(), 'git.log in B after its own commit');
      took('B committed on top');
      const callsB = await reportFsCalls(t, 'B', b);

      // Every tab closes; a fresh tab of the same profile recovers the volume, and every commit.
      await a.page.close().catch(() => {});
      await b.page.close();
      const { tab: c } = await profile.open();
      await until(() => owned(c, VOLUME), SETTLE_MS);
      took('every tab closed; C opened and owns volume 0');
      const logC = await c.call<Array<{ oid: string }>>('log');
      const lostC = known.filter((k) => !logC.some((entry) => entry.oid === k.oid)).map((k) => `${k.message} ${k.oid}`);
      assert.deepEqual(lostC, [], 'acked commits missing from git.log in C');
      assert.deepEqual(logC.map((entry) => entry.oid), known.map((k) => k.oid).reverse(), 'git.log in C');
      assert.deepEqual(await checkObjects(c, known), []);
      took(`C read and hashed every object of ${known.length} commits`);
      const callsC = await reportFsCalls(t, 'C', c);
      assert.deepEqual([...unexpectedFailures(callsB), ...unexpectedFailures(callsC)], [], 'isomorphic-git met fs failures it does not expect');
    } finally {
      await profile.close();
    }
  });
});
