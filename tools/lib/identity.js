// tools/lib/identity.js: how a records header (src/eval/records.ts, format 2) names a run's model and dataset — by
// their content, not their path, so shards run on machines that mount them at other paths merge, and two
// different models at one path do not. The model: sha256 over the files the loader reads (weights, config,
// tokenizer; each hashed whole, ~0.7 s for 600 MB here), the weights by content alone (a renamed file is the same
// model). The dataset: its kind and sha256 of its annotations as loaded (image ids and sizes, objects, boxes,
// mask names, prompts, groups) — not the pixels of its images.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { UsageError } from './cli.js';

const HEX_DIGITS = 16; // 64 bits of the sha256: no two models or datasets of one study collide by chance
const CHUNK = 4 * 2 ** 20;

// The names the loader (src/clip/load.ts, src/io/torch.ts) looks up beside the weights; weight files go by content.
const TOKENIZER = ['vocab.json', 'merges.txt', 'bpe_simple_vocab_16e6.txt.gz'];
const NAMED = new Set(['config.json', ...TOKENIZER]);
const WEIGHTS = /\.(safetensors|pt|pth|bin|ckpt)$/;

const short = (hex) => hex.slice(0, HEX_DIGITS);

// sha256 of a file's bytes, read in 4 MB chunks (never the whole file at once).
function fileSha256(path) {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let fd;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    for (let pos = 0; pos < size;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } catch (e) {
    throw new UsageError(`cannot read model file ${path} to identify the model: ${e.code ?? e.message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * The model at `path` (a folder, or a weights file) as 'sha256:' + 16 hex digits of its files' roles and
 * hashes: config.json, shard indexes and the tokenizer by name, weight files by content alone. Also how many
 * files and bytes were hashed.
 */
export function modelIdentity(path) {
  const isFile = statSync(path).isFile();
  const folder = isFile ? dirname(path) : path;
  const files = []; // [role, path]
  if (isFile && !path.endsWith('.index.json')) {
    files.push(['weights', path]); // the loader reads this file and the tokenizer beside it, nothing else
    for (const name of TOKENIZER) if (existsSync(join(folder, name))) files.push([name, join(folder, name)]);
  } else {
    for (const name of readdirSync(folder).sort()) {
      const f = join(folder, name);
      if (!statSync(f).isFile()) continue;
      if (NAMED.has(name) || name.endsWith('.index.json')) files.push([name, f]);
      else if (WEIGHTS.test(name)) files.push(['weights', f]);
    }
  }
  let bytes = 0;
  const lines = files.map(([role, f]) => {
    const size = statSync(f).size;
    bytes += size;
    return `${role} ${size} ${fileSha256(f)}`;
  }).sort();
  return { id: `sha256:${short(createHash('sha256').update(lines.join('\n')).digest('hex'))}`, files: files.length, bytes };
}

/**
 * The dataset (src/eval/datasets.ts) as its kind and 16 hex digits of the sha256 of its annotations, with every
 * path made relative (mask files to their image's folder): 'scenes:sha256:…'.
 */
export function datasetIdentity(dataset) {
  const kind = dataset.name.slice(0, dataset.name.indexOf(':'));
  const rel = (im, file) => relative(dirname(im.file), file).split(sep).join('/');
  const canonical = {
    kind, prompts: dataset.prompts, groups: dataset.groups ?? null,
    images: dataset.images.map((im) => ({
      id: im.id, width: im.width, height: im.height,
      objects: im.objects.map((o) => ({
        id: o.id, label: o.label, prompt: o.prompt, boxes: o.boxes, group: o.group ?? null, mask: o.maskFile ? rel(im, o.maskFile) : null,
      })),
    })),
  };
  return `${kind}:sha256:${short(createHash('sha256').update(JSON.stringify(canonical)).digest('hex'))}`;
}
