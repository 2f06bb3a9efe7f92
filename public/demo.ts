// The teaching demo: this tab runs a tandemfs node; open the page in two or three tabs and watch
// them pair, mirror, flush, and take over from each other. Each tab draws the whole cluster from
// what the demo's tabs tell each other (demo/bus.ts), and its own node's steps come from a
// StepTracer, which also holds them in slow motion.
import { startBrowserNode, StepTracer, FsPromises, type NodeEvent, type Step } from '../src/index.js';
// The demo reaches below FS for what a page of the library's users would not need: its tab's medium
// (to break its I/O) and its stores (to count their records).
import { Mounts } from '../src/fs/paths.js';
import { Bus, wall, type BusMessage, type LinkView, type Snapshot } from './demo/bus.js';
import { FileBrowser, type CheckResult } from './demo/files.js';
import { Picture, STEP_COLOURS, type NodeView } from './demo/picture.js';
import { Timeline } from './demo/timeline.js';
import { lsnText, shortId, STEP_WORDS } from './demo/words.js';
import { WritePanel, describe } from './demo/writes.js';

const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;
const PARAMS = new URLSearchParams(location.search);
const CLUSTER = PARAMS.get('cluster') ?? 'demo';
/** The settings an ack's meaning depends on; `?durability=strict&requireMirror=true` to compare. */
const DURABILITY = PARAMS.get('durability') === 'strict' ? 'strict' : 'relaxed';
const REQUIRE_MIRROR = PARAMS.get('requireMirror') === 'true';
const VOLUME = 0;
/** A tab not heard from for this long is drawn silent; for this long, it is dropped. */
const SILENT_MS = 1000;
const FORGET_MS = 30_000;

type Stage = 'starting' | 'alone' | 'paired' | 'writing' | 'owner-lost' | 'replaying' | 'taken-over' | 'verified' | 'check-failed';

const STAGE_TEXT: Record<Stage, string> = {
  starting: 'Starting this tab\'s node…',
  alone: 'Alone: open this page in a second tab (the button below) and the two will pair.',
  paired: 'Paired: one tab owns the volume, another mirrors its journal. Save a file or run a burst.',
  writing: 'Writing: each write is acked once it is in the owner\'s journal and its partner\'s mirror.',
  'owner-lost': 'Owner lost: this tab noticed and is fencing the old owner out of the volume.',
  replaying: 'Replaying: this tab applies every mirrored write the old owner had not flushed.',
  'taken-over': 'Taken over: this tab owns the volume now and serves new writes.',
  verified: 'Data verified: every acked write of the bursts reads back intact from the medium.',
  'check-failed': 'Check failed: an acked write did not read back (see the timeline).',
};

class Demo {
  readonly #bus = new Bus(CLUSTER);
  readonly #views = new Map<string, NodeView>();
  readonly #timeline = new Timeline($('#timeline'));
  /** Paths of every burst file any tab got acked: what a check after a takeover reads back. */
  readonly #acked: string[] = [];
  /** Slow motion: each step is held this long; the newest setting of any tab wins. */
  #holdMs = 0;
  #slowSetAt = 0;
  #rtts = new Map<string, number | undefined>();
  /** The LSNs this tab's journal and mirror hold, by volume, kept from its own steps. */
  #journal = new Map<number, Set<number>>();
  #mirror = new Map<number, Set<number>>();
  /** What this tab's node did since the last fault or burst: the stage follows from it. */
  #flags = { detected: false, replaying: false, tookOver: false, checked: undefined as CheckResult | undefined };
  #history: Stage[] = [];
  #tracer = new StepTracer({ onStep: (step) => this.#bus.post({ type: 'step', step, at: wall() }), holdMs: () => this.#holdMs });
  #picture?: Picture;
  #writes?: WritePanel;
  #files?: FileBrowser;
  #self = '';
  #checking = false;
  #recent: Step[] = [];
  #feedChanged = false;

  async start(): Promise<void> {
    this.#setStage('starting');
    const tab = await startBrowserNode({ cluster: CLUSTER, volumes: [VOLUME], tracer: this.#tracer, durability: DURABILITY, requireMirror: REQUIRE_MIRROR });
    this.#settings(tab.node.options.requireMirror);
    const mounts = new Mounts({ '/': VOLUME });
    const fs = new FsPromises(async () => tab.node, () => mounts);
    this.#self = tab.node.id;
    document.title = `tandemfs demo · ${shortId(this.#self)}`;
    $('#self').textContent = shortId(this.#self);
    this.#picture = new Picture($('#picture'), $('#tokens'), this.#self);
    this.#writes = new WritePanel(fs, this.#bus, this.#self);
    this.#files = new FileBrowser(fs);
    for (const record of await tab.stores.journal.list()) this.#records(this.#journal, record.volume).add(record.lsn);
    for (const record of await tab.stores.mirror.list()) this.#records(this.#mirror, record.volume).add(record.lsn);
    tab.node.onEvent((event) => this.#bus.post({ type: 'event', node: this.#self, event: plainEvent(event), at: wall() }));
    this.#bus.on((message) => this.#heard(message));
    this.#faultButtons(tab.medium);
    this.#slowMotion();
    const snapshot = (): Snapshot => ({
      node: this.#self,
      status: tab.node.status(),
      links: this.#links(tab.link.peers()),
      journal: counts(this.#journal),
      mirror: counts(this.#mirror),
      burst: this.#writes?.figures,
      slow: { holdMs: this.#holdMs, at: this.#slowSetAt },
      at: wall(),
    });
    setInterval(() => this.#bus.post({ type: 'snapshot', snapshot: snapshot() }), 250);
    setInterval(() => this.#ping(tab.link.peers()), 1000);
    setInterval(() => this.#render(), 200);
    addEventListener('pagehide', () => this.#bus.post({ type: 'bye', node: this.#self }));
    this.#bus.post({ type: 'snapshot', snapshot: snapshot() });
    void this.#files.show('/');
    // What the headless run (scripts/demo-headless.mjs) and its test read, beside the DOM.
    (globalThis as unknown as { tandemDemo: unknown }).tandemDemo = {
      node: this.#self,
      state: () => ({ stage: document.body.dataset.stage, history: this.#history, burst: this.#writes?.figures, checked: this.#flags.checked, acked: this.#acked.length, owns: tab.node.status().owns }),
    };
  }

  /** The settings in force, in the panel on what an ack protects against. */
  #settings(requireMirror: boolean): void {
    $('#setting-durability').textContent = DURABILITY === 'strict'
      ? "durability: 'strict' (each journal and mirror put waits for the disk: an acked write also survives a power cut, at a cost in latency)"
      : "durability: 'relaxed' (IndexedDB does not wait for the disk on each put: a power cut or an OS crash may lose the last acked writes; 'strict' waits, at a cost in latency)";
    $('#setting-mirror').textContent = requireMirror
      ? 'requireMirror: true (with no partner, writes wait until one is back: every ack means two copies)'
      : 'requireMirror: false (with no partner, acks come from the journal alone, and the picture says the volume is degraded)';
  }

  #records(stores: Map<number, Set<number>>, volume: number): Set<number> {
    let set = stores.get(volume);
    if (!set) stores.set(volume, (set = new Set()));
    return set;
  }

  #links(peers: string[]): LinkView[] {
    const up = new Set(peers);
    const known = new Set([...peers, ...[...this.#views.keys()].filter((node) => node !== this.#self)]);
    return [...known].map((peer) => ({ peer, up: up.has(peer), rtt: this.#rtts.get(peer) }));
  }

  #ping(peers: string[]): void {
    for (const peer of peers) void this.#tracer.ping(peer).then((ms) => this.#rtts.set(peer, ms));
  }

  #heard(message: BusMessage): void {
    switch (message.type) {
      case 'snapshot': {
        if (!this.#views.has(message.snapshot.node)) this.#timeline.add('joined', message.snapshot.node, 'joined the cluster', wall());
        this.#views.set(message.snapshot.node, { snapshot: message.snapshot, heard: wall() });
        const slow = message.snapshot.slow;
        if (slow.at > this.#slowSetAt) this.#setSlow(slow.holdMs, slow.at);
        return;
      }
      case 'step':
        return this.#step(message.step, message.at);
      case 'event':
        return this.#event(message.node, message.event, message.at);
      case 'fault':
        this.#newEpisode();
        return this.#timeline.fault(message.node, `${shortId(message.node)} ${message.what}`, message.at);
      case 'burst':
        this.#newEpisode();
        return void this.#timeline.add('info', message.node, `burst: writing ${message.total} files, 8 in flight`, message.at);
      case 'acked':
        this.#acked.push(...message.paths);
        return;
      case 'slow':
        return this.#setSlow(message.holdMs, wall());
      case 'bye':
        this.#views.delete(message.node);
        return void this.#timeline.add('gone', message.node, 'left: its tab closed or went elsewhere', wall());
    }
  }

  /** A fault or a burst starts the story of the stages anew. */
  #newEpisode(): void {
    this.#flags = { detected: false, replaying: false, tookOver: false, checked: undefined };
  }

  #step(step: Step, at: number): void {
    if (step.node === this.#self) {
      const [first, last] = step.lsns ?? [1, 0];
      const store = step.kind === 'journal' ? this.#journal : step.kind === 'mirror' ? this.#mirror : step.kind === 'trim' ? (step.store === 'journal' ? this.#journal : this.#mirror) : undefined;
      const set = store && this.#records(store, step.volume);
      if (set && step.kind !== 'trim') for (let lsn = first; lsn <= last; lsn++) set.add(lsn);
      if (set && step.kind === 'trim') for (const lsn of set) if (lsn >= first && lsn <= last) set.delete(lsn);
    }
    this.#picture?.animate(step);
    this.#timeline.step(step, at);
    this.#feed(step);
  }

  #event(node: string, event: NodeEvent, at: number): void {
    this.#timeline.event(node, event, at);
    if (node !== this.#self) return;
    if (event.type === 'takeover-started') this.#flags.detected = true;
    if (event.type === 'replay-progress') this.#flags.replaying = true;
    if (event.type === 'takeover-finished') {
      this.#flags.tookOver = true;
      void this.#check(at);
    }
    // At once, not at the next render: a short replay must still show as a stage of its own.
    this.#setStage(this.#stage());
  }

  /** After a takeover: reads back every file the bursts got acked, through the fs API. */
  async #check(since: number): Promise<void> {
    if (this.#checking || !this.#files) return;
    this.#checking = true;
    const paths = [...new Set(this.#acked)];
    const result = await this.#files.check(paths);
    this.#checking = false;
    this.#flags.checked = result;
    this.#setStage(this.#stage());
    const text = result.bad.length === 0
      ? `verified: all ${result.intact} acked burst files read back intact through the fs API (checked in ${(result.ms / 1000).toFixed(2)} s)`
      : `check failed: ${result.checked - result.intact} of ${result.checked} acked files did not read back: ${result.bad.join('; ')}`;
    this.#timeline.add('verified', this.#self, text, Math.max(since, wall()));
    void this.#files.show();
  }

  /** The last steps, for the feed: drawn with the rest at each render, not once per step (a burst takes hundreds a second). */
  #feed(step: Step): void {
    this.#recent.unshift(step);
    this.#recent.length = Math.min(this.#recent.length, 8);
    this.#feedChanged = true;
  }

  #drawFeed(): void {
    if (!this.#feedChanged) return;
    this.#feedChanged = false;
    $('#feed').replaceChildren(...this.#recent.map((step) => {
      const item = document.createElement('li');
      const words = STEP_WORDS[step.kind];
      item.innerHTML = '<i></i><b></b> <span class="where"></span> <span class="meaning"></span>';
      (item.querySelector('i') as HTMLElement).style.background = STEP_COLOURS[step.kind];
      item.querySelector('b')!.textContent = words.label;
      item.querySelector('.where')!.textContent = `${shortId(step.node)}${step.peer ? ` → ${shortId(step.peer)}` : ''} · ${lsnText(step)}${step.store ? ` (${step.store})` : ''}`;
      item.querySelector('.meaning')!.textContent = words.meaning;
      return item;
    }));
  }

  #faultButtons(medium: { failNext(count: number, kind: 'broken'): Promise<void> }): void {
    const announce = (what: string) => this.#bus.post({ type: 'fault', node: this.#self, what, at: wall() });
    $('#fault-hang').addEventListener('click', () => {
      const seconds = Number($<HTMLInputElement>('#hang-seconds').value) || 5;
      announce(`hangs for ${seconds} s (its main thread is blocked: no heartbeats)`);
      // A moment for the announcement to leave, then nothing runs in this tab: no timers, no messages.
      setTimeout(() => {
        const end = performance.now() + seconds * 1000;
        while (performance.now() < end) {
          // hung
        }
      }, 50);
    });
    $('#fault-break').addEventListener('click', () => {
      announce("has broken storage I/O: every flush to the medium fails (write something to see it give its volume up; reload the tab to mend it)");
      void medium.failNext(1_000_000_000, 'broken');
    });
    $('#fault-close').addEventListener('click', () => {
      announce('closes (its node stops without handing anything over)');
      setTimeout(() => {
        window.close(); // only a tab the page opened itself may close itself
        location.replace('./closed.html');
      }, 50);
    });
    $('#open-tab').addEventListener('click', () => window.open(location.href, '_blank'));
    $('#files-check').addEventListener('click', () => void this.#check(wall()));
  }

  #slowMotion(): void {
    $('#slow').addEventListener('change', () => {
      const holdMs = Number($<HTMLSelectElement>('#slow').value);
      this.#bus.post({ type: 'slow', holdMs });
    });
  }

  #setSlow(holdMs: number, at: number): void {
    this.#holdMs = holdMs;
    this.#slowSetAt = at;
    $<HTMLSelectElement>('#slow').value = String(holdMs);
  }

  #stage(): Stage {
    const { checked, tookOver, replaying, detected } = this.#flags;
    if (detected && !tookOver) return replaying ? 'replaying' : 'owner-lost';
    if (checked) return checked.bad.length === 0 ? 'verified' : 'check-failed';
    if (tookOver) return 'taken-over';
    const views = [...this.#views.values()];
    if (views.some((view) => view.snapshot.burst?.running && wall() - view.heard < SILENT_MS)) return 'writing';
    const paired = views.some((view) => view.snapshot.status.owns.some((owned) => owned.partner && !owned.degraded));
    return paired ? 'paired' : 'alone';
  }

  #setStage(stage: Stage): void {
    if (document.body.dataset.stage === stage) return;
    document.body.dataset.stage = stage;
    if (this.#history.at(-1) !== stage) this.#history.push(stage);
    document.body.dataset.history = this.#history.join(' ');
    $('#stage').textContent = STAGE_TEXT[stage];
  }

  #render(): void {
    const now = wall();
    for (const [node, view] of this.#views) {
      if (now - view.heard < FORGET_MS) continue;
      this.#views.delete(node);
      this.#timeline.add('gone', node, `gone: not heard from for ${FORGET_MS / 1000} s`, now);
    }
    this.#setStage(this.#stage());
    this.#picture?.draw(this.#views, now);
    this.#writes?.render();
    this.#drawFeed();
    const links = this.#views.get(this.#self)?.snapshot.links ?? [];
    $('#links').replaceChildren(...(links.length ? links : [undefined]).map((link) => {
      const item = document.createElement('li');
      if (!link) item.textContent = 'no other tab yet';
      else {
        const silent = now - (this.#views.get(link.peer)?.heard ?? 0) > SILENT_MS;
        item.dataset.state = link.up ? (silent ? 'silent' : 'up') : 'down';
        item.textContent = `${shortId(link.peer)}: ${item.dataset.state}${link.rtt === undefined ? '' : `, round trip ${link.rtt.toFixed(1)} ms`}`;
      }
      return item;
    }));
  }
}

/** Events cross to other tabs by structured clone; an error in one goes as its code and message. */
function plainEvent(event: NodeEvent): NodeEvent {
  return event.type === 'volume-stopped' ? { ...event, error: { code: event.error.code, message: event.error.message } as typeof event.error } : event;
}

const counts = (stores: Map<number, Set<number>>): Record<number, number> => Object.fromEntries([...stores].map(([volume, set]) => [volume, set.size]));

new Demo().start().catch((error) => {
  $('#stage').textContent = `This tab's node did not start: ${describe(error)}`;
  document.body.dataset.stage = 'failed';
});
