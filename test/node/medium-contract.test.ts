// The Medium contract (src/core/medium-contract.ts), run against the in-memory medium.
import { test } from 'node:test';
import { mediumContract, type MediumUnderTest } from '../../src/core/medium-contract.js';
import { MemoryMedium } from '../../src/sim/memory-medium.js';

async function make(): Promise<MediumUnderTest> {
  const medium = new MemoryMedium();
  return {
    medium,
    read: async (volume, path) => medium.fs(volume).read(path, 0, Infinity),
    exists: async (volume, path) => medium.fs(volume).stat(path) !== undefined,
  };
}

for (const contractCase of mediumContract()) {
  test(`MemoryMedium: ${contractCase.name}`, () => contractCase.run(make));
}
