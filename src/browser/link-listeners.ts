// What both browser links do for their listeners: hand each message and each peer change to every
// handler — so that one handler's exception cannot break the link's own work — and keep the
// counts behind `stats()`.
import type { NodeId } from '../core/ports.js';
import { emptyStats, type DropReason, type LinkStats } from './auth.js';

export class LinkListeners {
  readonly #messageHandlers: Array<(from: NodeId, message: unknown) => void> = [];
  readonly #peerHandlers: Array<(peer: NodeId, up: boolean) => void> = [];
  readonly #stats = emptyStats();

  onMessage(handler: (from: NodeId, message: unknown) => void): void {
    this.#messageHandlers.push(handler);
  }

  onPeer(handler: (peer: NodeId, up: boolean) => void): void {
    this.#peerHandlers.push(handler);
  }

  sent(): void {
    this.#stats.sent += 1;
  }

  message(peer: NodeId, value: unknown): void {
    this.#stats.received += 1;
    for (const handler of this.#messageHandlers) guard(() => handler(peer, value));
  }

  peer(peer: NodeId, up: boolean): void {
    for (const handler of this.#peerHandlers) guard(() => handler(peer, up));
  }

  dropped(reason: DropReason): void {
    this.#stats.dropped[reason] += 1;
  }

  stats(): LinkStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  /** Forgets every handler (the link closed). */
  clear(): void {
    this.#messageHandlers.length = 0;
    this.#peerHandlers.length = 0;
  }
}

/** Runs a handler so that its exception is reported but cannot break the link's own work. */
function guard(run: () => void): void {
  try {
    run();
  } catch (error) {
    reportError(error);
  }
}
