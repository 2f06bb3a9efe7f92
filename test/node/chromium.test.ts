// Finding Chromium: $CHROME_PATH wins, and a wrong one is an error that says what to do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs build script without types
import { chromiumPath } from '../../scripts/chromium.mjs';

test('CHROME_PATH names the browser to use', () => {
  const saved = process.env.CHROME_PATH;
  try {
    process.env.CHROME_PATH = process.execPath; // any existing file will do
    assert.equal(chromiumPath({ install: false }), process.execPath);
    process.env.CHROME_PATH = '/nowhere/chrome';
    assert.throws(() => chromiumPath({ install: false }), /CHROME_PATH is set to \/nowhere\/chrome, but there is no file there/);
  } finally {
    if (saved === undefined) delete process.env.CHROME_PATH;
    else process.env.CHROME_PATH = saved;
  }
});
