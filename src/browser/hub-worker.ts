// The hub of one cluster's links between the tabs (and dedicated workers) of an origin: a
// SharedWorker, one per cluster (hub.ts names it), that runs a PortRelay. Every node that opens a
// connection to it gets a port of its own and runs a PortLink over it; the relay hands each pair
// of nodes a channel of their own and never sees a frame, so each pair still runs the handshake
// end to end (auth.ts).
//
// Why a hub rather than WebRTC between tabs: a data channel carries every message as SCTP packets
// of about 1.2 KB, each one a hop from the renderer to the network service and back. Between the
// tabs of a loaded two-core machine, a 34 KiB mirror message (eight 4 KiB records) took 8 ms one
// way over WebRTC, and about 1 ms through this hub (then two port hops; now the pair's own port,
// one). See docs/browser.md.
import { PortRelay } from './port-link.js';

/** The parts of a SharedWorker's global scope used here (no WebWorker lib in this project). */
interface SharedScope {
  addEventListener(type: 'connect', listener: (event: MessageEvent) => void): void;
}

const relay = new PortRelay();
(globalThis as unknown as SharedScope).addEventListener('connect', (event) => relay.adopt(event.ports[0]!));
