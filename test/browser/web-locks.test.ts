// The Locks contract against real Web Locks in Chromium.
import { locksContract } from '../../src/core/locks-contract.js';
import { WebLocks } from '../../src/browser/web-locks.js';

const make = async () => ({
  a: new WebLocks(),
  b: new WebLocks(),
  tick: () => new Promise<void>((resolve) => setTimeout(resolve, 30)),
});

describe('WebLocks', () => {
  for (const contractCase of locksContract()) {
    it(contractCase.name, () => contractCase.run(make));
  }
});
