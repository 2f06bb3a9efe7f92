// The partner's side: keep a mirror of each owner's journal. Every record is verified (CRC32C and
// key fields) before it is stored; the owner hears back how far the mirror holds its records.
import type { Message, Partners } from './messages.js';
import type { NodeId, Ports, StoredRecord } from './ports.js';
import type { Verify } from './takeover.js';

export interface KeeperHost {
  readonly ports: Ports;
  send(to: NodeId, message: Message): boolean;
  verify: Verify;
  /** A node became an owner we mirror for (to watch over it). */
  mirroringFor(owner: NodeId): void;
}

interface Mirrored {
  owner: NodeId;
  epoch: number;
  session: number;
  /** False once a damaged record voided the session (the owner pairs again). */
  sound: boolean;
}

export class MirrorKeeper {
  #host: KeeperHost;
  #volumes = new Map<number, Mirrored>();
  /** The highest epoch known per volume: pairings from older epochs come from fenced owners. */
  #epochs = new Map<number, number>();
  /** Work on each volume's mirror runs in message order. */
  #chains = new Map<number, Promise<void>>();
  /** Per volume, the mirror messages of the last queued work, still taking more (see onMirror). */
  #openBatches = new Map<number, Extract<Message, { t: 'mirror' }>[]>();

  constructor(host: KeeperHost) {
    this.#host = host;
  }

  /** Owners this node mirrors for, with their volumes. */
  owners(): Map<NodeId, number[]> {
    const out = new Map<NodeId, number[]>();
    for (const [volume, { owner }] of this.#volumes) out.set(owner, [...(out.get(owner) ?? []), volume]);
    return out;
  }

  ownerOf(volume: number): NodeId | undefined {
    return this.#volumes.get(volume)?.owner;
  }

  /** This node now owns the volume at `epoch`: stop mirroring it for anyone older. */
  forget(volume: number, epoch: number): void {
    this.#volumes.delete(volume);
    this.#raiseEpoch(volume, epoch);
  }

  /**
   * A node says it owns `volume` at `epoch`. Mirroring it for an owner of an older epoch is over:
   * that owner handed it over or was fenced, and must never be taken over from on our account
   * (were it to fall silent later, we would steal the volume from its live new owner).
   */
  onOwnerClaim(owner: NodeId, volume: number, epoch: number): void {
    const mirrored = this.#volumes.get(volume);
    if (mirrored && mirrored.owner !== owner && mirrored.epoch < epoch) this.#volumes.delete(volume);
    this.#raiseEpoch(volume, epoch);
  }

  #raiseEpoch(volume: number, epoch: number): void {
    this.#epochs.set(volume, Math.max(epoch, this.#epochs.get(volume) ?? 0));
  }

  #then(volume: number, work: () => Promise<void>): void {
    const next = (this.#chains.get(volume) ?? Promise.resolve()).then(work).catch(() => {});
    this.#chains.set(volume, next);
  }

  #current(from: NodeId, volume: number, session: number): Mirrored | undefined {
    const mirrored = this.#volumes.get(volume);
    return mirrored && mirrored.owner === from && mirrored.session === session ? mirrored : undefined;
  }

  onPair(from: NodeId, message: Extract<Message, { t: 'pair' }>): void {
    const { volume, epoch, session, keepThrough } = message;
    if (epoch < (this.#epochs.get(volume) ?? 0)) return;
    this.#raiseEpoch(volume, epoch);
    this.#volumes.set(volume, { owner: from, epoch, session, sound: true });
    this.#host.mirroringFor(from);
    this.#openBatches.delete(volume);
    // An earlier session may have left records the owner no longer has (it took their LSNs back).
    this.#then(volume, () => this.#host.ports.mirror.deleteRange(volume, keepThrough + 1, Number.MAX_SAFE_INTEGER));
  }

  /**
   * Mirror messages that arrive while the mirror is busy wait in one batch, stored in one
   * transaction when its turn comes: a put costs about the same for one record as for dozens, and
   * puts to one store run one at a time anyway. A batch takes messages only while it is the last
   * work queued, so a pair or a trim after them still runs after them.
   */
  onMirror(from: NodeId, message: Extract<Message, { t: 'mirror' }>): void {
    const { volume, session } = message;
    if (!this.#current(from, volume, session)) return;
    const open = this.#openBatches.get(volume);
    if (open) {
      open.push(message);
      return;
    }
    const batch = [message];
    this.#openBatches.set(volume, batch);
    this.#then(volume, () => {
      if (this.#openBatches.get(volume) === batch) this.#openBatches.delete(volume);
      return this.#store(from, volume, session, batch);
    });
  }

  /** Stores a batch's records (up to a message that fails its check) and says how far the mirror holds them. */
  async #store(from: NodeId, volume: number, session: number, batch: readonly Extract<Message, { t: 'mirror' }>[]): Promise<void> {
    const mirrored = this.#current(from, volume, session);
    if (!mirrored?.sound) return;
    const records: StoredRecord[] = [];
    let damaged = false;
    for (const message of batch) {
      const verified = this.#verified(message);
      if (!verified) {
        damaged = true;
        break;
      }
      records.push(...verified);
    }
    if (records.length > 0) {
      try {
        await this.#host.ports.mirror.put(records);
      } catch {
        damaged = true;
        records.length = 0;
      }
    }
    if (records.length > 0) this.#host.send(from, { t: 'mirrored', volume, session, upTo: records.reduce((top, r) => Math.max(top, r.lsn), 0) });
    if (damaged) {
      mirrored.sound = false;
      this.#host.send(from, { t: 'mirrorFailed', volume, session });
    }
  }

  /** The message's records, each checked against its CRC32C and its claimed place; or none. */
  #verified(message: Extract<Message, { t: 'mirror' }>): StoredRecord[] | undefined {
    const { volume, epoch, lsns, frames } = message;
    if (lsns.length !== frames.length || lsns.length === 0) return undefined;
    const records: StoredRecord[] = [];
    for (let i = 0; i < frames.length; i++) {
      try {
        const record = this.#host.verify(frames[i]!);
        // A record may be of an earlier epoch of the same owner (it raised its epoch after a
        // journal failure and sends its backlog again), never of a later one.
        if (record.volume !== volume || record.epoch > epoch || record.lsn !== lsns[i]) return undefined;
        records.push({ volume, lsn: record.lsn, epoch: record.epoch, frame: frames[i]! });
      } catch {
        return undefined;
      }
    }
    return records;
  }

  /**
   * An owner says who mirrors its volumes now. A volume it pairs elsewhere, or with nobody, in
   * our session or a later one, is no longer ours to mirror (an older heartbeat, overtaken by a
   * new pairing, says nothing). Left stale, we would take that volume over when the owner goes
   * silent, from under the partner that is really taking it over.
   */
  onOwnerHeartbeat(from: NodeId, partners: Partners): void {
    for (const [volume, partner, session] of partners) {
      const mirrored = this.#volumes.get(volume);
      if (mirrored?.owner === from && partner !== this.#host.ports.self && session >= mirrored.session) this.#volumes.delete(volume);
    }
  }

  /** The owner was fenced: it owns the volume no more, so we watch over it for that volume no more. */
  onUnpair(from: NodeId, message: Extract<Message, { t: 'unpair' }>): void {
    if (!this.#current(from, message.volume, message.session)) return;
    this.#volumes.delete(message.volume);
    this.#openBatches.delete(message.volume);
  }

  onTrim(from: NodeId, message: Extract<Message, { t: 'trim' }>): void {
    const { volume, upTo } = message;
    if (this.#volumes.get(volume)?.owner !== from) return;
    this.#openBatches.delete(volume);
    this.#then(volume, () => this.#host.ports.mirror.deleteRange(volume, 1, upTo));
  }
}
