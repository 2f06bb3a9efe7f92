// The demo without a display: headless Chromium opens two tabs of the demo page, waits for them to
// pair, runs a burst of writes in the owner's tab, crashes that tab in the middle of the burst,
// and follows the other tab through detection, fencing, replay and takeover to its check of every
// acked file. A screenshot of each stage goes to `out`; the result carries the page's own figures.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from './chromium.mjs';
import { demoSite } from './demo-site.mjs';

const BURST = 5000;
/** The owner is crashed once this many writes are acked and this many wait for the medium. */
const ACKED_BEFORE_CRASH = 300;
const UNFLUSHED_BEFORE_CRASH = 50;
const STAGE_MS = 60_000;

/** The stages, in order, as the page names them (body[data-stage]), with their screenshot's tab. */
export const STAGES = ['paired', 'writing', 'owner-lost', 'replaying', 'taken-over', 'verified'];

export const state = (page) => page.evaluate(() => globalThis.tandemDemo?.state());

/** Waits until the page's stage history holds `stage` (it may have moved on since). */
export async function reached(page, stage) {
  await page.waitForFunction((wanted) => (document.body.dataset.history ?? '').split(' ').includes(wanted), stage, { timeout: STAGE_MS, polling: 'raf' });
}

/** What the page shows of its stage: the body's attribute and the sentence under the title. */
const dom = (page) => page.evaluate(() => ({ stage: document.body.dataset.stage, history: document.body.dataset.history, text: document.querySelector('#stage')?.textContent ?? '' }));

async function poll(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`the demo did not get to ${what} within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Runs the headless demo; resolves to { out, stages: [{ stage, screenshot, dom }], figures }.
 * `log` hears each stage as it is reached.
 */
export async function runHeadlessDemo({ out, log = () => {} }) {
  mkdirSync(out, { recursive: true });
  const demo = await launchDemo();
  const stages = [];
  const shoot = async (page, stage) => {
    const screenshot = join(out, `${String(stages.length + 1).padStart(2, '0')}-${stage}.png`);
    const seen = await dom(page);
    await page.screenshot({ path: screenshot, fullPage: true });
    stages.push({ stage, screenshot, dom: seen });
    log(`${stage}: ${seen.text}`);
  };
  try {
    const cluster = demo.cluster();
    const first = await demo.open(cluster);
    const opened = Date.now();
    const second = await demo.open(cluster);
    await Promise.all([reached(first, 'paired'), reached(second, 'paired')]);
    const pairedMs = Date.now() - opened;
    const owner = (await state(first)).owns.length > 0 ? first : second;
    const partner = owner === first ? second : first;
    await shoot(partner, 'paired');

    await owner.fill('#burst-count', String(BURST));
    await owner.click('#burst-run');
    await reached(partner, 'writing');
    const before = await poll(async () => {
      const seen = await state(owner);
      return seen.burst.done >= ACKED_BEFORE_CRASH && (seen.owns[0]?.unflushed ?? 0) >= UNFLUSHED_BEFORE_CRASH && seen;
    }, STAGE_MS, `${ACKED_BEFORE_CRASH} acked writes with ${UNFLUSHED_BEFORE_CRASH} unflushed`);
    await shoot(owner, 'writing');

    const crashAt = Date.now();
    await crash(owner);
    log(`crashed the owner's tab with ${before.burst.done} writes acked`);

    for (const stage of ['owner-lost', 'replaying', 'taken-over', 'verified']) {
      await reached(partner, stage);
      await shoot(partner, stage);
    }
    const timeline = await partner.evaluate(() => [...document.querySelectorAll('#timeline li')].reverse().map((item) => ({
      kind: item.dataset.kind, at: Number(item.dataset.at), text: item.querySelector('span')?.textContent ?? '',
      replayed: item.querySelector('progress')?.value, total: item.querySelector('progress')?.max,
    })));
    const after = await state(partner);
    const firstOf = (kind) => timeline.find((entry) => entry.kind === kind && entry.at >= crashAt - 5);
    const since = (kind) => (firstOf(kind) ? firstOf(kind).at - crashAt : undefined);
    const replay = firstOf('replay');
    const figures = {
      pairedMs,
      burst: before.burst,
      ackedBeforeCrash: before.burst.done,
      unflushedAtCrash: before.owns[0].unflushed,
      detectedMs: since('detected'),
      fencedMs: since('fenced'),
      replayStartedMs: since('replay'),
      replayed: replay?.replayed ?? 0,
      takenOverMs: since('taken-over'),
      verifiedMs: since('verified'),
      checked: after.checked,
      finalStage: after.stage,
    };
    return { out, stages, figures };
  } finally {
    await demo.close();
  }
}

/**
 * Headless Chromium (a fresh profile) and the demo's site: `open(cluster)` opens a tab of the demo
 * in cluster `cluster` (a fresh one from `cluster()`), once its node has started.
 */
export async function launchDemo() {
  const { server, url } = await demoSite(0);
  const profile = mkdtempSync(join(tmpdir(), 'tandemfs-demo-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 1000 } });
  let clusters = 0;
  return {
    context,
    cluster: () => `headless-${process.pid}-${Date.now().toString(36)}-${clusters++}`,
    async open(cluster) {
      const tab = await context.newPage();
      await tab.goto(`${url}?cluster=${cluster}`);
      await tab.waitForFunction(() => globalThis.tandemDemo !== undefined, undefined, { timeout: STAGE_MS });
      return tab;
    },
    async close() {
      await context.close();
      server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Crashes a tab's renderer, as an out-of-memory or a fault would. */
export async function crash(page) {
  const cdp = await page.context().newCDPSession(page);
  const crashed = new Promise((resolve) => page.once('crash', resolve));
  void cdp.send('Page.crash').catch(() => {}); // never answered: the renderer is gone
  await crashed;
}

/** True unless every file acked before the crash (and every one acked later) read back intact. */
export const lost = (f) => !f.checked || f.checked.bad.length > 0 || f.checked.intact < f.ackedBeforeCrash;

const s = (ms) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

/** The one-paragraph summary of a run's figures. */
export function summary({ figures: f }) {
  const checked = f.checked ? `${f.checked.intact} of ${f.checked.checked} acked files read back intact` : 'the data was not checked';
  return `Two tabs paired in ${s(f.pairedMs)}. The owner's tab wrote small files, 8 in flight, while both tabs drew every step: ${f.ackedBeforeCrash} were acked ` +
    `(ack p50 ${f.burst.p50.toFixed(1)} ms, p95 ${f.burst.p95.toFixed(1)} ms, ${Math.round(f.burst.rate)} files/s) when it crashed ` +
    `with ${f.unflushedAtCrash} acked writes not yet in the medium. Its partner detected the loss ${s(f.detectedMs)} after the crash, ` +
    `fenced the old owner at ${s(f.fencedMs)}, replayed ${f.replayed} mirrored writes, and served the volume ${s(f.takenOverMs)} after the crash. ` +
    `Then ${checked} through the fs API (done ${s(f.verifiedMs)} after the crash)` +
    (lost(f) ? `: ACKED DATA WAS LOST (${f.checked?.bad.join('; ') ?? 'no check'}).` : ': nothing acked was lost.');
}
