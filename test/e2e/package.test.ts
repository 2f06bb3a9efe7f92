// End to end, as a user gets tandemfs: `npm pack` (which builds dist/ through prepack), a tiny app
// in a temp dir that depends on the tarball and does `import … from 'tandemfs'`, a production build
// of it with Vite's default configuration, served on localhost and opened in Chromium. The page
// must show the bytes it wrote through a node and read back from OPFS: so the bundler must have
// emitted the OPFS worker and the WebAssembly (both also looked for in its output).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { build } from 'vite';
// @ts-expect-error: plain .mjs build scripts without types
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';
// @ts-expect-error: plain .mjs build scripts without types
import { root, serve } from '../../scripts/site.mjs';

const TEXT = 'hello from a bundled app';

/**
 * The app's code, as a user would write it: the one place to change what the app does (to use
 * `FS` once the entry exports it, say). It puts `ok: <the text read back>` or `error: …` in #out.
 */
const APP_MAIN = `
import { FS, decodeRecord, encodeRecord } from 'tandemfs';

const out = document.getElementById('out');
try {
  // The codec through the public entry (its WebAssembly must have come along with the bundle).
  const data = new TextEncoder().encode(${JSON.stringify(TEXT)});
  decodeRecord(encodeRecord({ volume: 0, epoch: 1, lsn: 1, opId: 1, op: { type: 'write', path: '/x', offset: 0, data } }));
  // The fs API, as an app uses it: read-your-writes, before and after the flush into OPFS.
  const fs = new FS('pack-test');
  await fs.promises.mkdir('/notes');
  await fs.promises.writeFile('/notes/hello.txt', ${JSON.stringify(TEXT)});
  const text = await fs.promises.readFile('/notes/hello.txt', 'utf8');
  const names = await fs.promises.readdir('/notes');
  out.textContent = 'ok: ' + text + ' in ' + names.join(',');
} catch (error) {
  out.textContent = 'error: ' + (error?.stack ?? error);
}
`;

const APP_HTML = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>tandemfs pack test</title>
<pre id="out">running</pre>
<script type="module" src="./main.js"></script>
`;

/** Runs a command; resolves to its output, or rejects with it. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`))));
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

test('an app built with Vite imports tandemfs from its packed tarball and writes through it in Chromium', { timeout: 240_000 }, async (t) => {
  let phase = performance.now();
  const took = (what: string) => {
    t.diagnostic(`${what}: ${Math.round(performance.now() - phase)} ms`);
    phase = performance.now();
  };
  const work = mkdtempSync(join(tmpdir(), 'tandemfs-pack-'));
  let server: Server | undefined;
  let context: BrowserContext | undefined;
  try {
    // The tarball, as `npm publish` would make it.
    const packs = join(work, 'pack');
    mkdirSync(packs);
    await run('npm', ['pack', '--pack-destination', packs], root);
    const [tarball] = readdirSync(packs).filter((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack made no tarball');
    took('npm pack (build included)');
    const listed = (await run('tar', ['-tzf', join(packs, tarball)], work)).split('\n').filter(Boolean).map((path) => path.replace(/^package\//, ''));
    for (const path of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser/opfs-worker.js', 'dist/src/browser/hub-worker.js', 'dist/build/release.js']) {
      assert.ok(listed.includes(path), `the tarball lacks ${path}`);
    }
    const strays = listed.filter((path) => !/^(package\.json|README\.md|LICENSE)$/.test(path) && !/^dist\/(src|build)\//.test(path));
    assert.deepEqual(strays, [], 'the tarball holds files beyond dist/src, dist/build, README and LICENSE');
    const sources = listed.filter((path) => /(^|\/)sim\/|\.test\.|-contract\./.test(path) || (path.endsWith('.ts') && !path.endsWith('.d.ts')));
    assert.deepEqual(sources, [], 'the tarball holds sources, tests or the simulator');

    // The app: depends on the tarball, imports 'tandemfs', built by Vite with no configuration.
    const app = join(work, 'app');
    mkdirSync(app);
    const manifest = { name: 'tandemfs-pack-app', private: true, type: 'module', dependencies: { tandemfs: `file:${join(packs, tarball)}` } };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(app, 'index.html'), APP_HTML);
    writeFileSync(join(app, 'main.js'), APP_MAIN);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
    took('npm install');
    await build({ root: app, configFile: false, logLevel: 'warn', build: { outDir: join(app, 'dist') } });

    took('vite build');
    const emitted = filesUnder(join(app, 'dist'));
    const scripts = emitted.filter((path) => path.endsWith('.js'));
    assert.ok(scripts.some((path) => /opfs-worker/.test(path)), `Vite emitted no OPFS worker: ${emitted.join(', ')}`);
    assert.ok(scripts.some((path) => /hub-worker/.test(path)), `Vite emitted no hub worker: ${emitted.join(', ')}`);
    // The WebAssembly ships inlined in its bindings (scripts/build.mjs): "\0asm" in base64. A
    // .wasm file of its own would do as well.
    const wasm = emitted.some((path) => path.endsWith('.wasm')) || scripts.some((path) => /["'`]AGFzbQ/.test(readFileSync(join(app, 'dist', path), 'utf8')));
    assert.ok(wasm, `Vite emitted no WebAssembly: ${emitted.join(', ')}`);

    // Served from 127.0.0.1 (a secure context, as OPFS needs) and opened in Chromium.
    const served = (await serve([join(app, 'dist')])) as { server: Server; url: string };
    server = served.server;
    context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
    took('Chromium start');
    const page = await context.newPage();
    const log: string[] = [];
    page.on('console', (message) => log.push(`console: ${message.text()}`));
    page.on('pageerror', (error) => log.push(`page error: ${error.message}`));
    page.on('response', (response) => response.status() >= 400 && log.push(`HTTP ${response.status()} ${response.url()}`));
    await page.goto(served.url);
    const out = page.locator('#out');
    try {
      await page.waitForFunction(() => !/^running/.test(document.getElementById('out')?.textContent ?? 'running'), null, { timeout: 90_000, polling: 100 });
    } catch (error) {
      throw new Error(`the app never finished: ${await out.textContent()}\n${log.join('\n')}`, { cause: error });
    }
    took('page: node start, write, read back');
    assert.equal(await out.textContent(), `ok: ${TEXT} in hello.txt`, log.join('\n'));
  } finally {
    await context?.close();
    server?.close();
    rmSync(work, { recursive: true, force: true });
  }
});
