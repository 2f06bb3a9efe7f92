// End to end, in real Chromium tabs: a node in a dedicated worker is a full member of the cluster.
// Tab A's node runs in a worker (worker-tab.ts hosts it: the page hands it a port to the cluster's
// hub, or bridges its WebRTC side), tab B's in the main thread (tab.ts). Every test runs over both
// links. Whichever owns volume 0, the other mirrors it; a write from tab
// B is acked only when the owner's journal and the other tab's mirror hold it; then the owner dies
// — its tab crashes, or (the page living on) its worker is terminated — and the other node takes
// over with the write in the medium, and takes new ones.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
// @ts-expect-error: plain .mjs build scripts without types
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';
// @ts-expect-error: plain .mjs build scripts without types
import { bundle, root, serve } from '../../scripts/site.mjs';
import type { LinkKind } from '../../src/browser/hub.js';
import { owned, Tab, until } from './browser.js';

/** The two kinds of tab, bundled into a directory of this file's own (other e2e files build theirs). */
class Site {
  readonly #context: BrowserContext;
  readonly #url: string;
  readonly #server: Server;
  readonly #profile: string;

  private constructor(context: BrowserContext, url: string, server: Server, profile: string) {
    this.#context = context;
    this.#url = url;
    this.#server = server;
    this.#profile = profile;
  }

  static async launch(): Promise<Site> {
    const out = join(root, 'dist/e2e-workers');
    await bundle({
      tab: 'test/e2e/tab.ts',
      'worker-tab': 'test/e2e/worker-tab.ts',
      'worker-tab-worker': 'test/e2e/worker-tab-worker.ts',
      'opfs-worker': 'src/browser/opfs-worker.ts',
      'hub-worker': 'src/browser/hub-worker.ts',
    }, out);
    const page = (script: string) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tandemfs tab</title><script type="module" src="./${script}"></script>`;
    writeFileSync(join(out, 'index.html'), page('tab.js'));
    writeFileSync(join(out, 'worker.html'), page('worker-tab.js'));
    const { server, url } = await serve([out]);
    const profile = mkdtempSync(join(tmpdir(), 'tandemfs-e2e-workers-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
    return new Site(context, url, server, profile);
  }

  /** A tab whose node runs in its main thread ('main') or in a dedicated worker it hosts ('worker'). */
  async open(kind: 'main' | 'worker', link: LinkKind): Promise<Tab> {
    const page = await this.#context.newPage();
    await page.goto(this.#url + (kind === 'worker' ? `worker.html?link=${link}` : ''));
    await page.waitForFunction(() => (globalThis as any).tandemTab !== undefined);
    return new Tab(page);
  }

  async close(): Promise<void> {
    await this.#context.close();
    this.#server.close();
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

let site: Site;
before(async () => {
  site = await Site.launch();
});
after(async () => {
  await site?.close();
});

const VOLUME = 0;
/** Heartbeats often, so takeovers are quick; a hang timeout that a loaded machine does not trip. */
const NODE = { heartbeatMs: 100, hangTimeoutMs: 3000 };
/** Generous: this runs beside other test suites on a small machine. */
const SETTLE_MS = 60_000;

async function records(reader: Tab, kind: 'journal' | 'mirror', of: string): Promise<Array<[number, number]>> {
  return reader.call<Array<[number, number]>>('records', kind, of);
}

/** Waits until `tab`'s medium holds `text` at `path` (what every acked write there made it). */
async function holds(tab: Tab, path: string, text: string): Promise<void> {
  try {
    await until(async () => (await tab.call<string | null>('read', VOLUME, path)) === text, SETTLE_MS);
  } catch (error) {
    const held = await tab.call<string | null>('read', VOLUME, path).catch(() => null);
    throw new Error(`${path}: the medium holds ${JSON.stringify(held)}, not ${JSON.stringify(text)}: ${String(error)}`);
  }
}

async function write(tab: Tab, path: string, text: string): Promise<number> {
  const result = await tab.call<{ lsn?: number; error?: string; message?: string }>('write', VOLUME, path, 0, text);
  assert.equal(result.error, undefined, `the write of ${path} failed: ${result.message}`);
  return result.lsn!;
}

let clusters = 0;

/**
 * Tab A (a worker node) and tab B (a main-thread node) on a fresh cluster, with `first`'s node
 * owning volume 0 and the other's mirroring it. The first node starts alone, so it adopts the
 * volume; the second then becomes its partner.
 */
async function cluster(first: 'worker' | 'tab', link: LinkKind) {
  const name = `e2e-workers-${process.pid}-${clusters++}`;
  const a = await site.open('worker', link);
  const b = await site.open('main', link);
  const start = (tab: Tab) => tab.call<string>('start', { cluster: name, volumes: [VOLUME], secret: 'e2e secret', node: { ...NODE, link } });
  const [owner, partner] = first === 'worker' ? [a, b] : [b, a];
  const ownerId = await start(owner);
  await until(() => owned(owner, VOLUME), SETTLE_MS);
  const partnerId = await start(partner);
  await until(async () => (await owned(owner, VOLUME))?.partner === partnerId && (await owned(owner, VOLUME))?.degraded === false, SETTLE_MS);
  return { a, b, owner, partner, ownerId, partnerId };
}

/**
 * From tab B, a write the owner holds unflushed (its medium fails every apply for now): acked,
 * and in the owner's journal and the partner's mirror, read from the tab whose node is `reader`.
 */
async function ackedWrite(b: Tab, owner: Tab, ownerId: string, partnerId: string): Promise<number> {
  await owner.call('failMedium', 1_000_000, 'quota');
  const lsn = await write(b, '/notes.txt', 'acked before the owner died');
  assert.deepEqual(await records(b, 'journal', ownerId), [[VOLUME, lsn]], "the owner's journal holds the write");
  assert.deepEqual(await records(b, 'mirror', partnerId), [[VOLUME, lsn]], "the partner's mirror holds the write");
  return lsn;
}

/** After the owner died: the survivor owns the volume, has the acked write in the medium, and takes new ones. */
async function tookOver(survivor: Tab, lsn: number): Promise<void> {
  await until(() => owned(survivor, VOLUME), SETTLE_MS);
  await holds(survivor, '/notes.txt', 'acked before the owner died');
  const next = await write(survivor, '/after.txt', 'a new owner');
  assert.ok(next > lsn, `the new owner's write has LSN ${next}, after ${lsn}`);
  await holds(survivor, '/after.txt', 'a new owner');
}

async function closeAll(...tabs: Tab[]): Promise<void> {
  for (const tab of tabs) if (!tab.page.isClosed()) await tab.page.close().catch(() => {});
}

for (const link of ['hub', 'webrtc'] as const) {
  describe(`a node in a dedicated worker, end to end, linked ${link === 'hub' ? 'through the hub' : 'over WebRTC bridged by its page'}`, { concurrency: false, timeout: 300_000 }, () => {
    test('the worker node owns the volume: a write from the tab is acked through it and mirrored in the tab; its tab crashes, and the tab node takes over with the write', async () => {
      const { a, b, ownerId, partnerId } = await cluster('worker', link);
      const lsn = await ackedWrite(b, a, ownerId, partnerId);
      await a.crash();
      await tookOver(b, lsn);
      await closeAll(a, b);
    });

    test('the worker node mirrors the volume: a write in the tab is acked once the worker holds it; the tab crashes, and the worker node takes over with the write', async () => {
      const { a, b, ownerId, partnerId } = await cluster('tab', link);
      const lsn = await ackedWrite(b, b, ownerId, partnerId);
      assert.deepEqual(await records(a, 'mirror', partnerId), [[VOLUME, lsn]], "the worker node's own mirror, read in the worker");
      await b.crash();
      await tookOver(a, lsn);
      await closeAll(a, b);
    });

    test('the worker node owns the volume and its worker is terminated while the page lives: the tab node takes over with the write', async () => {
      const { a, b, ownerId, partnerId } = await cluster('worker', link);
      const lsn = await ackedWrite(b, a, ownerId, partnerId);
      // Over WebRTC the page runs the worker node's link; through the hub it runs none.
      const bridged = link === 'webrtc' ? 1 : 0;
      assert.equal(await a.call<number>('bridged'), bridged, `the page runs ${bridged} WebRTC link(s) for the worker node`);
      await a.call('terminate');
      // The worker's lock went: the page closed any link it ran for it, and the peers heard it left.
      await until(async () => (await a.call<number>('bridged')) === 0, SETTLE_MS);
      await tookOver(b, lsn);
      assert.equal(a.page.isClosed(), false);
      await closeAll(a, b);
    });
  });
}
