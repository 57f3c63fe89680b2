// tools/lib/files.js: the command-line tools' checks on the files a user names. Inputs must be regular files
// under a size limit, checked before anything is read (so /dev/zero, a FIFO or a folder is refused, never read
// until memory runs out or blocked on forever); outputs must never land on an input, compared by resolved real
// path and by inode, so that re-running on an earlier output cannot replace the file being read.
import { existsSync, readdirSync, realpathSync, statSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './cli.js';

export const MAX_IMAGE_BYTES = 512 * 2 ** 20;  // a 100-megapixel PNG stored uncompressed is ~300 MB
export const MAX_MODEL_BYTES = 2 ** 31 - 1;    // what Node reads into one buffer
export const MAX_TEXT_BYTES = 64 * 2 ** 20;    // config.json, vocab.json, merges.txt, sample.json

function kind(st) {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const mb = (n) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 0)} MB`;

// `what` names the file as the user gave it ('--image cat.png'); returns its stat.
export function checkRegularFile(path, what, maxBytes) {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UsageError(`${what}: ${e.code === 'ENOENT' ? 'does not exist' : e.code === 'EACCES' ? 'permission denied' : e.code === 'ELOOP' ? 'a loop of symbolic links' : e.code === 'ENOTDIR' ? 'a part of that path is a file, not a folder' : `cannot be read (${e.code ?? e.message})`}`);
  }
  if (!st.isFile()) throw new UsageError(`${what} is ${kind(st)}, not a file: give a regular file`);
  if (st.size > maxBytes) throw new UsageError(`${what} is ${mb(st.size)}, over the ${mb(maxBytes)} this tool reads`);
  return st;
}

export function readRegularFile(path, what, maxBytes) {
  checkRegularFile(path, what, maxBytes);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`${what}: cannot be read (${e.code ?? e.message})`);
  }
}

// The files loadClip may read from --model (a folder, or an OpenAI .safetensors file), each checked → their paths.
export function checkModelFiles(model, what) {
  let st;
  try {
    st = statSync(model);
  } catch (e) {
    throw new UsageError(`${what} ${e.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e.code})`} (give --model DIR with config.json + model.safetensors)`);
  }
  if (st.isFile()) {
    checkRegularFile(model, what, MAX_MODEL_BYTES);
    return [model, ...checkModelFiles(dirname(model), `the folder of ${what}`).filter((p) => !p.endsWith('.safetensors'))];
  }
  if (!st.isDirectory()) throw new UsageError(`${what} is ${kind(st)}, not a model folder: give the folder with config.json + model.safetensors`);
  const files = [];
  for (const name of readdirSync(model).sort()) {
    const p = join(model, name);
    const isModelFile = name.endsWith('.safetensors');
    const isText = ['config.json', 'model.safetensors.index.json', 'vocab.json', 'merges.txt', 'sample.json', 'bpe_simple_vocab_16e6.txt.gz'].includes(name);
    if (!isModelFile && !isText) continue;
    checkRegularFile(p, `${what}: ${name}`, isModelFile ? MAX_MODEL_BYTES : MAX_TEXT_BYTES);
    files.push(p);
  }
  return files;
}

// The directory entry a path names (its folder resolved, its own name kept): what a rename onto it replaces.
function entry(p) {
  const abs = resolve(p);
  let dir = dirname(abs);
  const tail = [basename(abs)];
  while (!existsSync(dir) && dirname(dir) !== dir) { tail.unshift(basename(dir)); dir = dirname(dir); }
  try { dir = realpathSync(dir); } catch { /* unreadable: compare as given */ }
  return join(dir, ...tail);
}

// Refuses when an output file would replace an input: same directory entry, same real path or same inode.
export function checkOutputsSpareInputs(outDir, relNames, inputs, outWhat) {
  const ids = new Map();
  for (const p of inputs) {
    const names = [entry(p)];
    try { names.push(realpathSync(p)); } catch { /* missing inputs are reported elsewhere */ }
    let ino = null;
    try { const st = statSync(p); ino = `${st.dev}:${st.ino}`; } catch { /* as above */ }
    ids.set(p, { names, ino });
  }
  for (const rel of relNames) {
    const out = join(outDir, rel);
    const outNames = [entry(out)];
    let ino = null;
    try { outNames.push(realpathSync(out)); const st = statSync(out); ino = `${st.dev}:${st.ino}`; } catch { /* a new file */ }
    for (const [p, id] of ids) {
      if (outNames.some((n) => id.names.includes(n)) || (ino !== null && ino === id.ino)) {
        throw new UsageError(`${outWhat} would overwrite the input ${p} (with its ${rel}): choose another --out folder`);
      }
    }
  }
}
