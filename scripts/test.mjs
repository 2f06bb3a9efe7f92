// `npm test`: build the WebAssembly, type-check, run the Node tests, then the in-browser tests
// in Chromium. Ends with one summary line, "tandemfs: N passed, N failed".
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { chromiumPath } from './chromium.mjs';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules/.bin', name);
const totals = { passed: 0, failed: 0 };

function filesUnder(dir, suffix) {
  const out = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix)) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

/** Runs a step with its output shown as it comes; resolves to that output. */
function step(title, command, args) {
  console.log(`\n== ${title}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        output += chunk;
        (stream === child.stdout ? process.stdout : process.stderr).write(chunk);
      });
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') }));
  });
}

function count(output, pattern) {
  const matches = [...output.matchAll(pattern)];
  return matches.length ? Number(matches.at(-1)[1]) : 0;
}

async function main() {
  let ok = true;
  const must = async (title, command, args) => {
    const result = await step(title, command, args);
    if (result.code !== 0) {
      ok = false;
      totals.failed += 1;
    }
    return result;
  };

  if ((await must('build the WebAssembly hot path', 'node', ['scripts/asbuild.mjs'])).code !== 0) return finish(false);
  await must('type-check', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  await must('type-check the core without DOM or Node types', bin('tsc'), ['--noEmit', '-p', 'src/core/tsconfig.json']);

  const nodeTests = filesUnder('test/node', '.test.ts');
  if (nodeTests.length) {
    const { code, output } = await step('Node tests', 'node', ['--import', 'tsx', '--test', '--test-reporter=spec', ...nodeTests]);
    totals.passed += count(output, /ℹ pass (\d+)/g);
    totals.failed += count(output, /ℹ fail (\d+)/g);
    if (code !== 0) ok = false;
  }

  chromiumPath(); // installs Debian's chromium when it is missing and we may, or explains what to do
  const browser = await step('browser tests (Chromium)', bin('web-test-runner'), []);
  totals.passed += count(browser.output, /(\d+) passed, \d+ failed/g);
  totals.failed += count(browser.output, /\d+ passed, (\d+) failed/g);
  if (browser.code !== 0) ok = false;

  const e2eTests = filesUnder('test/e2e', '.test.ts');
  if (e2eTests.length) {
    const e2e = await step('end-to-end tests (tabs in Chromium, Playwright)', 'node', ['--import', 'tsx', '--test', '--test-reporter=spec', ...e2eTests]);
    totals.passed += count(e2e.output, /ℹ pass (\d+)/g);
    totals.failed += count(e2e.output, /ℹ fail (\d+)/g);
    if (e2e.code !== 0) ok = false;
  }
  return finish(ok);
}

function finish(ok) {
  if (!ok && totals.failed === 0) totals.failed = 1;
  console.log(`\ntandemfs: ${totals.passed} passed, ${totals.failed} failed`);
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(error.message ?? error);
  finish(false);
});
