// `npm run sim -- --seed S --ops N` runs one seed; `npm run sim -- --sweep [--seeds K] [--from S]`
// runs many. Prints throughput and fault counts; a failure prints its seed, the command that
// replays it, and the trace of its last steps.
import { parseArgs } from 'node:util';
import { run, type FaultKind, type RunResult } from './scenario.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    ops: { type: 'string', default: '100' },
    sweep: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '10000' },
    from: { type: 'string', default: '1' },
  },
});

const ops = Number(values.ops);
const seeds = values.sweep
  ? Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i)
  : [Number(values.seed ?? 1)];

function report(result: RunResult): void {
  console.log(`\nFAILED seed ${result.seed}`);
  for (const violation of result.violations) console.log(`  ${violation}`);
  console.log(`replay: npm run sim -- --seed ${result.seed} --ops ${ops}`);
  console.log('last steps:');
  for (const line of result.trace) console.log(`  ${line}`);
}

const started = performance.now();
const faults: Partial<Record<FaultKind, number>> = {};
let submitted = 0;
let acked = 0;
let failures = 0;
for (const seed of seeds) {
  const result = await run({ seed, ops });
  submitted += result.stats.submitted;
  acked += result.stats.acked;
  for (const [kind, n] of Object.entries(result.stats.faults)) faults[kind as FaultKind] = (faults[kind as FaultKind] ?? 0) + n;
  if (!result.ok) {
    failures++;
    report(result);
    if (failures >= 3) break;
  } else if (seeds.length === 1) {
    for (const line of result.trace) console.log(`  ${line}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`\n${seeds.length} seed(s), ${submitted} simulated ops (${acked} acked) in ${seconds.toFixed(1)} s: ${Math.round(submitted / seconds)} simulated ops/s`);
console.log(`faults: ${Object.entries(faults).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none'}`);
console.log(failures === 0 ? 'all invariants held' : `${failures} seed(s) failed`);
process.exit(failures === 0 ? 0 : 1);
