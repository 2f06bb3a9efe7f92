// The event timeline every tab keeps: faults as a tab announces them, then what the cluster did
// about them (detection, fencing, replay with its progress, takeover), each with the time since
// the fault, from every tab's node events and steps.
import type { NodeEvent, Step } from '../../src/index.js';
import { eventText, shortId } from './words.js';

export type EntryKind = 'fault' | 'joined' | 'gone' | 'detected' | 'fenced' | 'replay' | 'taken-over' | 'released' | 'partner' | 'degraded' | 'verified' | 'info';

export class Timeline {
  readonly #list: HTMLOListElement;
  /** When the last fault was announced, to time what follows it. */
  #faultAt?: number;
  #replays = new Map<string, HTMLLIElement>();

  constructor(list: HTMLOListElement) {
    this.#list = list;
  }

  fault(node: string, what: string, at: number): void {
    this.#faultAt = at;
    this.add('fault', node, `fault: ${what}`, at);
  }

  /** The time since the last fault, as "+1.52 s", when there was one in the last minute. */
  since(at: number): number | undefined {
    return this.#faultAt !== undefined && at - this.#faultAt < 60_000 ? at - this.#faultAt : undefined;
  }

  event(node: string, event: NodeEvent, at: number): void {
    switch (event.type) {
      case 'flush-lag':
        return;
      case 'replay-progress':
        return this.#replay(node, event.volume, event.replayed, event.total, at);
      case 'takeover-started':
        this.#replays.delete(`${node}:${event.volume}`);
        return void this.add('detected', node, eventText(event), at);
      case 'takeover-finished':
        return void this.add('taken-over', node, eventText(event), at);
      case 'released':
        return void this.add('released', node, eventText(event), at);
      case 'partner':
        return void this.add('partner', node, eventText(event), at);
      case 'degraded':
        return void this.add('degraded', node, eventText(event), at);
      case 'volume-stopped':
        return void this.add('info', node, eventText(event), at);
    }
  }

  step(step: Step, at: number): void {
    if (step.kind === 'fence') this.add('fenced', step.node, `fence: epoch ${step.epoch} of volume ${step.volume} claimed in the medium; any older owner is shut out`, at);
  }

  add(kind: EntryKind, node: string, text: string, at: number): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset.kind = kind;
    item.dataset.at = String(Math.round(at));
    const since = this.since(at);
    const time = new Date(at).toLocaleTimeString(undefined, { hour12: false });
    item.innerHTML = '<time></time> <b></b> <span></span>';
    item.querySelector('time')!.textContent = since === undefined || kind === 'fault' ? time : `+${(since / 1000).toFixed(2)} s`;
    item.querySelector('b')!.textContent = shortId(node);
    item.querySelector('span')!.textContent = text;
    this.#list.prepend(item);
    while (this.#list.childElementCount > 200) this.#list.lastElementChild!.remove();
    return item;
  }

  /** One line per replay, its progress bar filling as batches reach the medium. */
  #replay(node: string, volume: number, replayed: number, total: number, at: number): void {
    const key = `${node}:${volume}`;
    let item = this.#replays.get(key);
    if (!item) {
      item = this.add('replay', node, '', at);
      item.append(document.createElement('progress'));
      this.#replays.set(key, item);
    }
    const progress = item.querySelector('progress')!;
    progress.max = Math.max(1, total);
    progress.value = replayed;
    item.querySelector('span')!.textContent = `replay: ${replayed} of ${total} mirrored ops in the medium`;
  }
}
