// tandemfs public entry point.
export { TandemError, RecordError, type RecordErrorCode } from './errors.js';
export { crc32c, Crc32c } from './record/crc32c.js';
export { encodeRecord, encodeRecordInto, decodeRecord } from './record/codec.js';
export type { JournalRecord, Op, OpType } from './record/types.js';
export { startBrowserNode, type BrowserNode, type BrowserNodeOptions } from './browser/start-node.js';
export type { LinkKind } from './browser/hub.js';
export type { NodeOptions } from './core/options.js';
export type { Durability } from './browser/idb-stores.js';
export { FS, type FSOptions, FsPromises, type FsBackend, FileHandle, Stats, Dirent } from './fs/index.js';
export { FsError, NodeError, MediumError, type FsErrorCode, type NodeErrorCode } from './errors.js';
export type { NodeEvent, NodeStatus } from './core/node.js';
export { StepTracer, type Step, type StepKind, type StepTracerOptions } from './core/trace.js';
export type { FsChange, FsQuery, ChangeResult, QueryResult } from './core/fs-request.js';
export { hostWorkerNode, WorkerBridge, type WorkerHostOptions } from './browser/worker-bridge.js';
export { startWorkerNode, BridgedLink, type WorkerNode, type WorkerNodeOptions, type BridgedLinkOptions } from './browser/worker-node.js';
