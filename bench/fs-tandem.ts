// tandemfs as one of the file systems `npm run bench -- fs` compares: an FS in the measuring tab,
// which owns the volume, mirrored by an FS in the bench's second tab — so every write it
// acknowledges is in two tabs' IndexedDB, the durability the targets compare against.
import { FS, type NodeEvent } from '../src/index.js';
import type { FsLike, FsSystem } from './fs-systems.js';

type Command = { cmd: 'join' | 'leave'; cluster: string } | { cmd: 'joined'; cluster: string };

const control = new BroadcastChannel('tandemfs-bench-fs');

export function tandemFs(): FsSystem {
  let clusters = 0;
  const open = new Map<FsLike, { fs: FS; cluster: string; moves: string[] }>();
  return {
    name: 'tandemfs',
    key: 'tandemfs',
    notes: ['tandemfs: two tabs; this one owns the volume, the other mirrors it (acks wait for both).'],
    prepareAlone: true,
    async setup() {
      const cluster = `bench-fs-tandem-${Date.now()}-${++clusters}`;
      const fs = new FS(cluster);
      // How the volume left this tab, if it does: the line settle() prints names it.
      const moves: string[] = [];
      const started = performance.now();
      fs.on((event: NodeEvent) => {
        if (event.type === 'released') moves.push(`released (${event.why}) at ${((performance.now() - started) / 1000).toFixed(1)} s`);
      });
      await until(async () => (await fs.status()).owns.some((v) => v.volume === 0)); // alone: it adopts the volume
      await ask({ cmd: 'join', cluster });
      await until(async () => (await fs.status()).owns.some((v) => v.volume === 0 && !v.degraded));
      const promises = fs.promises as FsLike;
      open.set(promises, { fs, cluster, moves });
      return promises;
    },
    async teardown(promises) {
      const entry = open.get(promises);
      if (!entry) return;
      open.delete(promises);
      control.postMessage({ cmd: 'leave', cluster: entry.cluster } satisfies Command);
      await entry.fs.close();
    },
    /** Waits until the volume's writes are in OPFS, so its flushing does not land in another system's turn. */
    async settle(promises) {
      const entry = open.get(promises);
      if (!entry) return;
      await flushed(entry.fs);
      // The figures mean "this tab owns the volume": say so when it does not (a partner took the
      // volume over after this tab's main thread stalled), as every op then crosses the link.
      const status = await entry.fs.status();
      if (!status.owns.some((v) => v.volume === 0)) {
        console.log(`tandemfs: ${entry.cluster}: this tab no longer owns the volume (${entry.moves.join('; ') || 'no release seen'}); its ops go to the other tab`);
      }
    },
  };
}

/** The second tab: joins the clusters the measuring tab names, as their partner. */
export function tandemPeer(): void {
  const joined = new Map<string, FS>();
  control.onmessage = async ({ data }: MessageEvent<Command>) => {
    if (data.cmd === 'join') {
      const fs = new FS(data.cluster);
      await fs.status();
      joined.set(data.cluster, fs);
      control.postMessage({ cmd: 'joined', cluster: data.cluster } satisfies Command);
    } else if (data.cmd === 'leave') {
      const fs = joined.get(data.cluster);
      joined.delete(data.cluster);
      await fs?.close();
    }
  };
}

/**
 * Resolves once the volumes this tab owns hold nothing unflushed. A backlog of many thousand new
 * files (the 50,000-file volume) takes minutes to reach OPFS, so this fails only when the backlog
 * stops shrinking for a minute, not after a fixed time.
 */
async function flushed(fs: FS): Promise<void> {
  const unflushed = async () => (await fs.status()).owns.reduce((sum, v) => sum + v.unflushed, 0);
  let least = await unflushed();
  let progressAt = performance.now();
  while (least > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await unflushed();
    if (now < least) [least, progressAt] = [now, performance.now()];
    if (performance.now() - progressAt > 60_000) throw new Error(`bench: tandemfs flushed nothing for a minute (${least} ops unflushed)`);
  }
}

function ask(command: Command): Promise<void> {
  return new Promise((resolve) => {
    const answer = ({ data }: MessageEvent<Command>) => {
      if (data.cmd !== 'joined' || data.cluster !== command.cluster) return;
      control.removeEventListener('message', answer);
      resolve();
    };
    control.addEventListener('message', answer);
    control.postMessage(command);
  });
}

async function until(probe: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await probe())) {
    if (performance.now() > end) throw new Error('bench: tandemfs did not settle in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
