// Typed errors. Every error tandemfs throws on purpose is a TandemError with a stable `code`
// and plain `data`, so it survives structured cloning, comlink and JSON (isomorphic-git style).

export class TandemError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: Code, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }

  toJSON(): { name: string; code: Code; message: string; data: Readonly<Record<string, unknown>> } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}

/** Why a journal record frame could not be encoded or decoded. */
export type RecordErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'LENGTH_MISMATCH'
  | 'CHECKSUM_MISMATCH'
  | 'FIELD_OUT_OF_RANGE'
  | 'BUFFER_TOO_SMALL';

export class RecordError extends TandemError<RecordErrorCode> {}
