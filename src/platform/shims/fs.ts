// platform/shims/fs.ts: node:fs in the browser bundle. A page has no file system: every call is a DecomcamError
// saying so and what to use instead (loadClipFromFiles with the files' bytes, decodeImage with an image's bytes).

import { fail } from '../../errors.js';

function noFiles(call: string, path: unknown): never {
  return fail(`${call}(${JSON.stringify(String(path))}): a browser has no file system; give the bytes instead ` +
    '(loadClipFromFiles for a model, decodeImage for an image)', 'usage');
}

export const existsSync = (p: unknown): never => noFiles('existsSync', p);
export const statSync = (p: unknown): never => noFiles('statSync', p);
export const readFileSync = (p: unknown): never => noFiles('readFileSync', p);
export const readdirSync = (p: unknown): never => noFiles('readdirSync', p);
export const writeFileSync = (p: unknown): never => noFiles('writeFileSync', p);
export const mkdirSync = (p: unknown): never => noFiles('mkdirSync', p);
export const renameSync = (p: unknown): never => noFiles('renameSync', p);
export const rmSync = (p: unknown): never => noFiles('rmSync', p);
export const openSync = (p: unknown): never => noFiles('openSync', p);
export const readSync = (p: unknown): never => noFiles('readSync', p);
export const closeSync = (p: unknown): never => noFiles('closeSync', p);
export const fstatSync = (p: unknown): never => noFiles('fstatSync', p);
