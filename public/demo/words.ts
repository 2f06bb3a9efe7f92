// What each step and event is called, in the words of tandemfs's design, with one sentence of
// what it means. The picture, the step feed and the timeline all take their words from here.
import type { NodeEvent, Step, StepKind } from '../../src/index.js';

export const STEP_WORDS: Record<StepKind, { label: string; meaning: string }> = {
  journal: { label: 'journal', meaning: "The owner puts the records in its journal (IndexedDB): they outlive this tab's crash." },
  send: { label: 'mirror (send)', meaning: 'The owner sends the same records over the link to its partner, at the same time.' },
  mirror: { label: 'mirror', meaning: "The partner checks each record's CRC32C and puts it in its mirror (IndexedDB)." },
  mirrored: { label: 'ack', meaning: 'The partner answers that its mirror holds them: with the journal copy, the owner can now ack the writes.' },
  flush: { label: 'flush', meaning: 'The owner applies the records to the medium (OPFS), in LSN order, and records how far it got.' },
  trim: { label: 'trim', meaning: 'Once in the medium, the records are deleted from the journal and the mirror.' },
  fence: { label: 'fence', meaning: 'A new epoch is claimed in the medium: the old owner can never write to the volume again.' },
  forward: { label: 'op', meaning: "A client sends its op to the volume's owner, which alone may change the volume." },
  answer: { label: 'ack', meaning: 'The owner answers the client: its op is in the journal and the mirror.' },
};

export const lsnText = (step: Step): string => {
  if (!step.lsns) return step.epoch === undefined ? '' : `epoch ${step.epoch}`;
  const [first, last] = step.lsns;
  if (step.kind === 'mirrored') return `through LSN ${last}`;
  if (last >= Number.MAX_SAFE_INTEGER) return `LSNs from ${first} on`;
  return first === last ? `LSN ${first}` : `LSNs ${first}–${last}`;
};

/** A node event as a timeline line. */
export function eventText(event: NodeEvent): string {
  switch (event.type) {
    case 'takeover-started':
      return event.how === 'steal'
        ? `detected: the owner of volume ${event.volume} fell silent (hung, or its storage broke); taking its volume lock`
        : `detected: volume ${event.volume} has no owner (its tab closed or crashed); taking it over`;
    case 'replay-progress':
      return `replay: ${event.replayed} of ${event.total} mirrored ops applied to the medium`;
    case 'takeover-finished':
      return `takeover: owner of volume ${event.volume} at epoch ${event.epoch}, after replaying ${event.replayed} ops; new writes are served`;
    case 'released':
      return `released volume ${event.volume} (${event.why}): ${RELEASED[event.why]}`;
    case 'partner':
      return `partner: volume ${event.volume} is mirrored by ${shortId(event.partner)}`;
    case 'degraded':
      return event.degraded
        ? `degraded: volume ${event.volume} has no partner in sync; acks come from the journal alone`
        : `mirrored again: volume ${event.volume}'s partner holds every unflushed record`;
    case 'flush-lag':
      return `flush lag: ${event.records} records wait for the medium`;
    case 'volume-stopped':
      return `volume ${event.volume} stopped: ${event.error.message}`;
  }
}

const RELEASED: Record<Extract<NodeEvent, { type: 'released' }>['why'], string> = {
  fenced: 'a newer epoch took it while this tab was not heard from; this tab will never write to it again',
  'gave-up': "this tab's storage I/O failed again and again, so it gave the volume to its partner",
  'handed-over': 'a planned hand-over, drained first',
};

/** A node's id, short enough to read ("tab 3f9a"). */
export const shortId = (node: string): string => `tab ${node.slice(0, 4)}`;
