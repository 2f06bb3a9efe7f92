// Shared by the in-browser benches: timing that survives a noisy machine.
// Each candidate runs in short batches, interleaved round by round with the others, and we keep
// medians; comparisons are medians of per-round ratios, so a slow moment hits all sides alike.

export interface BenchResult {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  notes?: string[];
  /** null: a figure this run could not compute (e.g. a ratio to a system not in the run). */
  figures: Record<string, number | string | null>;
}

declare global {
  // Read by bench/run.mjs once the bench resolves.
  var tandemBench: Promise<BenchResult>;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** How many calls of `fn` take about `targetMs`. */
export function calibrate(fn: () => void, targetMs = 20): number {
  let n = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    const elapsed = performance.now() - start;
    if (elapsed >= targetMs / 4) return Math.max(1, Math.round((n * targetMs) / Math.max(elapsed, 0.001)));
    n *= 4;
  }
}

/** Milliseconds per call of each candidate, per round; candidates interleave within each round. */
export function interleave(candidates: Record<string, () => void>, rounds = 21): Record<string, number[]> {
  const counts = Object.fromEntries(Object.entries(candidates).map(([name, fn]) => [name, calibrate(fn)]));
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(candidates).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const n = counts[name]!;
      const start = performance.now();
      for (let i = 0; i < n; i++) fn();
      times[name]!.push((performance.now() - start) / n);
    }
  }
  return times;
}

/** Median over rounds of a[i] / b[i]. */
export function ratioOfRounds(a: number[], b: number[]): number {
  return median(a.map((value, i) => value / b[i]!));
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;
