// The fs API: FS (lightning-fs shaped, Node's fs.promises subset) and what it returns.
export { FS, type FSOptions } from './fs.js';
export { FsPromises, type FsBackend } from './promises.js';
export { FileHandle } from './file-handle.js';
export { Stats, Dirent } from './stats.js';
export { Mounts, normalize } from './paths.js';
