// The wire format of the browser links: a core message (JSON-like values with Uint8Arrays
// anywhere inside) as bytes, in frames a data channel can carry.
//
//   frame    := version:u8 kind:u8 body
//   kind 1   message   body = value                  a whole core message
//   kind 2   control   body = value                  the handshake (auth.ts)
//   kind 3   first     body = total:u32le chunk      the first piece of a frame cut up
//   kind 4   next      body = chunk                  a following piece
//   value    := tag:u8 ...
//     0 undefined · 1 null · 2 false · 3 true
//     4 uint varint · 5 negative int varint(-n) · 6 float64le (every other number, -0 included)
//     7 string varint(byte length) UTF-8 · 8 bytes varint(length) raw
//     9 array varint(count) value* · 10 object varint(count) (varint(length) UTF-8 key, value)*
//   varint   := LEB128, at most 8 bytes, at most 2^53 - 1
//
// Bytes travel raw, so a 256 KiB record costs 256 KiB plus a few bytes (base64 would add a
// third). A frame longer than a data channel message may be is cut into `first`/`next` pieces
// that arrive in order on the peer's channel and are joined by a Reassembler. Decoding trusts
// nothing: every length is checked against the bytes left before anything is allocated, and
// nesting and message size are capped, so hostile input costs at most MAX_MESSAGE_BYTES.
import { LinkError } from '../errors.js';

/**
 * 2: a WebRtcLink has a second data channel, for urgent messages. A peer of version 1 would
 * never hear them (it has no such channel): it is refused at its hello rather than connected
 * to a node whose heartbeats it drops.
 */
export const WIRE_VERSION = 2;
/** The largest frame a data channel takes: Chromium's `pc.sctp.maxMessageSize`. */
export const MAX_FRAME_BYTES = 262_144;
/**
 * The largest message, encoded. The core's largest is a resync group: 64 records of up to
 * 256 KiB each (16 MiB) plus their headers; twice that leaves room without inviting abuse.
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Nesting of arrays and objects allowed; core messages nest four deep. Also stops cycles. */
export const MAX_DEPTH = 32;

/** What a whole frame carries. */
export type FrameKind = 'message' | 'control';

/** A decoded whole frame. */
export interface WireFrame {
  readonly kind: FrameKind;
  readonly value: unknown;
}

const KIND_MESSAGE = 1;
const KIND_CONTROL = 2;
const KIND_FIRST = 3;
const KIND_NEXT = 4;
const HEADER_BYTES = 2;
const FIRST_HEADER_BYTES = HEADER_BYTES + 4;

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_UINT = 4;
const T_NEGATIVE = 5;
const T_FLOAT = 6;
const T_STRING = 7;
const T_BYTES = 8;
const T_ARRAY = 9;
const T_OBJECT = 10;

const VARINT_MAX_BYTES = 8;
const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the string, as it was sent.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes `value` as one whole frame (of any length: `fragment` cuts it for a data channel). */
export function encodeWire(value: unknown, kind: FrameKind = 'message'): Uint8Array<ArrayBuffer> {
  const writer = new Writer();
  writer.byte(WIRE_VERSION);
  writer.byte(kind === 'message' ? KIND_MESSAGE : KIND_CONTROL);
  writeValue(writer, value, 0);
  return writer.result();
}

/** A byte buffer that grows by doubling, up to MAX_MESSAGE_BYTES. */
class Writer {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #at = 0;

  #reserve(count: number): void {
    const needed = this.#at + count;
    if (needed <= this.#bytes.length) return;
    if (needed > MAX_MESSAGE_BYTES) {
      throw new LinkError('TOO_LARGE', `a message longer than ${MAX_MESSAGE_BYTES} bytes encoded`, { limit: MAX_MESSAGE_BYTES });
    }
    const grown = new Uint8Array(Math.min(MAX_MESSAGE_BYTES, Math.max(needed, this.#bytes.length * 2)));
    grown.set(this.#bytes.subarray(0, this.#at));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  byte(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#at++] = value;
  }

  varint(value: number): void {
    this.#reserve(VARINT_MAX_BYTES);
    let rest = value;
    while (rest >= 0x80) {
      this.#bytes[this.#at++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80); // not >>>: values reach 2^53
    }
    this.#bytes[this.#at++] = rest;
  }

  float64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#at, value, true);
    this.#at += 8;
  }

  raw(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#at);
    this.#at += bytes.length;
  }

  /** The bytes written; the view may sit in a larger buffer. */
  result(): Uint8Array<ArrayBuffer> {
    return this.#bytes.subarray(0, this.#at);
  }
}

function writeValue(writer: Writer, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'undefined':
      return writer.byte(T_UNDEFINED);
    case 'boolean':
      return writer.byte(value ? T_TRUE : T_FALSE);
    case 'number':
      return writeNumber(writer, value);
    case 'string':
      writer.byte(T_STRING);
      return writeString(writer, value);
    case 'object':
      if (value === null) return writer.byte(T_NULL);
      return writeObject(writer, value, depth);
    default:
      throw unencodable(`a ${typeof value}`);
  }
}

function writeNumber(writer: Writer, value: number): void {
  if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
    writer.byte(T_FLOAT);
    writer.float64(value);
  } else if (value >= 0) {
    writer.byte(T_UINT);
    writer.varint(value);
  } else {
    writer.byte(T_NEGATIVE);
    writer.varint(-value);
  }
}

function writeString(writer: Writer, value: string): void {
  // A lone surrogate would come back as U+FFFD: refuse it rather than change the text.
  if (!value.isWellFormed()) throw unencodable('a string with a lone surrogate');
  writer.raw(utf8.encode(value));
}

function writeObject(writer: Writer, value: object, depth: number): void {
  if (depth >= MAX_DEPTH) throw unencodable(`values nested deeper than ${MAX_DEPTH} (or a cycle)`);
  if (value instanceof Uint8Array) {
    writer.byte(T_BYTES);
    return writer.raw(value);
  }
  if (Array.isArray(value)) {
    writer.byte(T_ARRAY);
    writer.varint(value.length);
    for (let i = 0; i < value.length; i++) writeValue(writer, value[i], depth + 1);
    return;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  // Only plain objects: anything else (a Map, a Date, another typed array) would come back as
  // something else, so it is a bug to find here, not later on the other side.
  if (prototype !== Object.prototype && prototype !== null) throw unencodable(`a ${value.constructor?.name ?? 'non-plain'} object`);
  const keys = Object.keys(value);
  writer.byte(T_OBJECT);
  writer.varint(keys.length);
  for (const key of keys) {
    writeString(writer, key);
    writeValue(writer, (value as Record<string, unknown>)[key], depth + 1);
  }
}

function unencodable(what: string): LinkError {
  return new LinkError('UNENCODABLE', `the link cannot carry ${what}`, { what });
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** What a frame's header says it is; throws a LinkError when the header is not one we speak. */
export function frameKind(frame: Uint8Array): FrameKind | 'fragment' {
  if (frame.length < HEADER_BYTES) throw new LinkError('TRUNCATED', `a frame of ${frame.length} bytes has no header`);
  if (frame[0] !== WIRE_VERSION) {
    throw new LinkError('UNSUPPORTED_VERSION', `wire version ${frame[0]} is not ${WIRE_VERSION}`, { version: frame[0] });
  }
  switch (frame[1]) {
    case KIND_MESSAGE:
      return 'message';
    case KIND_CONTROL:
      return 'control';
    case KIND_FIRST:
    case KIND_NEXT:
      return 'fragment';
    default:
      throw new LinkError('UNKNOWN_KIND', `frame kind ${frame[1]} is unknown`, { kind: frame[1] });
  }
}

/**
 * Decodes one whole frame. Bytes in the value come back as fresh Uint8Arrays, not views of
 * `frame`: a view would keep the whole frame alive, and IndexedDB would store all of it.
 */
export function decodeWire(frame: Uint8Array): WireFrame {
  const kind = frameKind(frame);
  if (kind === 'fragment') throw new LinkError('BAD_FRAGMENT', 'a fragment is not a whole frame');
  const reader = new Reader(frame, HEADER_BYTES);
  const value = reader.value(0);
  if (reader.left > 0) throw new LinkError('TRAILING_BYTES', `${reader.left} bytes follow the value`, { count: reader.left });
  return { kind, value };
}

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at: number;

  constructor(bytes: Uint8Array, at: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#at = at;
  }

  get left(): number {
    return this.#bytes.length - this.#at;
  }

  value(depth: number): unknown {
    const tag = this.#byte();
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_UINT:
        return this.#varint();
      case T_NEGATIVE:
        return this.#negative();
      case T_FLOAT:
        return this.#float64();
      case T_STRING:
        return this.#string();
      case T_BYTES:
        return this.#take(this.#length()).slice();
      case T_ARRAY:
        return this.#array(depth);
      case T_OBJECT:
        return this.#object(depth);
      default:
        throw new LinkError('UNKNOWN_TAG', `value tag ${tag} is unknown`, { tag });
    }
  }

  #byte(): number {
    if (this.left < 1) throw truncated();
    return this.#bytes[this.#at++]!;
  }

  #varint(): number {
    let value = 0;
    for (let i = 0, scale = 1; i < VARINT_MAX_BYTES; i++, scale *= 0x80) {
      const byte = this.#byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) break;
        return value;
      }
    }
    throw new LinkError('BAD_NUMBER', 'a varint beyond 2^53 - 1');
  }

  #negative(): number {
    const magnitude = this.#varint();
    if (magnitude === 0) throw new LinkError('BAD_NUMBER', 'a negative zero integer (-0 is a float)');
    return -magnitude;
  }

  #float64(): number {
    if (this.left < 8) throw truncated();
    const value = this.#view.getFloat64(this.#at, true);
    this.#at += 8;
    return value;
  }

  /** A byte length, checked against what is left before anything is taken or allocated. */
  #length(): number {
    const length = this.#varint();
    if (length > this.left) throw truncated();
    return length;
  }

  #take(length: number): Uint8Array {
    const bytes = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return bytes;
  }

  #string(): string {
    const bytes = this.#take(this.#length());
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw new LinkError('BAD_UTF8', 'a string that is not valid UTF-8');
    }
  }

  /** An item count: every item takes at least `minBytes`, so a count the bytes cannot hold is a lie. */
  #count(depth: number, minBytes: number): number {
    if (depth >= MAX_DEPTH) throw new LinkError('TOO_LARGE', `values nested deeper than ${MAX_DEPTH}`, { limit: MAX_DEPTH });
    const count = this.#varint();
    if (count * minBytes > this.left) throw truncated();
    return count;
  }

  #array(depth: number): unknown[] {
    const count = this.#count(depth, 1);
    const items: unknown[] = [];
    for (let i = 0; i < count; i++) items.push(this.value(depth + 1));
    return items;
  }

  #object(depth: number): Record<string, unknown> {
    const count = this.#count(depth, 2);
    const object: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      const key = this.#string();
      const value = this.value(depth + 1);
      // A plain assignment to "__proto__" would set the prototype; JSON.parse makes a property.
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return object;
  }
}

function truncated(): LinkError {
  return new LinkError('TRUNCATED', 'the frame ends inside a value');
}

// ---------------------------------------------------------------------------------------------
// Fragments

/** Cuts a whole frame longer than `max` bytes into fragments of at most `max` bytes, in order. */
export function fragment(frame: Uint8Array<ArrayBuffer>, max = MAX_FRAME_BYTES): Array<Uint8Array<ArrayBuffer>> {
  if (frame.length <= max) return [frame];
  const first = new Uint8Array(max);
  first.set([WIRE_VERSION, KIND_FIRST]);
  new DataView(first.buffer).setUint32(HEADER_BYTES, frame.length, true);
  first.set(frame.subarray(0, max - FIRST_HEADER_BYTES), FIRST_HEADER_BYTES);
  const fragments = [first];
  for (let at = max - FIRST_HEADER_BYTES; at < frame.length; at += max - HEADER_BYTES) {
    const chunk = frame.subarray(at, at + max - HEADER_BYTES);
    const next = new Uint8Array(HEADER_BYTES + chunk.length);
    next.set([WIRE_VERSION, KIND_NEXT]);
    next.set(chunk, HEADER_BYTES);
    fragments.push(next);
  }
  return fragments;
}

/**
 * Joins the fragments of one peer's frames, which arrive in order. One frame is joined at a
 * time, and its pieces are kept until the last one is in, so what a peer makes us hold is what
 * it actually sent, never more than MAX_MESSAGE_BYTES (a lying total allocates nothing).
 */
export class Reassembler {
  #joining: { total: number; filled: number; chunks: Uint8Array[] } | undefined;
  readonly #abandoned: () => void;

  /** `abandoned` hears of a frame given up half-joined (the fragments after it never came). */
  constructor(abandoned: () => void) {
    this.#abandoned = abandoned;
  }

  /**
   * The whole frame `frame` completes (`frame` itself when it was never cut), or undefined while
   * fragments are due. Throws a LinkError for a frame or fragment out of place; a frame being
   * joined is then given up.
   */
  accept(frame: Uint8Array): Uint8Array | undefined {
    let kind: ReturnType<typeof frameKind>;
    try {
      kind = frameKind(frame);
    } catch (error) {
      this.#abandon();
      throw error;
    }
    if (kind !== 'fragment') {
      this.#abandon();
      return frame;
    }
    return frame[1] === KIND_FIRST ? this.#first(frame) : this.#next(frame);
  }

  #abandon(): void {
    if (this.#joining === undefined) return;
    this.#joining = undefined;
    this.#abandoned();
  }

  #first(frame: Uint8Array): Uint8Array | undefined {
    this.#abandon();
    if (frame.length < FIRST_HEADER_BYTES) throw new LinkError('TRUNCATED', 'a first fragment without its length');
    const total = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(HEADER_BYTES, true);
    if (total > MAX_MESSAGE_BYTES) {
      throw new LinkError('TOO_LARGE', `a fragmented frame of ${total} bytes`, { total, limit: MAX_MESSAGE_BYTES });
    }
    const chunk = frame.subarray(FIRST_HEADER_BYTES);
    checkChunk(chunk, total);
    this.#joining = { total, filled: 0, chunks: [] };
    return this.#append(chunk);
  }

  #next(frame: Uint8Array): Uint8Array | undefined {
    const joining = this.#joining;
    if (joining === undefined) throw new LinkError('BAD_FRAGMENT', 'a fragment with no first fragment before it');
    const chunk = frame.subarray(HEADER_BYTES);
    try {
      checkChunk(chunk, joining.total - joining.filled);
    } catch (error) {
      this.#abandon();
      throw error;
    }
    return this.#append(chunk);
  }

  #append(chunk: Uint8Array): Uint8Array | undefined {
    const joining = this.#joining!;
    joining.chunks.push(chunk);
    joining.filled += chunk.length;
    if (joining.filled < joining.total) return undefined;
    this.#joining = undefined;
    const whole = new Uint8Array(joining.total);
    let at = 0;
    for (const piece of joining.chunks) {
      whole.set(piece, at);
      at += piece.length;
    }
    return whole;
  }
}

function checkChunk(chunk: Uint8Array, due: number): void {
  if (chunk.length === 0 || chunk.length > due) {
    throw new LinkError('BAD_FRAGMENT', `a fragment of ${chunk.length} bytes where ${due} are due`, { length: chunk.length, due });
  }
}
