// Opening a connection to a cluster's hub (hub-worker.ts), and choosing between the hub and WebRTC.
import type { NodeId } from '../core/ports.js';
import { LinkError } from '../errors.js';
import { PortLink } from './port-link.js';
import { WebRtcLink } from './webrtc-link.js';

/**
 * How a node reaches the other nodes of its cluster: 'hub', through a SharedWorker that relays
 * between the origin's tabs and workers, or 'webrtc', a data channel to each peer. Every node of
 * a cluster must use the same.
 */
export type LinkKind = 'hub' | 'webrtc';

/**
 * The link unless told otherwise: the hub, which mirrors a write burst about 1.5x as fast
 * (docs/browser.md), wherever the page can start a SharedWorker; WebRTC where it cannot. Every
 * page of one browser gets the same answer, so a cluster's tabs agree.
 */
export function defaultLink(): LinkKind {
  return typeof SharedWorker === 'function' ? 'hub' : 'webrtc';
}

/** A fresh port to `cluster`'s hub, started on first use by whichever tab or worker asks first. */
export function hubPort(cluster: string): MessagePort {
  return startHub(cluster).port;
}

/** Opens this tab's link of the kind asked for (defaultLink() unless told). */
export async function openTabLink(options: { cluster: string; self: NodeId; secret?: string; kind?: LinkKind }): Promise<PortLink | WebRtcLink> {
  const { cluster, self, secret, kind = defaultLink() } = options;
  if (kind === 'webrtc') return WebRtcLink.open({ cluster, self, secret });
  let port: MessagePort;
  try {
    port = hubPort(cluster);
  } catch (error) {
    throw new LinkError('UNAVAILABLE', `this page cannot start the cluster's hub (a SharedWorker): ${String(error)}`);
  }
  return PortLink.open({ cluster, self, secret, port });
}

/**
 * The hub's SharedWorker, named after the cluster so that each cluster has its own. As for the
 * OPFS worker (opfs-medium.ts, startWorker): the static `new URL('./hub-worker.js',
 * import.meta.url)` form is the one bundlers follow; a dev server that compiles TypeScript on
 * request serves this module as hub.ts, and gets the .ts name.
 */
function startHub(cluster: string): SharedWorker {
  const name = `tandemfs-hub:${cluster}`;
  const here = import.meta.url;
  if (new URL(here).pathname.endsWith('.ts')) return new SharedWorker(new URL('./hub-worker.ts', here), { type: 'module', name });
  return new SharedWorker(new URL('./hub-worker.js', import.meta.url), { type: 'module', name });
}
