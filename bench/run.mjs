// `npm run bench -- <name>`: runs bench/<name>.bench.ts in headless Chromium (on-disk profile,
// cross-origin isolated page) and prints its table, then, as the LAST line, one JSON object.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../scripts/chromium.mjs';
import { bundle, root, serve } from '../scripts/site.mjs';

const available = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', ''));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>; benches: ${available.join(', ')}`);
  process.exit(2);
}

// Benches that need more than one tab; tab 0 measures, the others are its peers.
const TABS = { write: 2, fs: 2 };
const tabs = TABS[name] ?? 1;

const out = join(root, 'dist/bench', name);
await bundle({
  [`${name}.bench`]: `bench/${name}.bench.ts`,
  'opfs-worker': 'src/browser/opfs-worker.ts',
  'hub-worker': 'src/browser/hub-worker.ts',
  'sync-handle-worker': 'bench/sync-handle-worker.ts',
}, out);
writeFileSync(join(out, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${name}</title><link rel="icon" href="data:,"><script type="module" src="./${name}.bench.js"></script>`);
const { server, url } = await serve([out]);
const profile = mkdtempSync(join(tmpdir(), 'tandemfs-bench-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
try {
  const peers = [];
  for (let tab = 1; tab < tabs; tab++) {
    const peer = await context.newPage();
    peer.on('pageerror', (error) => console.error(`peer ${tab} error: ${error.message}`));
    await peer.goto(`${url}?tab=${tab}`);
    peers.push(peer);
  }
  const page = await context.newPage();
  page.on('console', async (message) => {
    // The measuring tab asks for its peer's renderer to crash (a takeover bench).
    if (message.text() === 'bench:crash-peer') {
      // Tell the measuring tab when the renderer is gone: its takeover clock starts there.
      peers[0].once('crash', () => void page.evaluate(() => (globalThis.peerCrashedAt = performance.now())));
      const session = await context.newCDPSession(peers[0]);
      void session.send('Page.crash').catch(() => {}); // never answered: the renderer is gone
    } else console.error(`  ${message.text()}`);
  });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${url}?tab=0`);
  // The bench module may still be loading when goto() returns: wait for it to start.
  await page.waitForFunction(() => globalThis.tandemBench !== undefined, undefined, { timeout: 60_000 });
  const result = await page.evaluate(() => globalThis.tandemBench);
  printTable(result.title, result.columns, result.rows);
  for (const note of result.notes ?? []) console.log(note);
  console.log(JSON.stringify({ bench: name, ...result.figures }));
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

function printTable(title, columns, rows) {
  const cells = [columns, ...rows.map((row) => row.map(String))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(`\n${title}\n`);
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
  console.log();
}
