// tandemfs public entry point.
export { TandemError, RecordError, type RecordErrorCode } from './errors.js';
export { crc32c, Crc32c } from './record/crc32c.js';
export { encodeRecord, encodeRecordInto, decodeRecord } from './record/codec.js';
export type { JournalRecord, Op, OpType } from './record/types.js';
