import { run } from './src/sim/scenario.ts';
for (let seed = 1; seed <= 1000; seed++) { process.stdout.write(seed + ' '); const t = performance.now(); const r = await run({ seed, ops: 100 }); const dt = performance.now() - t; if (dt > 1500 || !r.ok) { console.log('\n', seed, dt.toFixed(0), r.ok, r.stats.virtualMs, r.violations.slice(0,2)); } }
