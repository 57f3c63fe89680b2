// io/atomic.ts: the one place that writes outputs whole or not at all. Everything goes to a staging name beside
// the target first (`<target>.partial-<pid>-<n>`); only when all of it is written is it renamed into place, and a
// failure removes the staging copy. Errors are DecomcamErrors naming `label` (what the user gave, e.g. "--out x"),
// never the staging path: "cannot write --out /ro/x: permission denied".

import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';

let staged = 0; // a counter, not the clock: two stagings in one millisecond get different names

function stagingName(target: string): string {
  return `${target}.partial-${process.pid}-${staged++}`;
}

// A Node error from writing `label` → one line in our words.
function writeFailure(e: unknown, label: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EACCES: 'permission denied (choose a place you can write to)',
    EPERM: 'operation not permitted (choose a place you can write to)',
    EROFS: 'the file system is read-only (choose another place)',
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is used up',
    ENOTDIR: 'a part of that path is a file, not a folder',
    EEXIST: 'a file is in the way of a folder it needs',
    EISDIR: 'a folder is in the way of a file it needs',
    ENAMETOOLONG: 'the path is too long',
    ENOENT: 'a folder on that path does not exist and cannot be made',
  };
  return fail(`cannot write ${label}: ${(code && why[code]) ?? `the system refused (${code ?? (e as Error).message})`}`);
}

/**
 * One file: written beside `path` and renamed over it.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string, label = path): void {
  const tmp = stagingName(path);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    writeFailure(e, label);
  }
}

/**
 * A set of files { relativePath: bytes | string } into the folder `dir` (made if missing). An existing `dir`
 * that is not a folder is refused before anything is written.
 */
export function writeFilesAtomic(dir: string, files: Record<string, Uint8Array | string>, label = dir): void {
  const target = resolve(dir);
  if (existsSync(target) && !statSync(target).isDirectory()) fail(`cannot write ${label}: it is an existing file, not a folder`, 'usage');
  const staging = stagingName(target);
  try {
    for (const [rel, bytes] of Object.entries(files)) {
      const p = join(staging, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
    mkdirSync(target, { recursive: true });
    for (const rel of Object.keys(files)) {
      mkdirSync(dirname(join(target, rel)), { recursive: true });
      renameSync(join(staging, rel), join(target, rel));
    }
  } catch (e) {
    writeFailure(e, label);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
