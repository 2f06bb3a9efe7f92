// Builds the AssemblyScript hot path (debug and release targets, ESM bindings) into build/.
// Skipped when every build output is newer than every input, so tests and benches start fast.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const inputs = [
  ...readdirSync(join(root, 'assembly')).map((name) => join(root, 'assembly', name)),
  join(root, 'src/record/layout.ts'),
  join(root, 'asconfig.json'),
];
const outputs = ['release.wasm', 'release.js', 'release.d.ts', 'debug.wasm', 'debug.js'].map((n) => join(root, 'build', n));

const newestInput = Math.max(...inputs.map((path) => statSync(path).mtimeMs));
const upToDate = outputs.every((path) => existsSync(path) && statSync(path).mtimeMs >= newestInput);

if (!upToDate) {
  const asc = join(root, 'node_modules/.bin/asc');
  for (const target of ['release', 'debug']) {
    execFileSync(asc, ['assembly/index.ts', '--target', target], { cwd: root, stdio: 'inherit' });
  }
}
