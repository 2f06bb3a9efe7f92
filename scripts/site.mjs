// Bundles browser entry points with esbuild and serves them on localhost, for the demo and the
// benches. Pages are served cross-origin isolated (COOP/COEP), which makes performance.now()
// precise to 5 µs in Chromium.
import { copyFileSync, mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import * as esbuild from 'esbuild';

export const root = new URL('..', import.meta.url).pathname;

/**
 * Bundles `entries` into `outdir`, with the WebAssembly beside them. Entries are paths from the
 * project root, or { out: path } to name the output (a worker must sit next to the page script
 * that starts it with `new URL('./name.js', import.meta.url)`).
 */
export async function bundle(entries, outdir) {
  mkdirSync(outdir, { recursive: true });
  const entryPoints = Array.isArray(entries)
    ? entries.map((entry) => join(root, entry))
    : Object.entries(entries).map(([out, entry]) => ({ out, in: join(root, entry) }));
  await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    // The asc bindings read the .wasm with node:fs under Node; a browser bundle never takes that branch.
    external: ['node:*'],
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'build/release.wasm'), join(outdir, 'release.wasm'));
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Serves the files of `dirs` (first match wins) on 127.0.0.1; resolves to the server and its URL. */
export function serve(dirs, port = 0) {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    const relative = path.endsWith('/') ? `${path}index.html` : path;
    const file = dirs.map((dir) => join(dir, relative)).find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    if (!file || relative.includes('..')) {
      response.writeHead(404, headers).end('not found');
      return;
    }
    headers['Content-Type'] = TYPES[extname(file)] ?? 'application/octet-stream';
    response.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}
