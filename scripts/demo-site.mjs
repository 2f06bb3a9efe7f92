// The demo's site: bundles public/ (the page, the record page, and the workers tandemfs starts
// beside the page script) and serves it on localhost, on `port` or, when that is busy, a free one.
import { join } from 'node:path';
import { bundle, root, serve } from './site.mjs';

export async function demoSite(port = 0) {
  const out = join(root, 'dist/public');
  await bundle({ demo: 'public/demo.ts', record: 'public/record.ts', 'opfs-worker': 'src/browser/opfs-worker.ts', 'hub-worker': 'src/browser/hub-worker.ts' }, out);
  const dirs = [out, join(root, 'public')];
  return serve(dirs, port).catch((error) => {
    if (error.code !== 'EADDRINUSE') throw error;
    console.log(`port ${port} is busy; using a free one`);
    return serve(dirs, 0);
  });
}
