// A tandemfs node in a tab (or a worker hosted by one) with the real adapters: journal and mirror
// in IndexedDB, the medium in OPFS (a worker), Web Locks, and links between the tabs over WebRTC,
// or through the cluster's hub, a SharedWorker (hub.ts).
import { Node } from '../core/node.js';
import type { NodeOptions } from '../core/options.js';
import type { Link, Ports } from '../core/ports.js';
import type { StepTracer } from '../core/trace.js';
import { browserClock, browserRandom } from './clock.js';
import { IdbStores, type Durability } from './idb-stores.js';
import { OpfsMedium } from './opfs-medium.js';
import { WebLocks } from './web-locks.js';
import { openTabLink, type LinkKind } from './hub.js';
import type { PortLink } from './port-link.js';
import type { WebRtcLink } from './webrtc-link.js';

export interface BrowserNodeOptions extends Partial<Omit<NodeOptions, 'volumes'>> {
  /** The cluster: tabs of an origin with the same name serve the same volumes together. */
  readonly cluster: string;
  readonly volumes: readonly number[];
  /** A secret every node of the cluster shares; links from nodes that cannot prove it are refused. */
  readonly secret?: string;
  /** IndexedDB durability of journal and mirror writes ('relaxed' unless you need 'strict'). */
  readonly durability?: Durability;
  /** How the node reaches its peers: 'hub' or 'webrtc' (defaultLink() unless told). Every node of a cluster must use the same. */
  readonly link?: LinkKind;
  /** Reports each step records take through this node (and holds them, in slow motion): docs/api.md. */
  readonly tracer?: StepTracer;
}

/** A running node and the adapters it runs on; `L` is its link (the hub's, or WebRTC, in a tab). */
export interface BrowserNode<L extends ClosableLink = PortLink | WebRtcLink> {
  readonly node: Node;
  readonly stores: IdbStores;
  readonly medium: OpfsMedium;
  readonly link: L;
  /** Leaves the cluster (a planned hand-over of every volume), then closes the adapters. */
  close(): Promise<void>;
}

export type ClosableLink = Link & { close(): void };

export async function startBrowserNode(options: BrowserNodeOptions): Promise<BrowserNode> {
  const { cluster, secret, durability, link: kind, tracer, ...nodeOptions } = options;
  const self = crypto.randomUUID();
  const stores = await IdbStores.open({ cluster, node: self, durability });
  const medium = await OpfsMedium.create({ cluster });
  const link = await openTabLink({ cluster, self, secret, kind });
  return runNode({ self, cluster, stores, medium, link, tracer }, { ...nodeOptions, volumes: [...options.volumes] });
}

/**
 * Starts a node on adapters already open (a tab's, or a worker's: worker-node.ts) with Web Locks
 * and the browser's clock; its close() leaves the cluster, then closes them.
 */
export async function runNode<L extends ClosableLink>(
  parts: { self: string; cluster: string; stores: IdbStores; medium: OpfsMedium; link: L; tracer?: StepTracer },
  options: Partial<NodeOptions> & Pick<NodeOptions, 'volumes'>,
): Promise<BrowserNode<L>> {
  const { self, cluster, stores, medium, link, tracer } = parts;
  const plain: Ports = {
    self,
    journal: stores.journal,
    mirror: stores.mirror,
    stores: stores.directory,
    medium,
    locks: new WebLocks(`tandemfs/${cluster}`),
    link,
    clock: browserClock,
    random: browserRandom,
  };
  const node = new Node(tracer ? tracer.wrap(plain) : plain, options);
  await node.start();
  return {
    node,
    stores,
    medium,
    link,
    async close() {
      await node.leave();
      link.close();
      await medium.close();
      stores.close();
    },
  };
}
