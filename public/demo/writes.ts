// The write panel: edit a text file and save it, or run a burst of N writes (8 in flight) with a
// progress bar and its ack latencies charted as they come. Every write goes through the fs API;
// the paths of acked burst files are told to the other tabs, which check them after a takeover.
import type { FsPromises } from '../../src/index.js';
import { wall, type BurstView, type Bus } from './bus.js';

const IN_FLIGHT = 8;

/** What a burst file holds: derived from its path, so that any tab can check it. */
export const burstContent = (path: string): string => `${path}\nwritten by the tandemfs demo; acked only once in a journal and a mirror\n`;

export interface BurstFigures extends BurstView {
  failed: number;
  /** Ack latency percentiles and the rate, ms and files/s. */
  p50: number;
  p95: number;
  max: number;
  rate: number;
  lastError?: string;
}

const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;

export class WritePanel {
  readonly #fs: FsPromises;
  readonly #bus: Bus;
  readonly #self: string;
  #latencies: number[] = [];
  #figures: BurstFigures = { done: 0, total: 0, running: false, failed: 0, p50: 0, p95: 0, max: 0, rate: 0 };

  constructor(fs: FsPromises, bus: Bus, self: string) {
    this.#fs = fs;
    this.#bus = bus;
    this.#self = self;
    $('#file-save').addEventListener('click', () => void this.#save());
    $('#file-load').addEventListener('click', () => void this.#load());
    $('#burst-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.burst(Number($<HTMLInputElement>('#burst-count').value));
    });
  }

  get figures(): BurstFigures {
    return { ...this.#figures };
  }

  async #save(): Promise<void> {
    const path = $<HTMLInputElement>('#file-path').value;
    const result = $('#file-result');
    const start = performance.now();
    result.textContent = 'saving…';
    try {
      await this.#fs.mkdir(path.slice(0, path.lastIndexOf('/')) || '/', { recursive: true });
      await this.#fs.writeFile(path, $<HTMLTextAreaElement>('#file-text').value);
      result.textContent = `acked in ${(performance.now() - start).toFixed(1)} ms: in the owner's journal and its partner's mirror`;
    } catch (error) {
      result.textContent = `not acked: ${describe(error)}`;
    }
  }

  async #load(): Promise<void> {
    const path = $<HTMLInputElement>('#file-path').value;
    try {
      $<HTMLTextAreaElement>('#file-text').value = await this.#fs.readFile(path, 'utf8');
      $('#file-result').textContent = `read ${path}`;
    } catch (error) {
      $('#file-result').textContent = describe(error);
    }
  }

  /** Writes `count` files, IN_FLIGHT at a time; resolves when every write is acked or failed. */
  async burst(count: number): Promise<BurstFigures> {
    if (this.#figures.running || !(count > 0)) return this.figures;
    const dir = `/bursts/${this.#self.slice(0, 4)}-${Date.now().toString(36)}`;
    await this.#fs.mkdir(dir, { recursive: true });
    this.#latencies = [];
    this.#figures = { done: 0, total: count, running: true, failed: 0, p50: 0, p95: 0, max: 0, rate: 0 };
    this.#bus.post({ type: 'burst', node: this.#self, total: count, at: wall() });
    const start = performance.now();
    let next = 0;
    let acked: string[] = [];
    const tell = setInterval(() => {
      if (acked.length) this.#bus.post({ type: 'acked', node: this.#self, paths: acked });
      acked = [];
    }, 100);
    const worker = async () => {
      while (next < count) {
        const path = `${dir}/file-${String(++next).padStart(5, '0')}.txt`;
        const began = performance.now();
        try {
          await this.#fs.writeFile(path, burstContent(path));
          this.#latencies.push(performance.now() - began);
          acked.push(path);
          this.#figures.done += 1;
        } catch (error) {
          this.#figures.failed += 1;
          this.#figures.lastError = describe(error);
        }
        this.#measure(start);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    clearInterval(tell);
    if (acked.length) this.#bus.post({ type: 'acked', node: this.#self, paths: acked });
    this.#figures.running = false;
    this.#measure(start);
    return this.figures;
  }

  #measure(start: number): void {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    Object.assign(this.#figures, { p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0, rate: this.#figures.done / ((performance.now() - start) / 1000) });
  }

  /** Redraws the progress bar, the figures and the latency chart. */
  render(): void {
    const f = this.#figures;
    const progress = $<HTMLProgressElement>('#burst-progress');
    progress.max = Math.max(1, f.total);
    progress.value = f.done + f.failed;
    $('#burst-figures').textContent = f.total === 0 ? 'no burst yet' :
      `${f.done} of ${f.total} acked${f.failed ? `, ${f.failed} failed (${f.lastError})` : ''} · ack p50 ${f.p50.toFixed(1)} ms · p95 ${f.p95.toFixed(1)} ms · max ${f.max.toFixed(0)} ms · ${Math.round(f.rate)} files/s`;
    this.#chart();
  }

  #chart(): void {
    const svg = $<SVGSVGElement>('#burst-chart');
    const points = this.#latencies.slice(-2000);
    const width = 400;
    const height = 90;
    const top = Math.max(1, this.#figures.p95 * 1.5);
    const step = width / Math.max(1, points.length - 1);
    const coords = points.map((ms, i) => `${(i * step).toFixed(1)},${(height - Math.min(ms, top) / top * (height - 4)).toFixed(1)}`);
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.innerHTML = `<polyline fill="none" stroke="#1f6feb" stroke-width="1" points="${coords.join(' ')}"/>` +
      `<text x="4" y="12">${top.toFixed(0)} ms</text><text x="4" y="${height - 4}">0</text>`;
  }
}

export function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${(error as Error).message}` : String(error);
}
