// The WebAssembly build agrees with the memory map in src/record/layout.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MEMORY_BASE } from '../../src/record/layout.js';
import { memory } from '../../build/release.js';

const asconfig = JSON.parse(readFileSync(new URL('../../asconfig.json', import.meta.url), 'utf8'));

test('asc places its static data at MEMORY_BASE, above the CRC tables and scratch regions', () => {
  assert.equal(asconfig.options.memoryBase, MEMORY_BASE);
});

test('the initial memory holds every region without growing', () => {
  assert.ok(asconfig.options.initialMemory * 65536 >= MEMORY_BASE + 65536);
  assert.ok(memory.buffer.byteLength >= MEMORY_BASE);
});
