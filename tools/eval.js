#!/usr/bin/env node
// tools/eval.js: every CAM method over an annotated dataset, one row a method, one column a metric, each cell with
// its 95% bootstrap interval over images and each baseline's paired test against DecomCAM.
//   node tools/eval.js                          # the held-out generated scenes and the shipped model
//   node tools/eval.js --voc DIR --model ~/clip-vit-b16 --limit 20
//   node tools/eval.js --shard 2/8 --out results/     # one of 8 shards, records in results/ (resumable)
//   node tools/eval.js merge results/ [more dirs…]    # the table of all shards, as one run prints it
// Metrics (src/eval/): pointing game (hit within --tolerance px of the object at the original resolution), strict
// pointing game (the maximum inside the object's mask, or box), energy-based pointing game, box IoU, deletion and
// insertion AUC (--steps steps, mean-colour substrate, score = the prompt's softmax probability among the dataset's
// prompts), average drop / increase in confidence (same probability). Statistics: src/eval/summary.ts.
// Records: --out DIR keeps one JSON Lines file per shard (src/eval/records.ts); each image's records are one
// write followed by fsync, so a killed run loses at most the image it was on, and rerunning the same command
// resumes after the last complete image (a torn last line is cut and redone). The header names the model and
// dataset by content (tools/lib/identity.js), so shards from machines with other mount paths merge; a shard's
// file is locked while a process writes it (tools/lib/lock.js), so a second process on it stops at once.
// Progress on stderr; the table on stdout (or its JSON with --json).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { runMain, parseArgs, helpText, packageVersion, UsageError, repoRoot } from './lib/cli.js';
import { chooseBackend, backendNames } from './lib/backend.js';
import { datasetIdentity, modelIdentity } from './lib/identity.js';
import { acquireLock, describeHolder, lockPath, readLock } from './lib/lock.js';
import {
  evaluateRecords, camMethods, presets, loadClip, loadScenes, loadVoc, loadCoco, DEFAULT_LAYER, parseShard, planPairs, WHOLE,
  RECORDS_FORMAT, blockText, headerText, parseRecords, summarize, METRICS, BOOTSTRAP_DEFAULTS, REFERENCE_METHOD,
  RECORDS_FORMAT_V1, runDifference, DecomcamError,
} from 'decomcam';

const DEFAULT_MODEL = join(repoRoot, 'weights', 'tiny-clip');
const DEFAULT_SCENES = join(repoRoot, 'weights', 'scenes-heldout');
const ALL = Object.keys(camMethods);

const STATS_SPEC = {
  bootstrap: { type: 'int', min: 1, default: BOOTSTRAP_DEFAULTS.replicates, help: 'bootstrap replicates (images drawn with replacement)' },
  seed: { type: 'int', min: 0, default: BOOTSTRAP_DEFAULTS.seed, help: 'the bootstrap\'s seed' },
  json: { type: 'bool', help: 'print the JSON result instead of the table' },
  markdown: { type: 'bool', help: 'print the tables as Markdown (the README\'s quality section is made with it)' },
  help: { type: 'bool', help: 'show this help' },
  version: { type: 'bool', help: 'show the version' },
};

const SPEC = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'CLIP model folder' },
  scenes: { type: 'string', help: `generated scenes folder (default dataset: ${DEFAULT_SCENES})` },
  voc: { type: 'string', help: 'a folder of Pascal VOC XML annotations beside their JPEGs' },
  coco: { type: 'string', help: 'a COCO-style annotations JSON, images beside it' },
  methods: { type: 'string', default: ALL.join(','), help: 'comma-separated CAM methods' },
  preset: { type: 'string', default: 'paper', choices: Object.keys(presets), help: 'DecomCAM preset' },
  layer: { type: 'string', help: 'target layer (default vision.blocks.-1.ln_1)' },
  limit: { type: 'int', min: 1, help: 'evaluate only the first N image–text pairs (before sharding)' },
  shard: { type: 'string', help: 'i/n: only shard i of n (0-based; images by hash of their id)' },
  out: { type: 'string', help: 'folder for the per-pair records (JSON Lines, one file a shard); rerun to resume' },
  steps: { type: 'int', min: 1, default: 20, help: 'deletion/insertion steps' },
  tolerance: { type: 'float', min: 0, default: 15, help: 'pointing-game tolerance in original pixels' },
  dtype: { type: 'string', default: 'float32', choices: ['float32', 'float64'], help: 'arithmetic precision' },
  backend: { type: 'string', default: 'auto', choices: backendNames(), help: 'compute backend: auto, ts, wasm or gpu' },
  ...STATS_SPEC,
};

const log = (msg) => process.stderr.write(`${msg}\n`);
const recordsName = (shard) => `records-${shard.index}-of-${shard.count}.jsonl`;
const RECORDS_FILE = /^records-(\d+)-of-(\d+)\.jsonl$/; // (their .lock files do not match)
const LOCK_FILE = /^records-(\d+)-of-(\d+)\.jsonl\.lock$/;

// The JSON of a result: the settings, then the summary (the same for a run and for the merge of its shards).
function resultOf(settings, records, opts) {
  const res = summarize(records, {
    dataset: settings.dataset, preset: settings.preset, layer: settings.layer, methods: settings.methods,
    groups: settings.groups, steps: settings.steps, tolerance: settings.tolerance,
  }, { replicates: opts.bootstrap, seed: opts.seed });
  return { decomcam: settings.decomcam, model: settings.model, limit: settings.limit, ...res };
}

// Appends one block with one write (looping only if the kernel takes part of it) and makes it durable.
function appendDurably(fd, text) {
  const bytes = Buffer.from(text, 'utf8');
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
  fsyncSync(fd);
}

async function run(argv) {
  const opts = parseArgs(argv, SPEC);
  if (opts.help) {
    console.log(`${helpText('usage: node tools/eval.js [--scenes DIR | --voc DIR | --coco FILE] [--shard i/n] [--out DIR] [options]', SPEC)}\n` +
      `       node tools/eval.js merge DIR… [--json] [--bootstrap N] [--seed S]   (the table of the records in DIR…)`);
    return;
  }
  if (opts.version) { console.log(`decomcam ${packageVersion()}`); return; }
  const sources = ['scenes', 'voc', 'coco'].filter((k) => opts[k]);
  if (sources.length > 1) throw new UsageError(`give one dataset, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  const methods = opts.methods.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of methods) if (!camMethods[m]) throw new UsageError(`method "${m}" is unknown: expected some of ${ALL.join(', ')}`);
  if (new Set(methods).size !== methods.length) throw new UsageError(`--methods names a method twice: ${methods.join(',')}`);
  if (!existsSync(opts.model)) throw new UsageError(`model folder ${opts.model} does not exist`);
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : WHOLE;

  const dataset = opts.voc ? loadVoc(opts.voc) : opts.coco ? loadCoco(opts.coco) : loadScenes(opts.scenes ?? DEFAULT_SCENES);
  // the model and dataset by content: another machine's shard merges with this one wherever its files are mounted
  const t0 = Date.now();
  const modelId = modelIdentity(opts.model);
  log(`model ${opts.model}: ${modelId.id} (${modelId.files} files, ${(modelId.bytes / 2 ** 20).toFixed(1)} MB hashed in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const settings = {
    decomcam: packageVersion(), model: modelId.id, dataset: datasetIdentity(dataset), groups: dataset.groups ?? null,
    dtype: opts.dtype, preset: opts.preset, layer: opts.layer ?? DEFAULT_LAYER, methods, limit: opts.limit ?? null,
    steps: opts.steps, tolerance: opts.tolerance,
  };
  const plan = planPairs(dataset, opts.limit, shard);
  let header = { kind: 'header', format: RECORDS_FORMAT, settings, shard, images: plan.images.length, pairs: plan.pairs.length,
    origin: { host: hostname(), model: resolve(opts.model), dataset: dataset.name } };

  // the records file, locked while this process writes it: resume from it, or start it
  let lock = null;
  try {
    let earlier = [];
    let done;
    let file = null;
    let parsed = null;
    if (opts.out) {
      const dir = resolve(opts.out);
      if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${opts.out} is a file; it names a folder for the records`);
      mkdirSync(dir, { recursive: true });
      file = join(dir, recordsName(shard));
      lock = acquireLock(file, { what: `shard ${shard.index}/${shard.count} (${file})`, log });
      if (existsSync(file)) {
        parsed = parseRecords(readFileSync(file), file);
        // a format-1 file (an older tools/eval.js) goes on as it began: model and dataset by path
        if (parsed.header.format === RECORDS_FORMAT_V1) {
          header = { ...header, format: RECORDS_FORMAT_V1, settings: { ...settings, model: resolve(opts.model), dataset: dataset.name } };
          delete header.origin;
        }
        const d = runDifference(parsed.header, header);
        const differ = d ? `${d.key} is ${d.a} there, ${d.b} here`
          : parsed.header.pairs !== header.pairs || parsed.header.images !== header.images ? 'the dataset has other pairs' : '';
        const old = parsed.header.format === RECORDS_FORMAT_V1 && (d?.key === 'model' || d?.key === 'dataset')
          ? ` (a ${RECORDS_FORMAT_V1} file of an older tools/eval.js names them by path: give that path to resume it)` : '';
        if (differ) throw new UsageError(`${file} holds records of another run (${differ})${old}; give another --out, or delete the file to start over`);
      }
    }

    const backend = await chooseBackend(opts.backend, log);
    const model = loadClip(opts.model, { dtype: opts.dtype, backend });
    let fd = null;
    if (parsed) {
      const size = statSync(file).size;
      if (parsed.keepBytes < size) {
        truncateSync(file, parsed.keepBytes);
        log(`resume: ${file}: cut ${size - parsed.keepBytes} bytes at its end (${parsed.tornTail ? 'a torn last line' : 'no torn line'}` +
          `${parsed.droppedLines ? `, ${parsed.droppedLines} lines of an unfinished image` : ''}); they are redone`);
      }
      earlier = parsed.records;
      done = { zeroShot: parsed.zeroShotDone, images: parsed.imagesDone };
      log(`resume: ${file} holds ${parsed.imagesDone.size} finished images (${earlier.filter((r) => r.kind === 'pair').length / methods.length} pairs)`);
      fd = openSync(file, 'a');
    } else if (file) {
      fd = openSync(file, 'wx');
      appendDurably(fd, headerText(header));
      const dfd = openSync(resolve(opts.out), 'r'); // the new file's name is durable too
      fsyncSync(dfd);
      closeSync(dfd);
    }

    log(`${dataset.name}: ${dataset.images.length} images, ${dataset.prompts.length} prompts; shard ${shard.index}/${shard.count}: ` +
      `${plan.pairs.length} pairs of ${plan.images.length} images; model ${opts.model}; methods ${methods.join(', ')}`);
    const t1 = Date.now();
    let fresh;
    try {
      fresh = await evaluateRecords(model, dataset, {
        methods, preset: opts.preset, layer: opts.layer, limit: opts.limit, shard, done, steps: opts.steps, tolerance: opts.tolerance,
        onPair: (k, n, im, o) => log(`[${k}/${n}] ${im.id} "${o.prompt}" (${((Date.now() - t1) / 1000).toFixed(0)} s)`),
        onBlock: (block, records, im) => {
          if (fd === null) return;
          appendDurably(fd, blockText(block, records, im?.id));
          lock.touch();
        },
      });
    } finally {
      if (fd !== null) closeSync(fd);
    }
    const result = resultOf(header.settings, [...earlier, ...fresh], opts);
    if (shard.count > 1) result.shard = `${shard.index}/${shard.count}`;
    print(result, opts);
  } finally {
    lock?.release();
  }
}

// What to do when two shards' runs differ in `key`, for merge's message.
const MERGE_HINT = {
  format: `rerun the ${RECORDS_FORMAT_V1} shard with this tools/eval.js (delete its file first) to merge them, or merge the ` +
    'old files with the tools/eval.js that wrote them',
  model: 'their model files (weights, config or tokenizer) differ, so their numbers do not combine; rerun one with the other\'s model',
  dataset: 'their annotations (images, objects, boxes, prompts) differ; rerun one on the other\'s dataset',
};

// `merge DIR…`: every records file in the folders, checked to be the complete shards 0 … n-1 of one run (a
// shard whose lock is still there is running, or was killed: taken only with --partial).
function merge(argv) {
  const dirs = [];
  while (argv.length && !argv[0].startsWith('--')) dirs.push(argv.shift());
  const spec = { ...STATS_SPEC, partial: { type: 'bool', help: 'also take unfinished, missing or locked (running) shards (their finished images), saying so: to look at a running job' } };
  const opts = parseArgs(argv, spec);
  if (opts.help) { console.log(helpText('usage: node tools/eval.js merge DIR… [options]', spec)); return; }
  if (dirs.length === 0) throw new UsageError('merge needs the folders that hold the records (the --out of each shard)');
  const files = [];
  const lockOnly = new Map(); // shard "i/n" → a lock file whose records file is not there (started, nothing written)
  for (const d of dirs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`merge: ${d} is not a folder of records`);
    const names = readdirSync(d).sort();
    for (const f of names) if (RECORDS_FILE.test(f)) files.push(join(d, f));
    for (const f of names) {
      const m = LOCK_FILE.exec(f);
      if (m && !names.includes(f.slice(0, -'.lock'.length))) lockOnly.set(`${m[1]}/${m[2]}`, join(d, f));
    }
  }
  if (files.length === 0) {
    throw new UsageError(`merge: no records-<i>-of-<n>.jsonl files in ${dirs.join(', ')}` +
      `${lockOnly.size ? ` (only the locks of shards ${[...lockOnly.keys()].join(', ')}: started, nothing recorded yet)` : ''}`);
  }
  const parsed = files.map((f) => [f, parseRecords(readFileSync(f), f)]);
  const [first, p0] = parsed[0];
  const n = p0.header.shard.count;
  const byIndex = new Map();
  const partial = [];
  for (const [f, p] of parsed) {
    const d = runDifference(p0.header, p.header);
    if (d) {
      throw new DecomcamError(`merge: ${f} and ${first} are records of different runs: the ${d.key} is ${d.b} in ${f}, ` +
        `${d.a} in ${first}${MERGE_HINT[d.key] ? `; ${MERGE_HINT[d.key]}` : ''}`, 'usage');
    }
    if (p.header.shard.count !== n) throw new UsageError(`merge: ${f} is shard ${p.header.shard.index}/${p.header.shard.count}, ${first} one of ${n}`);
    if (byIndex.has(p.header.shard.index)) {
      throw new UsageError(`merge: shard ${p.header.shard.index}/${n} is both ${byIndex.get(p.header.shard.index)} and ${f}; give each shard once`);
    }
    byIndex.set(p.header.shard.index, f);
    const pairs = p.records.filter((r) => r.kind === 'pair').length / p.header.settings.methods.length;
    const unfinished = !p.zeroShotDone || pairs !== p.header.pairs || p.keepBytes < statSync(f).size;
    const holder = readLock(lockPath(f));
    if (holder) {
      const locked = `is locked by ${describeHolder(lockPath(f), holder)}: it is still running, or was killed`;
      if (!opts.partial) {
        throw new UsageError(`merge: ${f} (shard ${p.header.shard.index}/${n}, ${pairs} of ${p.header.pairs} pairs) ${locked}; wait ` +
          'for it, or rerun its command to finish it (on the same host it takes over the lock of a dead process; from another ' +
          `host delete ${lockPath(f)} first), or look at it with --partial`);
      }
      partial.push(`shard ${p.header.shard.index}/${n} has ${pairs} of ${p.header.pairs} pairs and ${locked}`);
      log(`merge: warning: ${f} ${locked}; its finished images are taken (--partial)`);
    } else if (unfinished && opts.partial) {
      partial.push(`shard ${p.header.shard.index}/${n} has ${pairs} of ${p.header.pairs} pairs${p.zeroShotDone ? '' : ' and no zero-shot block'}`);
    } else if (unfinished) {
      throw new UsageError(`merge: ${f} (shard ${p.header.shard.index}/${n}) is unfinished: ${pairs} of ${p.header.pairs} pairs` +
        `${p.zeroShotDone ? '' : ', no zero-shot block'}; rerun its command to finish it`);
    }
  }
  const missing = [...Array(n).keys()].filter((i) => !byIndex.has(i));
  const started = (i) => (lockOnly.has(`${i}/${n}`) ? ` (started: ${lockOnly.get(`${i}/${n}`)} is there, no records yet)` : '');
  if (missing.length && !opts.partial) {
    throw new UsageError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}${started(i)}`).join(', ')} missing from ${dirs.join(', ')}`);
  }
  for (const i of missing) partial.push(`shard ${i}/${n} is missing${started(i)}`);
  const origins = [...new Set(parsed.map(([, p]) => (p.header.origin ? `${p.header.origin.model} on ${p.header.origin.host}` : null)).filter(Boolean))];
  log(`merge: ${files.length} shard${files.length > 1 ? 's' : ''} of ${p0.header.settings.dataset}, model ${p0.header.settings.model}` +
    `${origins.length ? ` (${origins.join('; ')})` : ''}`);
  const result = resultOf(p0.header.settings, parsed.flatMap(([, p]) => p.records), opts);
  if (partial.length) {
    result.partial = `NOT the whole run: ${partial.join('; ')}`;
    log(`merge --partial: ${result.partial}`);
  }
  print(result, opts);
}

const SHORT = { pointingGame: 'pointing', strictPointing: 'strict', energyPG: 'energyPG', boxIoU: 'boxIoU', deletionAUC: 'deletion↓',
  insertionAUC: 'insertion↑', averageDrop: 'drop%↓', increase: 'incr%↑' };
const digits = (key) => (key === 'averageDrop' || key === 'increase' ? 1 : 3);
// A row's mean and interval ("0.818 [0.795,0.841]"; sep between the bounds), a baseline's difference ("+0.072").
const meanCell = (r, key, sep) => `${r[key].toFixed(digits(key))} [${r.ci[key][0].toFixed(digits(key))}${sep}${r.ci[key][1].toFixed(digits(key))}]`;
const signed = (c, key) => `${c.difference >= 0 ? '+' : ''}${c.difference.toFixed(digits(key))}`;

// The table: means with their intervals; then each baseline's difference to DecomCAM and its test; then the groups.
function printTable(table, label) {
  const w = 21;
  console.log(['method'.padEnd(13), ...METRICS.map(({ key }) => SHORT[key].padEnd(w)), 's/pair'].join(' '));
  for (const r of table) {
    const cells = METRICS.map(({ key }) => meanCell(r, key, ',').padEnd(w));
    console.log([r.method.padEnd(13), ...cells, r.secondsPerPair.toFixed(2)].join(' '));
  }
  if (!table.some((r) => r.vsDecomcam)) return;
  console.log(`${label}: baseline − ${REFERENCE_METHOD} and the signed-rank p (Holm); * significant at 0.05, the better method named`);
  console.log(['method'.padEnd(13), ...METRICS.map(({ key }) => SHORT[key].padEnd(w))].join(' '));
  for (const r of table) {
    if (!r.vsDecomcam) continue;
    const cells = METRICS.map(({ key }) => {
      const c = r.vsDecomcam[key];
      const p = c.pHolm < 1e-3 ? c.pHolm.toExponential(0) : c.pHolm.toFixed(3);
      return `${signed(c, key)} p=${p}${c.significant ? '*' : ''}`.padEnd(w);
    });
    console.log([r.method.padEnd(13), ...cells].join(' '));
  }
}

// The same result as Markdown tables: the table with intervals, each baseline against DecomCAM (the better method
// in bold where the Holm-adjusted p < 0.05), then each group's pointing games and their differences.
function printMarkdown(res) {
  const zs = res.zeroShot;
  const p = (x) => (x < 1e-3 ? x.toExponential(0).replace(/e([+-])(\d)$/, 'e$10$2') : x.toFixed(3));
  const cell = (r, key) => meanCell(r, key, ', ');
  const vs = (c, key) => `${signed(c, key)} p=${p(c.pHolm)}${c.significant ? ` **${c.better}**` : ''}`;
  const row = (cells) => `| ${cells.join(' | ')} |`;
  if (res.partial) console.log(`PARTIAL RESULT, ${res.partial}\n`);
  console.log(`zero-shot accuracy ${(100 * zs.accuracy).toFixed(1)}% of ${zs.images} images` +
    `${zs.singleObjectAccuracy !== null ? ` (single-object ${(100 * zs.singleObjectAccuracy).toFixed(1)}% of ${zs.singleObjectImages})` : ''}; ` +
    `${res.pairs} pairs of ${res.images} images; 95% bootstrap intervals over images (${res.statistics.bootstrap.replicates} replicates, seed ${res.statistics.bootstrap.seed})\n`);
  console.log(row(['method', ...METRICS.map(({ key }) => SHORT[key]), 's/pair']));
  console.log(row(Array(METRICS.length + 2).fill('---')));
  for (const r of res.table) console.log(row([r.method, ...METRICS.map(({ key }) => cell(r, key)), r.secondsPerPair.toFixed(2)]));
  if (res.table.some((r) => r.vsDecomcam)) {
    console.log(`\nEach baseline minus DecomCAM, Holm-adjusted signed-rank p over images; **bold**: significant at 0.05, the better method named:\n`);
    console.log(row([`vs ${REFERENCE_METHOD}`, ...METRICS.map(({ key }) => SHORT[key])]));
    console.log(row(Array(METRICS.length + 1).fill('---')));
    for (const r of res.table) if (r.vsDecomcam) console.log(row([r.method, ...METRICS.map(({ key }) => vs(r.vsDecomcam[key], key))]));
  }
  const pointing = ['pointingGame', 'strictPointing'];
  for (const g of res.groups) {
    if (g.pairs === 0) continue;
    console.log(`\n*${g.group}* (${g.pairs} pairs of ${g.images} images):\n`);
    console.log(row(['method', ...pointing.map((k) => SHORT[k]), ...pointing.map((k) => `Δ${SHORT[k]} vs ${REFERENCE_METHOD}`)]));
    console.log(row(Array(5).fill('---')));
    for (const r of g.table) {
      console.log(row([r.method, ...pointing.map((k) => cell(r, k)), ...pointing.map((k) => (r.vsDecomcam ? vs(r.vsDecomcam[k], k) : ''))]));
    }
  }
}

function print(res, opts) {
  if (opts.json) { process.stdout.write(`${JSON.stringify(res, null, 2)}\n`); return; }
  if (opts.markdown) { printMarkdown(res); return; }
  if (res.partial) console.log(`PARTIAL RESULT, ${res.partial}`);
  const zs = res.zeroShot;
  console.log(`zero-shot accuracy${res.dataset.startsWith('scenes:') ? ' (held-out scenes)' : ''}: ${(100 * zs.accuracy).toFixed(1)}% of ${zs.images} images` +
    (zs.singleObjectAccuracy !== null ? `; single-object images ${(100 * zs.singleObjectAccuracy).toFixed(1)}% of ${zs.singleObjectImages}` : ''));
  console.log(`${res.pairs} image–text pairs of ${res.images} images${res.shard ? ` (shard ${res.shard})` : ''}; pointing tolerance ${res.tolerance} px; ` +
    `deletion/insertion ${res.steps} steps; [95% bootstrap interval over images, ${res.statistics.bootstrap.replicates} replicates, seed ${res.statistics.bootstrap.seed}]`);
  printTable(res.table, 'against DecomCAM');
  for (const g of res.groups) {
    if (g.pairs === 0) continue;
    console.log(`\ngroup "${g.group}": ${g.pairs} pairs of ${g.images} images`);
    printTable(g.table, `"${g.group}" against DecomCAM`);
  }
}

runMain('eval', (argv) => (argv[0] === 'merge' ? merge(argv.slice(1)) : run(argv)));
