// The file browser: what the volume holds, read through the fs API (so from its owner, whichever
// tab that is now), and a check that every file a burst got acked reads back intact — the point
// of the demo, after an owner's tab died.
import type { FsPromises } from '../../src/index.js';
import { burstContent, describe } from './writes.js';

const READERS = 16;
const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;

export interface CheckResult {
  checked: number;
  intact: number;
  /** The first paths that were missing or wrong, with what was wrong. */
  bad: string[];
  ms: number;
}

export class FileBrowser {
  readonly #fs: FsPromises;
  #dir = '/';

  constructor(fs: FsPromises) {
    this.#fs = fs;
    $('#files-refresh').addEventListener('click', () => void this.show(this.#dir));
  }

  /** Lists `dir`: folders to open, files to read (the first 200 entries). */
  async show(dir = this.#dir): Promise<void> {
    this.#dir = dir;
    const list = $('#files-list');
    $('#files-where').textContent = dir;
    try {
      const entries = await this.#fs.readdir(dir, { withFileTypes: true });
      const items: HTMLElement[] = [];
      if (dir !== '/') items.push(this.#item('..', () => void this.show(dir.slice(0, dir.lastIndexOf('/')) || '/')));
      for (const entry of entries.slice(0, 200)) {
        const path = `${dir === '/' ? '' : dir}/${entry.name}`;
        items.push(entry.isDirectory()
          ? this.#item(`${entry.name}/`, () => void this.show(path))
          : this.#item(entry.name, () => void this.#open(path)));
      }
      if (entries.length > 200) items.push(Object.assign(document.createElement('li'), { textContent: `… and ${entries.length - 200} more` }));
      if (!entries.length) items.push(Object.assign(document.createElement('li'), { textContent: '(empty)' }));
      list.replaceChildren(...items);
    } catch (error) {
      list.replaceChildren(Object.assign(document.createElement('li'), { textContent: describe(error) }));
    }
  }

  #item(name: string, open: () => void): HTMLLIElement {
    const item = document.createElement('li');
    const button = Object.assign(document.createElement('button'), { type: 'button', textContent: name, className: 'link' });
    button.addEventListener('click', open);
    item.append(button);
    return item;
  }

  async #open(path: string): Promise<void> {
    try {
      const [stat, text] = await Promise.all([this.#fs.stat(path), this.#fs.readFile(path, 'utf8')]);
      $('#files-content').textContent = `${path} · ${stat.size} bytes\n\n${text.slice(0, 2000)}`;
    } catch (error) {
      $('#files-content').textContent = describe(error);
    }
  }

  /** Reads back every acked burst file and compares it with what was written. */
  async check(paths: readonly string[]): Promise<CheckResult> {
    const start = performance.now();
    const result: CheckResult = { checked: 0, intact: 0, bad: [], ms: 0 };
    let next = 0;
    const reader = async () => {
      while (next < paths.length) {
        const path = paths[next++]!;
        try {
          const text = await this.#fs.readFile(path, 'utf8');
          if (text === burstContent(path)) result.intact += 1;
          else result.bad.push(`${path}: holds ${text.length} chars, not what was acked`);
        } catch (error) {
          result.bad.push(`${path}: ${describe(error)}`);
        }
        result.checked += 1;
      }
    };
    await Promise.all(Array.from({ length: READERS }, reader));
    result.ms = performance.now() - start;
    result.bad = result.bad.slice(0, 5);
    return result;
  }
}
