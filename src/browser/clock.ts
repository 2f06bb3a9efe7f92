// The Clock and Random ports in a browser (or worker).
import type { Clock, Random } from '../core/ports.js';

export const browserClock: Clock = {
  now: () => performance.now(),
  after(ms, callback) {
    const id = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(id) };
  },
};

export const browserRandom: Random = {
  next() {
    const word = new Uint32Array(1);
    crypto.getRandomValues(word);
    return word[0]! / 2 ** 32;
  },
};
