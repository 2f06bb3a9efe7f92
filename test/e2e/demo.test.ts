// The teaching demo, driven as a class would drive it, in headless Chromium: the headless run
// (`npm run demo -- --headless`) through every stage with its screenshots, then each fault button,
// slow motion, and the file check, read from the page's DOM.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
// @ts-expect-error: plain .mjs build scripts without types
import { crash, launchDemo, reached, runHeadlessDemo, STAGES, state, summary } from '../../scripts/demo-headless.mjs';

const WAIT = { timeout: 60_000 };

interface Demo {
  cluster(): string;
  open(cluster: string): Promise<Page>;
  close(): Promise<void>;
}

interface DemoState {
  owns: Array<{ volume: number }>;
}

/** Two tabs of a fresh cluster, paired: which owns the volume, and which mirrors it. */
async function pair(demo: Demo): Promise<{ owner: Page; partner: Page }> {
  const cluster = demo.cluster();
  const first = await demo.open(cluster);
  const second = await demo.open(cluster);
  await Promise.all([reached(first, 'paired'), reached(second, 'paired')]);
  const owner = ((await state(first)) as DemoState).owns.length > 0 ? first : second;
  return { owner, partner: owner === first ? second : first };
}

const entry = (page: Page, kind: string) => page.waitForSelector(`#timeline li[data-kind="${kind}"]`, WAIT).then((item) => item.textContent());

describe('the headless demo', () => {
  test('goes through every stage: paired, writing, owner lost, replaying, taken over, data verified, with a screenshot of each', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tandemfs-demo-shots-'));
    try {
      const result = await runHeadlessDemo({ out });
      assert.deepEqual(result.stages.map((s: { stage: string }) => s.stage), STAGES);
      for (const { stage, screenshot, dom } of result.stages as Array<{ stage: string; screenshot: string; dom: { stage: string; history: string; text: string } }>) {
        assert.ok(dom.history.split(' ').includes(stage), `the page's stages ${dom.history} lack ${stage}`);
        // A stage that lasts a moment (replaying) may have moved on by the time it is read; none goes back.
        assert.ok(STAGES.indexOf(dom.stage) >= STAGES.indexOf(stage), `at ${stage} the page said ${dom.stage}`);
        if (['paired', 'writing', 'verified'].includes(stage)) assert.equal(dom.stage, stage);
        assert.ok(dom.text.length > 20, `no sentence shown at ${stage}`);
        const png = readFileSync(screenshot);
        assert.ok(png.subarray(1, 4).toString() === 'PNG' && png.length > 20_000, `${screenshot} is not a screenshot of the page`);
      }
      const f = result.figures;
      assert.ok(f.replayed > 0, 'the owner crashed with nothing to replay');
      assert.ok(f.detectedMs <= f.fencedMs && f.fencedMs <= f.takenOverMs && f.takenOverMs <= f.verifiedMs, JSON.stringify(f));
      assert.equal(f.checked.bad.length, 0, f.checked.bad.join('; '));
      assert.ok(f.checked.intact >= f.ackedBeforeCrash, `${f.checked.intact} files checked, ${f.ackedBeforeCrash} acked before the crash`);
      assert.match(summary(result), /nothing acked was lost/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the demo page', () => {
  let demo: Demo;
  before(async () => {
    demo = await launchDemo();
  });
  after(async () => {
    await demo?.close();
  });

  test("each tab shows its links with their state and round-trip time", async () => {
    const { owner, partner } = await pair(demo);
    for (const page of [owner, partner]) {
      // The first round trip is measured within a second of pairing.
      await page.waitForFunction(() => /: up, round trip \d+\.\d ms$/.test(document.querySelector('#links li[data-state="up"]')?.textContent ?? ''), undefined, WAIT);
    }
  });

  test('a hung owner is taken over; when it wakes, it learns it was fenced and gives the volume up', async () => {
    const { owner, partner } = await pair(demo);
    await owner.fill('#hang-seconds', '6');
    await owner.click('#fault-hang');
    assert.match((await entry(partner, 'fault')) ?? '', /hangs for 6 s/);
    assert.match((await entry(partner, 'detected')) ?? '', /fell silent/);
    await entry(partner, 'fenced');
    await entry(partner, 'taken-over');
    assert.match((await entry(owner, 'released')) ?? '', /fenced/);
  });

  test("an owner whose storage I/O breaks gives its volume up at its next flush, and the saved file survives", async () => {
    const { owner, partner } = await pair(demo);
    await owner.click('#fault-break');
    await owner.fill('#file-text', 'saved just before the storage broke');
    await owner.click('#file-save');
    await owner.waitForFunction(() => /^acked in/.test(document.querySelector('#file-result')?.textContent ?? ''), undefined, WAIT);
    assert.match((await entry(owner, 'released')) ?? '', /gave-up/);
    await entry(partner, 'taken-over');
    await partner.click('#file-load');
    await partner.waitForFunction(() => (document.querySelector('#file-text') as HTMLTextAreaElement).value === 'saved just before the storage broke', undefined, WAIT);
  });

  test('a closed owner tab is taken over', async () => {
    const { owner, partner } = await pair(demo);
    await owner.click('#fault-close');
    await owner.waitForURL(/closed\.html$/, WAIT);
    assert.match((await entry(partner, 'detected')) ?? '', /no owner/);
    await entry(partner, 'taken-over');
  });

  test('slow motion holds each step in every tab, and the ack waits for the held steps', async () => {
    const { owner, partner } = await pair(demo);
    await owner.click('#file-save');
    await owner.waitForFunction(() => /^acked in/.test(document.querySelector('#file-result')?.textContent ?? ''), undefined, WAIT);
    await partner.selectOption('#slow', '500');
    await owner.waitForFunction(() => (document.querySelector('#slow') as HTMLSelectElement).value === '500', undefined, WAIT);
    await owner.click('#file-save');
    const result = await owner.waitForFunction(() => {
      const text = document.querySelector('#file-result')?.textContent ?? '';
      return /^acked in/.test(text) && text;
    }, undefined, WAIT);
    const ms = Number(/acked in ([\d.]+) ms/.exec(String(await result.jsonValue()))![1]);
    // send, the partner's mirror put and its answer, each held 500 ms.
    assert.ok(ms >= 1500, `acked in ${ms} ms with each step held 500 ms`);
    await partner.selectOption('#slow', '0');
  });

  test('after a crash of the owner, every acked file of a burst reads back through the fs API', async () => {
    const { owner, partner } = await pair(demo);
    await owner.fill('#burst-count', '200');
    await owner.click('#burst-run');
    await owner.waitForFunction(() => (globalThis as any).tandemDemo.state().burst.done === 200, undefined, WAIT);
    await crash(owner);
    await reached(partner, 'verified');
    const checked = ((await state(partner)) as { checked: { intact: number; bad: string[] } }).checked;
    assert.deepEqual(checked.bad, []);
    assert.equal(checked.intact, 200);
    const listing = await partner.waitForSelector('#files-list li', WAIT);
    assert.match((await listing.textContent()) ?? '', /bursts\//);
  });
});
