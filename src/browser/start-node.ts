// A tandemfs node in a tab (or a worker hosted by one) with the real adapters: journal and mirror
// in IndexedDB, the medium in OPFS (a worker), Web Locks, and WebRTC links between the tabs.
import { Node } from '../core/node.js';
import type { NodeOptions } from '../core/options.js';
import type { Ports } from '../core/ports.js';
import { browserClock, browserRandom } from './clock.js';
import { IdbStores, type Durability } from './idb-stores.js';
import { OpfsMedium } from './opfs-medium.js';
import { WebLocks } from './web-locks.js';
import { WebRtcLink } from './webrtc-link.js';

export interface BrowserNodeOptions extends Partial<Omit<NodeOptions, 'volumes'>> {
  /** The cluster: tabs of an origin with the same name serve the same volumes together. */
  readonly cluster: string;
  readonly volumes: readonly number[];
  /** A secret every node of the cluster shares; links from nodes that cannot prove it are refused. */
  readonly secret?: string;
  /** IndexedDB durability of journal and mirror writes ('relaxed' unless you need 'strict'). */
  readonly durability?: Durability;
}

export interface BrowserNode {
  readonly node: Node;
  readonly stores: IdbStores;
  readonly medium: OpfsMedium;
  readonly link: WebRtcLink;
  /** Leaves the cluster (a planned hand-over of every volume), then closes the adapters. */
  close(): Promise<void>;
}

export async function startBrowserNode(options: BrowserNodeOptions): Promise<BrowserNode> {
  const { cluster, secret, durability, ...nodeOptions } = options;
  const self = crypto.randomUUID();
  const stores = await IdbStores.open({ cluster, node: self, durability });
  const medium = await OpfsMedium.create({ cluster });
  const link = await WebRtcLink.open({ cluster, self, secret });
  const ports: Ports = {
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
  const node = new Node(ports, { ...nodeOptions, volumes: [...options.volumes] });
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
