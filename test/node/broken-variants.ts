// Deliberately broken cores, each breaking one rule of DESIGN.md or of the claims in one or two
// lines. The simulator's sweep must catch every one of them within its first seeds; if it cannot,
// it has no teeth for that rule.
//
// A variant is a mutation of the core's source, not a subclass: the core has no seams that exist
// only for tests, and a variant can break any line, private or not. The core's files are copied
// to a temporary folder with the mutation applied (each `find` must occur exactly once, so that a
// variant cannot silently go stale when the core changes), their imports of anything outside
// src/core are pointed back at this project's own files (so errors stay the same classes the
// simulator throws and checks), and the mutated Node is what the simulated cluster runs.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Node } from '../../src/core/node.js';
import type { MakeNode } from '../../src/sim/cluster.js';

/** Replace `find` (which must occur exactly once in src/core/`file`) with `replace`. */
export interface Mutation {
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

export interface BrokenVariant {
  readonly mutations: readonly Mutation[];
  /** The violation the simulator must report: the rule this variant breaks. */
  readonly breaks: RegExp;
}

const CORE = new URL('../../src/core/', import.meta.url);

/** The core with `mutations` applied, as a MakeNode; `dispose` deletes its files. */
export async function mutatedCore(mutations: readonly Mutation[]): Promise<{ makeNode: MakeNode; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tandemfs-variant-'));
  const unused = new Set(mutations);
  for (const file of await readdir(CORE)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    let text = await readFile(new URL(file, CORE), 'utf8');
    for (const mutation of mutations.filter((m) => m.file === file)) {
      const found = text.split(mutation.find).length - 1;
      if (found !== 1) throw new Error(`variant: ${file} holds ${found} copies of ${JSON.stringify(mutation.find)}, not one`);
      text = text.replace(mutation.find, () => mutation.replace);
      unused.delete(mutation);
    }
    text = text.replace(/from '\.\.\/([^']+)'/g, (_, path: string) => `from '${new URL(`../${path}`, CORE).href}'`);
    await writeFile(join(dir, file), text);
  }
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n'); // ES modules, like this project's
  if (unused.size > 0) throw new Error(`variant: no file ${[...unused].map((m) => m.file).join(', ')} in src/core`);
  const { Node: Mutated } = (await import(pathToFileURL(join(dir, 'node.ts')).href)) as { Node: typeof Node };
  return {
    makeNode: (ports, options) => new Mutated(ports, options),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export const BROKEN_VARIANTS: Record<string, BrokenVariant> = {
  // Its early acks die with the owner's storage: the next owner hands their LSNs to other ops.
  'acks before the mirror holds the record': {
    mutations: [{
      file: 'owned-volume.ts',
      find: 'return partner !== undefined && partner.mirroredThrough >= partner.syncTarget && partner.mirroredThrough >= lsn;',
      replace: 'return true;',
    }],
    breaks: /^(ack|invariant [12]):/,
  },
  'accepts new ops before replay completes': {
    mutations: [
      // No early replay, and the (whole) replay left running while the node serves.
      { file: 'takeover.ts', find: 'if (state.epoch > 0 && ours.ops.length > 0) {', replace: 'if (false) {' },
      {
        file: 'takeover.ts',
        find: 'await replay(ports, options, volume, lock, epoch, ops.slice(done), done, progress);',
        replace: 'void replay(ports, options, volume, lock, epoch, ops.slice(done), done, progress).catch(() => {});',
      },
    ],
    breaks: /^invariant 2:/,
  },
  'a fenced owner keeps flushing': {
    mutations: [
      { file: 'owned-volume.ts', find: 'fence(): void {\n    if (ENDED.has(this.#state)) return;', replace: 'fence(): void {\n    return;' },
      { file: 'owned-volume.ts', find: "return !ENDED.has(this.#state) && this.#state !== 'repairing' && !this.#lock.lost;", replace: 'return true;' },
    ],
    breaks: /^invariant 3:/,
  },
  // It rewrites each frame's CRC32C to match before decoding, so damage goes unseen.
  'skips the checksum check': {
    mutations: [
      {
        file: 'node.ts',
        find: 'verify: decodeRecord,',
        replace: `verify: (frame: Uint8Array) => {
        const copy = frame.slice();
        if (copy.length >= 76) new DataView(copy.buffer).setUint32(copy.length - 4, crc32c(copy.subarray(0, copy.length - 4)), true);
        return decodeRecord(copy);
      },`,
      },
      {
        file: 'node.ts',
        find: 'const adopted = await adopt(this.#ports, this.options, volume, lock, decodeRecord, progress);',
        replace: `const adopted = await adopt(this.#ports, this.options, volume, lock, (frame: Uint8Array) => {
      const copy = frame.slice();
      if (copy.length >= 76) new DataView(copy.buffer).setUint32(copy.length - 4, crc32c(copy.subarray(0, copy.length - 4)), true);
      return decodeRecord(copy);
    }, progress);`,
      },
      { file: 'node.ts', find: "import { decodeRecord } from '../record/codec.js';", replace: "import { decodeRecord } from '../record/codec.js';\nimport { crc32c } from '../record/crc32c.js';" },
    ],
    breaks: /^(invariant 4:|volume \d+ LSN \d+: the medium could not apply)/,
  },
  // The owner acks on the partner's word while the partner's copy is not yet durable.
  'a partner answers mirrored before its store write has finished': {
    mutations: [{
      file: 'mirror-keeper.ts',
      find: `      try {
        await this.#host.ports.mirror.put(records);`,
      replace: `      this.#host.send(from, { t: 'mirrored', volume, session, upTo: records.reduce((top, r) => Math.max(top, r.lsn), 0) });
      try {
        await this.#host.ports.mirror.put(records);`,
    }],
    breaks: /^(ack|invariant 1):/,
  },
  'a takeover uses the first copy of a record, even a damaged one beside an intact copy': {
    mutations: [{ file: 'takeover.ts', find: 'for (const copy of copies) {', replace: 'for (const copy of copies.slice(0, 1)) {' }],
    breaks: /^(invariant 1|liveness):/,
  },
  're-pairing sends the new partner only part of the unflushed backlog': {
    mutations: [{ file: 'owned-volume.ts', find: 'for (let at = 0; at < this.#records.length;', replace: 'for (let at = 1; at < this.#records.length;' }],
    breaks: /^(ack|invariant 1):/,
  },
  'the journal cap admits ops past the cap': {
    mutations: [{ file: 'owned-volume.ts', find: 'return this.#unflushedBytes >= this.#host.options.journalCapBytes;', replace: 'return this.#unflushedBytes >= 4 * this.#host.options.journalCapBytes;' }],
    breaks: /^journal cap:/,
  },
  // Node's semantics are the owner's to check: an op it lets through that the tree cannot take is
  // one the medium would skip, though it was acked.
  'the owner lets rmdir of a non-empty directory through': {
    mutations: [{ file: 'fs-plan.ts', find: 'if (!recursive && this.ns.children(entry, components(path)).size > 0)', replace: 'if (!recursive && this.ns.children(entry, components(path)).size < 0)' }],
    breaks: /^skipped:/,
  },
  'the owner checks a change against the medium alone, not its unflushed ops': {
    mutations: [{ file: 'owned-volume.ts', find: '      last.undo = this.#namespace.apply(op, last.lsn);', replace: '      last.undo = () => {};' }],
    breaks: /^(skipped|exactly-once|invariant)/,
  },
  'requireMirror is ignored: acks come from the journal alone': {
    mutations: [{ file: 'owned-volume.ts', find: 'const journalOnly = !this.#host.options.requireMirror && this.degraded;', replace: 'const journalOnly = this.degraded;' }],
    breaks: /^ack:/,
  },
  'replayed op ids are not remembered, so a retried op is applied again': {
    mutations: [{ file: 'takeover.ts', find: 'const known = [...recent, ...ops.map((op) => [op.opId, op.lsn] as const)];', replace: 'const known = [...recent];' }],
    breaks: /^exactly-once:/,
  },
  // The bug the sweep once missed: a volume that moved on after its takeover forgot the op ids.
  'op ids an earlier owner applied are not remembered, so a retry after a move is applied again': {
    mutations: [{ file: 'takeover.ts', find: 'const known = [...recent, ...ops.map((op) => [op.opId, op.lsn] as const)];', replace: 'const known = ops.map((op) => [op.opId, op.lsn] as const);' }],
    breaks: /^exactly-once:/,
  },
  'a mirrored answer from a stale pairing session is accepted': {
    mutations: [{ file: 'owned-volume.ts', find: 'if (!partner || partner.node !== from || partner.session !== session) return;', replace: 'if (!partner || partner.node !== from) return;' }],
    breaks: /^(ack|invariant 1):/,
  },
  'a takeover does not fence: it writes at the old owner\'s epoch': {
    mutations: [
      // Both claims reuse the old owner's epoch, and are not made once the medium has one.
      { file: 'takeover.ts', find: 'const epoch = maxEpochOf(state, copies) + 1;', replace: 'const epoch = Math.max(state.epoch, 1);' },
      { file: 'takeover.ts', find: 'const epoch = Math.max(maxEpoch, early?.epoch ?? 0) + 1;', replace: 'const epoch = Math.max(state.epoch, 1);' },
      {
        file: 'takeover.ts',
        find: 'return (await ports.medium.claim(volume, epoch, base)).recent;',
        replace: 'return (await ports.medium.state(volume)).epoch === 0 ? (await ports.medium.claim(volume, epoch, base)).recent : [];',
      },
    ],
    breaks: /^invariant 3:/,
  },
  // Liveness waits in the data queue: a stalled channel makes a live owner look hung.
  'heartbeats queue behind data': {
    mutations: [{ file: 'node.ts', find: 'this.#send(peer, message, true);', replace: 'this.#send(peer, message);' }],
    breaks: /^liveness: .*false takeover/,
  },
  'a volume that ended still takes a flush that completes late': {
    mutations: [{ file: 'owned-volume.ts', find: '    if (ENDED.has(this.#state)) return false;\n', replace: '' }],
    breaks: /^(core|invariant \d):/,
  },
  'clients are told a journal write failed while the partner may still replay it': {
    mutations: [{
      file: 'owned-volume.ts',
      find: 'if (this.#host.options.mirrorConcurrently && failed.length > 0 && !(await this.#raiseEpoch(lastKept))) {',
      replace: 'if (false) {',
    }],
    breaks: /^exactly-once:/,
  },
};
