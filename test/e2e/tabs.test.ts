// End to end, in real Chromium tabs with real IndexedDB, OPFS, Web Locks and WebRTC: the write
// path between tabs, and what happens to acked writes when the owning tab closes, crashes, hangs
// or loses its medium I/O. The tests compare OPFS byte for byte with a model of the acked writes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { E2eBrowser, until, type Tab } from './browser.js';

let browser: E2eBrowser;
before(async () => {
  browser = await E2eBrowser.launch();
});
after(async () => {
  await browser?.close();
});

interface Acked {
  lsn: number;
  path: string;
  offset: number;
  text: string;
}

/** What a file must hold: the acked writes to it, applied in LSN order. */
function expected(acked: readonly Acked[], path: string): string {
  let content = '';
  for (const write of [...acked].filter((w) => w.path === path).sort((a, b) => a.lsn - b.lsn)) {
    content = content.padEnd(write.offset, '\0');
    content = content.slice(0, write.offset) + write.text + content.slice(write.offset + write.text.length);
  }
  return content;
}

let clusters = 0;

/**
 * `count` tabs of a fresh cluster serving volume 1, settled: an owner mirrored by a partner.
 * `first`, if given, is an open tab to use as the first; `inside`, the browser to open tabs in.
 */
async function cluster(count: number, node: Record<string, unknown> = {}, first?: Tab, inside = browser) {
  const name = `e2e-${process.pid}-${clusters++}`;
  const tabs: Tab[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const tab = i === 0 && first ? first : await inside.open();
    tabs.push(tab);
    ids.push(await tab.call<string>('start', { cluster: name, volumes: [1], node: { heartbeatMs: 100, hangTimeoutMs: 800, ...node } }));
  }
  const ownerIndex = await until(async () => {
    for (let i = 0; i < tabs.length; i++) {
      const status = await tabs[i]!.call<{ owns: Array<{ volume: number; degraded: boolean }> }>('status');
      if (status.owns.some((v) => v.volume === 1 && !v.degraded)) return i + 1;
    }
    return 0;
  });
  const owner = ownerIndex - 1;
  return { tabs, ids, owner, others: tabs.filter((_, i) => i !== owner), ownerId: ids[owner]! };
}

/** Writes, and notes the write in `acked` if it was acked; resolves to the error otherwise. */
async function write(tab: Tab, acked: Acked[], path: string, offset: number, text: string): Promise<{ error: string; message: string } | undefined> {
  const result = await tab.call<{ lsn?: number; error?: string; message?: string }>('write', 1, path, offset, text);
  if (result.lsn !== undefined) acked.push({ lsn: result.lsn, path, offset, text });
  return result.error === undefined ? undefined : { error: result.error, message: result.message ?? '' };
}

async function checkMedium(tab: Tab, acked: readonly Acked[]): Promise<void> {
  for (const path of new Set(acked.map((w) => w.path))) {
    const want = expected(acked, path);
    try {
      await until(async () => (await tab.call<string | null>('read', 1, path)) === want, 15_000);
    } catch (error) {
      const held = await tab.call<string | null>('read', 1, path).catch(() => null);
      throw new Error(`${path}: OPFS holds ${held === null ? 'no file' : `${held.length} chars`} where the acked writes make ${want.length}: ${String(error)}`);
    }
  }
}

async function ownsVolume(tab: Tab): Promise<boolean> {
  const status = await tab.call<{ owns: Array<{ volume: number }> }>('status');
  return status.owns.some((v) => v.volume === 1);
}

describe('tabs end to end', { concurrency: false }, () => {
  test("a write from a non-owner tab is acked only when the owner's journal and the partner's mirror hold it; flush and trim drain both", async () => {
    const { tabs, ids, owner, others, ownerId } = await cluster(2);
    const partnerId = ids.find((id) => id !== ownerId)!;
    await tabs[owner]!.call('failMedium', 1_000_000, 'quota'); // hold records unflushed to look at them
    const acked: Acked[] = [];
    await write(others[0]!, acked, '/notes.txt', 0, 'hello from the other tab');
    assert.equal(acked.length, 1);
    const key = [1, acked[0]!.lsn];
    assert.deepEqual(await tabs[owner]!.call('records', 'journal', ownerId), [key]);
    assert.deepEqual(await tabs[owner]!.call('records', 'mirror', partnerId), [key]);
    await tabs[owner]!.call('failMedium', 0, 'quota');
    await until(async () =>
      (await tabs[owner]!.call<unknown[]>('records', 'journal', ownerId)).length === 0 &&
      (await tabs[owner]!.call<unknown[]>('records', 'mirror', partnerId)).length === 0);
    await checkMedium(others[0]!, acked);
    for (const tab of tabs) await tab.page.close();
  });

  const failures = [['close', 2], ['crash', 2], ['crash', 3], ['hang', 2], ['broken I/O', 2], ['crash', 3, 'hub'], ['hang', 2, 'hub']] as const;
  for (const [kind, count, link = 'webrtc'] of failures) {
    const over = link === 'hub' ? ', linked through the hub' : '';
    test(`owner ${kind} with ${count} tabs${over}: every acked write survives, the survivor takes new writes${count === 3 ? ' and is mirrored again' : ''}`, async () => {
      const { tabs, owner, others } = await cluster(count, { maxFlushFailures: 3, link });
      const client = others[0]!;
      const acked: Acked[] = [];
      for (let i = 0; i < 20; i++) await write(client, acked, `/f${i % 4}`, i * 3, `w${i}`);
      assert.equal(acked.length, 20, 'writes before the failure were not all acked');
      const stream = (async () => {
        for (let i = 20; i < 60; i++) await write(client, acked, `/f${i % 4}`, i * 3, `w${i}`);
      })();
      const victim = tabs[owner]!;
      let hung: Promise<unknown> | undefined;
      if (kind === 'close') await victim.page.close();
      else if (kind === 'crash') await victim.crash();
      else if (kind === 'hang') hung = victim.hang(3000);
      else await victim.call('failMedium', 1_000_000, 'broken');
      await stream;
      await until(() => ownsVolume(client), 20_000);
      await write(client, acked, '/after', 0, 'new owner');
      assert.equal(acked.at(-1)!.path, '/after', 'the survivor did not accept a new write');
      await checkMedium(client, acked);
      if (count === 3) {
        await until(async () => (await client.call<{ owns: Array<{ degraded: boolean }> }>('status')).owns.every((v) => !v.degraded));
      }
      if (hung) {
        await hung;
        // Fenced: it owns nothing, and OPFS still equals the model (it wrote nothing stale).
        await until(async () => !(await ownsVolume(victim)));
        await new Promise((resolve) => setTimeout(resolve, 500));
        await checkMedium(client, acked);
      }
      for (const tab of tabs) if (!tab.page.isClosed()) await tab.page.close().catch(() => {});
    });
  }

  // Over the hub, the origin often runs out of space before the owner's first flush: its epoch
  // raise (after a journal write failed) then needed the state slot that had never been written
  // to grow, failed for quota, and the owner gave the volume up (ops timed out, two runs in three).
  for (const link of ['webrtc', 'hub'] as const) {
    test(`quota exhaustion: writes fail with ENOSPC, nothing acked is lost, and writing resumes once space is back${link === 'hub' ? ', linked through the hub' : ''}`, async () => {
      // A browser of its own: the cap binds only an origin whose storage is not open yet.
      const own = await E2eBrowser.launch();
      try {
        const first = await own.open();
        await first.capQuota(3 * 1024 * 1024);
        // A slow tab taken for hung would hand the volume over mid-test, and a takeover cannot
        // replay while the origin is out of space: no owner, so ops time out instead of ENOSPC.
        const { tabs, others } = await cluster(2, { hangTimeoutMs: 3000, link }, first, own);
        const client = others[0]!;
        const acked: Acked[] = [];
        const errors: Array<{ error: string; message: string }> = [];
        const text = (i: number) => `${i}`.padEnd(60_000, '.');
        // What the tabs went through, for a failure's message: each event, and a release's reason.
        const seen = async () => {
          const events = await Promise.all(tabs.map((tab) => tab.call<Array<{ type: string; why?: string }>>('events')));
          const steps = events.map((list) => list.filter(({ type }) => type !== 'degraded').map(({ type, why }) => (why ? `${type}:${why}` : type)));
          return `${acked.length} acked; errors: ${errors.map(({ error }) => error).join(' ')}; events: ${JSON.stringify(steps)}`;
        };
        for (let i = 0; i < 120; i++) {
          const error = await write(client, acked, `/q${i % 8}`, Math.floor(i / 8) * 60_000, text(i));
          if (!error) continue;
          errors.push(error);
          // Stop at the first other error: each would take the op timeout, and 120 of them an hour.
          if (error.error !== 'ENOSPC') assert.fail(`${error.error}: ${error.message} (${await seen()})`);
          assert.match(error.message, /quota/i);
        }
        assert.ok(errors.length > 0, `no write ran out of quota (${await seen()})`);
        assert.ok(acked.length > 0, `no write was acked before the quota ran out (${await seen()})`);
        await first.capQuota(); // space is back
        await checkMedium(client, acked);
        const after = await write(client, acked, '/after', 0, 'space again');
        assert.equal(acked.at(-1)!.path, '/after', `no write was acked once the quota was lifted: ${after?.message}`);
        await checkMedium(client, acked);
      } finally {
        await own.close();
      }
    });
  }

  test('closing every tab and opening a new one recovers every acked write', async () => {
    const { tabs, owner, others } = await cluster(2);
    await tabs[owner]!.call('failMedium', 1_000_000, 'quota'); // acked writes stay in journal and mirror only
    const acked: Acked[] = [];
    for (let i = 0; i < 10; i++) await write(others[0]!, acked, `/r${i % 3}`, i, `${i}`);
    assert.equal(acked.length, 10);
    for (const tab of tabs) await tab.page.close();
    const fresh = await browser.open();
    await fresh.call('start', { cluster: `e2e-${process.pid}-${clusters - 1}`, volumes: [1] });
    await until(() => ownsVolume(fresh));
    await checkMedium(fresh, acked);
    await fresh.page.close();
  });
});
