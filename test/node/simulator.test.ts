// The simulator: a seeded sweep over random faults holds every invariant; the same seed always
// gives the same run; and the sweep has teeth — it catches each deliberately broken core.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run, type RunResult } from '../../src/sim/scenario.js';
import { BROKEN_VARIANTS, mutatedCore } from './broken-variants.js';

const SEEDS = 2000;
const OPS = 100;
/** Every broken variant must be caught within this many seeds of the sweep. */
const TEETH_SEEDS = 200;

function failureReport(result: RunResult): string {
  return [
    `seed ${result.seed}:`,
    ...result.violations,
    `replay: npm run sim -- --seed ${result.seed} --ops ${OPS}`,
    ...result.trace,
  ].join('\n');
}

describe('simulator', () => {
  test(`every invariant holds over ${SEEDS} seeds of ${OPS} ops with random faults`, async () => {
    const started = performance.now();
    let ops = 0;
    const faults: Record<string, number> = {};
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await run({ seed, ops: OPS });
      assert.ok(result.ok, failureReport(result));
      ops += result.stats.submitted;
      for (const [kind, n] of Object.entries(result.stats.faults)) faults[kind] = (faults[kind] ?? 0) + n;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`sweep: ${SEEDS} seeds, ${ops} simulated ops in ${seconds.toFixed(1)} s (${Math.round(ops / seconds)} ops/s)`);
    console.log(`faults: ${Object.entries(faults).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
    // Every kind of fault the issue names was injected, more than once.
    for (const kind of ['crash', 'crash+wipe', 'hang', 'cut', 'medium-transient', 'medium-broken', 'store-quota', 'medium-quota',
      'corrupt-stored', 'corrupt-in-flight', 'cluster-restart', 'leave']) {
      assert.ok((faults[kind] ?? 0) > 10, `too few ${kind} faults: ${faults[kind] ?? 0}`);
    }
  });

  // Seeds beyond the sweep's range that once broke an invariant, with the bug each one found.
  const FOUND: Record<number, string> = {
    7273: 'a node paired with an owner just before the owner learnt it was fenced, and when that owner hung later, stole the volume from the node taking it over',
    700999: "with the takeover's early claim, a hung owner's flush that was already out was refused at the medium, and the checker took that refusal for a fenced node writing",
    209964: "a takeover waited 10 s on a slow store before replaying anything, and the acked writes in its mirror were lost when it and the old owner crashed with their stores",
    2012661: "an owner re-paired after a damaged mirror message acked records from its journal alone meanwhile, and said it was mirrored again once the partner held what was sent at pairing, before it held those",
    2004540: "a partner's steal of a hung owner's volume was dropped because its sweep was trying to adopt the volume free at that moment, so the owner kept it through a 3 s hang",
  };
  for (const [seed, bug] of Object.entries(FOUND)) {
    test(`seed ${seed} holds every invariant (it found: ${bug})`, async () => {
      const result = await run({ seed: Number(seed), ops: OPS });
      assert.ok(result.ok, failureReport(result));
    });
  }

  test('the same seed gives the same run, step for step', async () => {
    for (const seed of [7, 1234]) {
      const first = await run({ seed, ops: OPS });
      const second = await run({ seed, ops: OPS });
      assert.deepEqual(second.trace, first.trace);
      assert.deepEqual(second.stats, first.stats);
    }
  });

  describe('has teeth: the sweep catches a core that', () => {
    for (const [name, { mutations, breaks }] of Object.entries(BROKEN_VARIANTS)) {
      test(name, async () => {
        const { makeNode, dispose } = await mutatedCore(mutations);
        try {
          for (let seed = 1; seed <= TEETH_SEEDS; seed++) {
            const result = await run({ seed, ops: OPS, makeNode });
            const caught = result.violations.find((violation) => breaks.test(violation));
            if (caught) {
              console.log(`${name}: caught at seed ${seed}: ${caught}`);
              return;
            }
          }
          assert.fail(`no seed in 1..${TEETH_SEEDS} showed a core that ${name} breaking ${breaks}`);
        } finally {
          await dispose();
        }
      });
    }
  });
});
