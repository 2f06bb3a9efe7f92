// `npm run demo`: serves the demo (as `npm start` does); `npm run demo -- --headless [--out DIR]`
// runs it in headless Chromium instead — two tabs, writes, a crash of the owner, takeover, a check
// of the data — saving a screenshot of each stage, and ends with a summary of the timings.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { headless: { type: 'boolean', default: false }, out: { type: 'string' } } });

if (!values.headless) {
  await import('./serve.mjs');
} else {
  const { runHeadlessDemo, summary, lost } = await import('./demo-headless.mjs');
  const out = resolve(values.out ?? join('demo-output', new Date().toISOString().replace(/[:.]/g, '-')));
  console.log(`tandemfs headless demo: screenshots go to ${out}`);
  try {
    const result = await runHeadlessDemo({ out, log: (line) => console.log(`  ${line}`) });
    console.log(`\nscreenshots: ${result.stages.map((stage) => stage.screenshot.slice(out.length + 1)).join(', ')} in ${out}`);
    console.log(`\n${summary(result)}`);
    if (lost(result.figures)) process.exitCode = 1;
  } catch (error) {
    console.error(`the headless demo failed: ${error.message ?? error}`);
    process.exitCode = 1;
  }
}
