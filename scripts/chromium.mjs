// Finds the Chromium that tests, benches and the demo drive; installs Debian's when it can.
// Browser downloads by test tools do not work on machines without open internet, so tandemfs
// uses a system Chromium: $CHROME_PATH, else /usr/bin/chromium.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const DEBIAN_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function canApt() {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The path of a Chromium binary, installing Debian's package first if it is missing and we may. */
export function chromiumPath({ install = true } = {}) {
  const wanted = process.env.CHROME_PATH;
  if (wanted) {
    if (existsSync(wanted)) return wanted;
    throw new Error(`CHROME_PATH is set to ${wanted}, but there is no file there.`);
  }
  if (existsSync(DEBIAN_PATH)) return DEBIAN_PATH;
  if (install && canApt()) {
    console.error('tandemfs: Chromium is missing; installing Debian\'s chromium package (apt-get) ...');
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], {
      stdio: 'inherit',
    });
    if (existsSync(DEBIAN_PATH)) return DEBIAN_PATH;
  }
  throw new Error(
    'tandemfs needs Chromium to run its tests, benches and demo, and none was found.\n' +
      '  On Debian or Ubuntu, as root:  apt-get update && apt-get install -y chromium\n' +
      '  Or point CHROME_PATH at any Chromium or Chrome binary:  CHROME_PATH=/path/to/chrome npm test',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(chromiumPath());
