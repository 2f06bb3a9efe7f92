// End-to-end harness: real Chromium (Debian's, on-disk profile) driven by playwright-core, with
// tabs of one origin served from localhost, each running a tandemfs node (test/e2e/tab.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
// @ts-expect-error: plain .mjs build scripts without types
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';
// @ts-expect-error: plain .mjs build scripts without types
import { bundle, root, serve } from '../../scripts/site.mjs';

let built: Promise<string> | undefined;

/** Bundles the tab page and the OPFS worker once per test process. */
function build(): Promise<string> {
  built ??= (async () => {
    const out = join(root, 'dist/e2e');
    await bundle({ tab: 'test/e2e/tab.ts', 'opfs-worker': 'src/browser/opfs-worker.ts', 'hub-worker': 'src/browser/hub-worker.ts' }, out);
    writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>tandemfs tab</title><script type="module" src="./tab.js"></script>');
    return out;
  })();
  return built;
}

export class Tab {
  readonly page: Page;
  readonly log: string[] = [];
  #cdp?: CDPSession;

  constructor(page: Page) {
    this.page = page;
    page.on('console', (message) => this.log.push(message.text()));
    page.on('pageerror', (error) => this.log.push(`page error: ${error.message}`));
  }

  /** Calls a method of the tab's `tandemTab` API (test/e2e/tab.ts) and returns its result. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(([name, params]) => (globalThis as any).tandemTab[name](...params), [method, args] as const) as Promise<T>;
  }

  /** Blocks the tab's main thread for `ms` (a hung tab); resolves when it is free again. */
  hang(ms: number): Promise<unknown> {
    return this.page.evaluate((duration) => {
      const end = performance.now() + duration;
      while (performance.now() < end) {
        // busy: no task, timer or message runs in this tab meanwhile
      }
    }, ms);
  }

  /** Crashes the tab's renderer, as an out-of-memory or a fault would. */
  async crash(): Promise<void> {
    const cdp = await this.#session();
    const crashed = new Promise((resolve) => this.page.once('crash', resolve));
    void cdp.send('Page.crash').catch(() => {}); // never answered: the renderer is gone
    await crashed;
  }

  /**
   * Caps the origin's storage quota (IndexedDB and OPFS together) at its usage now plus
   * `headroom` bytes; with no headroom, lifts the cap. Seen here: the cap binds only while the
   * origin's storage was not yet open when it was set; in a browser where the origin had used
   * IndexedDB before, writes went on past it.
   */
  async capQuota(headroom?: number): Promise<void> {
    const cdp = await this.#session();
    const origin = new URL(this.page.url()).origin;
    if (headroom === undefined) {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      return;
    }
    const { usage } = await cdp.send('Storage.getUsageAndQuota', { origin });
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + headroom });
  }

  async #session(): Promise<CDPSession> {
    this.#cdp ??= await this.page.context().newCDPSession(this.page);
    return this.#cdp;
  }
}

export class E2eBrowser {
  readonly context: BrowserContext;
  readonly url: string;
  #server: Server;
  #profile: string;

  private constructor(context: BrowserContext, url: string, server: Server, profile: string) {
    this.context = context;
    this.url = url;
    this.#server = server;
    this.#profile = profile;
  }

  static async launch(): Promise<E2eBrowser> {
    const out = await build();
    const { server, url } = await serve([out]);
    const profile = mkdtempSync(join(tmpdir(), 'tandemfs-e2e-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
    return new E2eBrowser(context, url, server, profile);
  }

  async open(): Promise<Tab> {
    const page = await this.context.newPage();
    await page.goto(this.url);
    await page.waitForFunction(() => (globalThis as any).tandemTab !== undefined);
    return new Tab(page);
  }

  async close(): Promise<void> {
    await this.context.close();
    this.#server.close();
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

/**
 * Polls `probe` until it returns a truthy value or `ms` pass. A probe that throws counts as not
 * yet (an unlocked OPFS read can meet a file the worker is writing this instant).
 */
export async function until<T>(probe: () => Promise<T> | T, ms = 15_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let failure: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      failure = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms${failure ? ` (last error: ${String(failure)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

export interface VolumeStatus {
  volume: number;
  degraded: boolean;
  partner?: string;
}

/** What `tab`'s node says of `volume` when it owns it; undefined when it does not. */
export async function owned(tab: Tab, volume: number): Promise<VolumeStatus | undefined> {
  const status = await tab.call<{ owns: VolumeStatus[] }>('status');
  return status.owns.find((v) => v.volume === volume);
}
