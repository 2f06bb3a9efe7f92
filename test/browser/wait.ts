// Helpers for browser tests of live links and nodes, which move on their own.

/** Polls `done` until it holds or `ms` pass: real links move on their own. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(2);
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function uniqueCluster(name: string): string {
  return `${name}-${crypto.randomUUID()}`;
}
