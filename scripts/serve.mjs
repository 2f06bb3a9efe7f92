// `npm start`: bundles the demo and serves public/ on localhost.
import { join } from 'node:path';
import { bundle, root, serve } from './site.mjs';

const out = join(root, 'dist/public');
await bundle(['public/demo.ts'], out);
const port = Number(process.env.PORT ?? 8080);
const { url } = await serve([out, join(root, 'public')], port).catch(async (error) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.log(`port ${port} is busy; using a free one`);
  return serve([out, join(root, 'public')], 0);
});
console.log(`tandemfs demo: open ${url} (Ctrl-C to stop)`);
