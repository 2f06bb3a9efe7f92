// The live picture of the cluster: a box per node (its role per volume, journal and mirror depth,
// flush position, epoch), the links between them with their round-trip times, the medium below,
// and records moving between them as steps happen. Plain SVG, redrawn from the tabs' snapshots;
// the moving records are HTML over it, animated on the compositor: animating SVG costs the main
// thread a repaint a frame, which slowed a two-core machine's writes threefold.
import type { Step, StepKind } from '../../src/index.js';
import type { Snapshot } from './bus.js';
import { lsnText, shortId, STEP_WORDS } from './words.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 960;
const TOP = 96;
const BOX_HEIGHT = 180;
const MEDIUM_Y = 346;
const MAX_TOKENS = 16;
/** At full speed a burst takes hundreds of steps a second: one token per kind and node per this long is all an eye can follow. */
const TOKEN_EVERY_MS = 300;
/** Where messages between nodes travel, above the boxes: requests on one lane, answers on another. */
const WIRE_OUT = TOP - 40;
const WIRE_BACK = TOP - 16;

export const STEP_COLOURS: Record<StepKind, string> = {
  journal: '#1f6feb', send: '#8250df', mirror: '#8250df', mirrored: '#1a7f37', answer: '#1a7f37',
  flush: '#bf8700', trim: '#cf222e', fence: '#6e40c9', forward: '#57606a',
};

export interface NodeView {
  snapshot: Snapshot;
  /** Wall time it was last heard of. */
  heard: number;
}

interface Box {
  x: number;
  width: number;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

export class Picture {
  readonly #svg: SVGSVGElement;
  readonly #self: string;
  readonly #static: SVGGElement;
  readonly #tokens: HTMLElement;
  #boxes = new Map<string, Box>();
  /** When the last token of each kind and node set off. */
  #lastToken = new Map<string, number>();

  /** `tokens`: an element laid over `svg`, as wide as it is. */
  constructor(svg: SVGSVGElement, tokens: HTMLElement, self: string) {
    this.#svg = svg;
    this.#self = self;
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${MEDIUM_Y + 90}`);
    this.#static = el('g', {});
    this.#tokens = tokens;
    svg.append(this.#static);
  }

  /** Redraws nodes, links and the medium from the latest view of every node. */
  draw(nodes: ReadonlyMap<string, NodeView>, now: number): void {
    const ordered = [...nodes.values()].sort((a, b) => a.snapshot.node.localeCompare(b.snapshot.node));
    const gap = 40;
    const width = Math.min(270, (WIDTH - gap * (ordered.length + 1)) / Math.max(1, ordered.length));
    const left = (WIDTH - (ordered.length * width + (ordered.length - 1) * gap)) / 2;
    this.#boxes = new Map(ordered.map((view, i) => [view.snapshot.node, { x: left + i * (width + gap), width }]));
    const parts: SVGElement[] = [];
    for (const view of ordered) parts.push(...this.#links(view, nodes, now));
    for (const view of ordered) parts.push(this.#node(view, now));
    parts.push(this.#medium(ordered));
    this.#static.replaceChildren(...parts);
  }

  #links(view: NodeView, nodes: ReadonlyMap<string, NodeView>, now: number): SVGElement[] {
    const from = this.#boxes.get(view.snapshot.node)!;
    const out: SVGElement[] = [];
    for (const link of view.snapshot.links) {
      // Each pair once, drawn by the node whose id sorts first.
      const to = this.#boxes.get(link.peer);
      if (!to || link.peer < view.snapshot.node) continue;
      const silent = now - (nodes.get(link.peer)?.heard ?? 0) > 1000;
      const x1 = from.x + from.width / 2;
      const x2 = to.x + to.width / 2;
      const lift = 25 + Math.abs(x2 - x1) / 12;
      const midX = (x1 + x2) / 2;
      const state = !link.up ? 'down' : silent ? 'silent' : 'up';
      out.push(el('path', { d: `M ${x1} ${TOP} Q ${midX} ${TOP - 2 * lift} ${x2} ${TOP}`, class: `link ${state}` }));
      const rtt = link.rtt === undefined ? '' : ` · ${link.rtt < 10 ? link.rtt.toFixed(1) : Math.round(link.rtt)} ms`;
      out.push(el('text', { x: midX, y: TOP - lift - 6, class: 'link-label', 'text-anchor': 'middle' }, `link ${state}${rtt}`));
    }
    return out;
  }

  #node(view: NodeView, now: number): SVGGElement {
    const { snapshot } = view;
    const box = this.#boxes.get(snapshot.node)!;
    const silentFor = now - view.heard;
    const group = el('g', { class: `node${silentFor > 1000 ? ' silent' : ''}${snapshot.node === this.#self ? ' self' : ''}`, 'data-node': snapshot.node });
    group.append(el('rect', { x: box.x, y: TOP, width: box.width, height: BOX_HEIGHT, rx: 10 }));
    const line = (y: number, text: string, css = '') => group.append(el('text', { x: box.x + 12, y: TOP + y, class: css }, text));
    line(22, `${shortId(snapshot.node)}${snapshot.node === this.#self ? ' · this tab' : ''}`, 'title');
    if (silentFor > 1000) line(40, `silent for ${(silentFor / 1000).toFixed(1)} s`, 'warn');
    else if (snapshot.burst?.running) line(40, `writing: ${snapshot.burst.done} of ${snapshot.burst.total} acked`, 'busy');
    const owns = snapshot.status.owns[0];
    const mirrors = snapshot.status.mirrors[0];
    if (owns) {
      line(58, `owner of volume ${owns.volume} · epoch ${owns.epoch}`, 'role owner');
      line(76, owns.partner ? `mirrored by ${shortId(owns.partner)}${owns.degraded ? ' (catching up)' : ''}` : 'no partner: degraded', owns.degraded ? 'warn' : '');
    } else if (mirrors) {
      line(58, `partner: mirrors volume ${mirrors.volume}`, 'role partner');
      line(76, `for ${shortId(mirrors.owner)}`);
    } else {
      line(58, 'no role yet (standby)', 'role');
    }
    this.#depth(group, box, 100, 'journal', total(snapshot.journal));
    this.#depth(group, box, 130, 'mirror', total(snapshot.mirror));
    if (owns) line(168, `flushed through LSN ${owns.applied} · ${owns.unflushed} waiting`);
    return group;
  }

  #depth(group: SVGGElement, box: Box, y: number, store: 'journal' | 'mirror', records: number): void {
    const barWidth = box.width - 24;
    const filled = Math.min(barWidth, records === 0 ? 0 : 4 + Math.log2(1 + records) * 12);
    group.append(el('rect', { x: box.x + 12, y: TOP + y, width: barWidth, height: 18, class: 'bar' }));
    group.append(el('rect', { x: box.x + 12, y: TOP + y, width: filled, height: 18, class: `fill ${store}` }));
    group.append(el('text', { x: box.x + 18, y: TOP + y + 13, class: 'bar-label' }, `${store}: ${records} record${records === 1 ? '' : 's'}`));
  }

  #medium(nodes: NodeView[]): SVGGElement {
    const group = el('g', { class: 'medium' });
    group.append(el('rect', { x: 40, y: MEDIUM_Y, width: WIDTH - 80, height: 70, rx: 10 }));
    // A silent tab may still say it owns the volume: the newest epoch is the owner's.
    const owner = nodes.flatMap((view) => view.snapshot.status.owns).sort((a, b) => b.epoch - a.epoch)[0];
    const where = owner ? `volume ${owner.volume} applied through LSN ${owner.applied}, epoch ${owner.epoch}` : 'no owner serves the volume now';
    group.append(el('text', { x: 56, y: MEDIUM_Y + 28, class: 'title' }, 'medium: the origin private file system (OPFS)'));
    group.append(el('text', { x: 56, y: MEDIUM_Y + 50 }, where));
    return group;
  }

  /** A record (or a group of them) moving for one step. */
  animate(step: Step): void {
    const key = `${step.kind}:${step.node}:${step.store ?? ''}`;
    const now = performance.now();
    if (step.holdMs === 0 && now - (this.#lastToken.get(key) ?? -Infinity) < TOKEN_EVERY_MS) return;
    if (this.#tokens.childElementCount >= MAX_TOKENS) return;
    this.#lastToken.set(key, now);
    const path = this.#path(step);
    if (!path) return;
    const scale = this.#svg.clientWidth / WIDTH;
    const [[x0, y0], [x1, y1]] = path.map(([x, y]) => [x * scale, y * scale] as const) as [[number, number], [number, number]];
    const token = document.createElement('div');
    token.className = `token ${step.kind}`;
    token.innerHTML = '<i></i><span></span>';
    token.querySelector('i')!.style.background = STEP_COLOURS[step.kind];
    token.querySelector('span')!.textContent = `${STEP_WORDS[step.kind].label} ${lsnText(step)}`;
    this.#tokens.append(token);
    const duration = Math.max(700, step.holdMs);
    const animation = token.animate(
      [{ transform: `translate(${x0}px, ${y0}px)`, opacity: 1 }, { transform: `translate(${x1}px, ${y1}px)`, opacity: step.kind === 'trim' ? 0 : 1 }],
      { duration, easing: 'ease-in-out' },
    );
    animation.onfinish = () => token.remove();
  }

  #path(step: Step): [[number, number], [number, number]] | undefined {
    const at = this.#boxes.get(step.node);
    if (!at) return undefined;
    const centre = (box: Box): number => box.x + box.width / 2;
    const peer = step.peer ? this.#boxes.get(step.peer) : undefined;
    switch (step.kind) {
      case 'journal': return [[centre(at), TOP - 4], [at.x + 30, TOP + 109]];
      case 'mirror': return [[centre(at), TOP - 4], [at.x + 30, TOP + 139]];
      case 'trim': {
        const y = TOP + (step.store === 'journal' ? 109 : 139);
        return [[at.x + 30, y], [at.x + at.width - 30, y]];
      }
      case 'flush':
      case 'fence': return [[centre(at), TOP + BOX_HEIGHT], [centre(at), MEDIUM_Y + 35]];
      case 'send':
      case 'forward':
        return peer ? [[centre(at), WIRE_OUT], [centre(peer), WIRE_OUT]] : undefined;
      case 'mirrored':
      case 'answer':
        return peer ? [[centre(at), WIRE_BACK], [centre(peer), WIRE_BACK]] : undefined;
    }
  }
}

const total = (counts: Record<number, number>): number => Object.values(counts).reduce((sum, n) => sum + n, 0);
