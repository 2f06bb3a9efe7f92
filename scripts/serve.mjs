// `npm start`: bundles the demo and serves public/ on localhost.
import { demoSite } from './demo-site.mjs';

const port = Number(process.env.PORT ?? 8080);
const { url } = await demoSite(port);
console.log(`tandemfs demo: open ${url} in two or three tabs of one browser.`);
console.log('The tabs pair; write in one, then hang, break or close the owner tab and watch the other take over.');
console.log('(Ctrl-C to stop)');
