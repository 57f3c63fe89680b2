#!/usr/bin/env node
// tools/fuzz.js: our own fuzzers. Mutates the project's fixtures (safetensors files, PNGs, JPEGs, the tiny models'
// folders and tokenizer) or the command line, runs each case in a child process under a time and memory watchdog,
// and counts every outcome: success / clean error (a DecomcamError in our words) / unclear error / hang / blow-up.
//   node tools/fuzz.js png --cases 10000 --seed 1            # counts; exit 1 if any unclear, hang or blow-up
//   node tools/fuzz.js cli --cases 300 --verbose --save /tmp/fz # also each failing case, and its inputs
//   node tools/fuzz.js jpeg --seed 1 --case 4711             # one case in this process, with its full stack
// Deterministic: case i of seed S is the same input whatever ran before it, so --case reproduces it alone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain, parseArgs, helpText, UsageError } from './lib/cli.js';
import { Rng } from './lib/fuzz/rng.js';
import { LIBRARY_TARGETS, writeCaseFiles } from './lib/fuzz/targets.js';
import { runLibraryCases } from './lib/fuzz/pool.js';
import { runCliCases, prepareCli, generateCli } from './lib/fuzz/cli.js';
import { runCase, describeCase } from './lib/fuzz/case.js';

export const TARGETS = [...Object.keys(LIBRARY_TARGETS), 'cli'];
export const OUTCOMES = ['success', 'clean', 'unclear', 'hang', 'blow-up'];
const FAILING = new Set(['unclear', 'hang', 'blow-up']);

const SPEC = {
  cases: { type: 'int', min: 0, default: 1000, help: 'number of cases' },
  seed: { type: 'int', min: 0, default: 1, help: 'campaign seed' },
  start: { type: 'int', min: 0, default: 0, help: 'index of the first case' },
  case: { type: 'int', min: 0, help: 'run only this case, in this process, and print its input and outcome (no watchdog)' },
  jobs: { type: 'int', min: 1, default: availableParallelism(), help: 'parallel child processes (at most the cores)' },
  'time-limit': { type: 'float', min: 0.1, help: 'seconds a case may run before it counts as a hang (default 10; cli 60)' },
  'memory-limit': { type: 'int', min: 64, default: 1024, help: 'MB of resident memory above which a case is a blow-up' },
  verbose: { type: 'bool', help: 'print every unclear error, hang and blow-up' },
  save: { type: 'string', help: 'folder to write each failing case into (its input files and case.json)' },
  help: { type: 'bool', help: 'show this help' },
};

// One campaign → { counts, failures, results }.
export async function fuzz(target, { cases, seed, start = 0, jobs = availableParallelism(), timeLimit, memoryLimit = 1024, onResult } = {}) {
  if (!TARGETS.includes(target)) throw new UsageError(`unknown fuzz target "${target}": use one of ${TARGETS.join(', ')}`);
  const scratch = mkdtempSync(join(tmpdir(), `decomcam-fuzz-${target}-`));
  const opts = {
    target, seed, start, count: cases, jobs: Math.min(jobs, availableParallelism()), memMb: memoryLimit, scratch,
    onResult: (r) => {
      if (r.desc === undefined && target !== 'cli') r.desc = describeCase(target, seed, r.index); // killed before it said
      onResult?.(r);
    },
    timeMs: (timeLimit ?? (target === 'cli' ? 60 : 10)) * 1000,
  };
  try {
    const results = target === 'cli' ? await runCliCases(opts) : await runLibraryCases(opts);
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
    for (const r of results) counts[r.outcome]++;
    return { counts, failures: results.filter((r) => FAILING.has(r.outcome)), results };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function formatCounts(target, seed, counts, seconds) {
  return `${target} seed ${seed}: ${OUTCOMES.map((o) => `${o} ${counts[o]}`).join(', ')}${seconds !== undefined ? ` (${seconds.toFixed(1)} s)` : ''}`;
}

// The inputs of a case, regenerated from its seed and index, written into dir for a bug report.
function saveCase(dir, target, seed, r) {
  const caseDir = join(dir, `${target}-${seed}-${r.index}`);
  mkdirSync(caseDir, { recursive: true });
  let files = {};
  let extra = {};
  if (target === 'cli') {
    const scratch = mkdtempSync(join(tmpdir(), 'decomcam-fuzz-save-'));
    const c = generateCli(new Rng(seed, r.index), prepareCli(scratch));
    extra = { args: c.args };
    if (c.imageBytes) files['mutated.png'] = c.imageBytes;
    rmSync(scratch, { recursive: true, force: true });
  } else {
    const t = LIBRARY_TARGETS[target];
    const c = t.generate(new Rng(seed, r.index), t.prepare());
    files = c.files;
    extra = c.params ? { params: { ...c.params, text: c.params.text?.length > 200 ? `${c.params.text.slice(0, 200)}…` : c.params.text } } : {};
  }
  writeCaseFiles(join(caseDir, 'input'), files);
  writeFileSync(join(caseDir, 'case.json'), `${JSON.stringify({
    target, seed, index: r.index, outcome: r.outcome, detail: r.detail, desc: r.desc, ...extra,
    reproduce: `node tools/fuzz.js ${target} --seed ${seed} --case ${r.index}`,
  }, null, 2)}\n`);
}

async function main(argv) {
  const [target, ...rest] = argv[0] && !argv[0].startsWith('--') ? argv : [undefined, ...argv];
  const opts = parseArgs(rest, SPEC);
  if (opts.help || !target) {
    console.log(helpText(`usage: node tools/fuzz.js TARGET [options]   (TARGET: ${TARGETS.join(', ')})`, SPEC));
    if (!opts.help) throw new UsageError('a fuzz target is required');
    return;
  }
  if (!TARGETS.includes(target)) throw new UsageError(`unknown fuzz target "${target}": use one of ${TARGETS.join(', ')}`);
  if (opts.case !== undefined) {
    if (target === 'cli') {
      const scratch = mkdtempSync(join(tmpdir(), 'decomcam-fuzz-cli-'));
      const c = generateCli(new Rng(opts.seed, opts.case), prepareCli(scratch));
      console.log(`case ${opts.case}: node tools/explain.js ${c.desc}`);
      rmSync(scratch, { recursive: true, force: true });
      const { results } = await fuzz('cli', { cases: 1, seed: opts.seed, start: opts.case, jobs: 1 });
      console.log(`${results[0].outcome}: ${results[0].detail}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'decomcam-fuzz-one-'));
    const [outcome, detail, c, error] = runCase(target, opts.seed, opts.case, join(dir, 'case'));
    rmSync(dir, { recursive: true, force: true });
    console.log(`case ${opts.case}: ${c.desc}\n${outcome}: ${detail}`);
    if (outcome === 'unclear' && error?.stack) console.log(error.stack);
    return;
  }
  const t0 = performance.now();
  let done = 0;
  const tty = process.stderr.isTTY;
  const { counts, failures } = await fuzz(target, {
    cases: opts.cases, seed: opts.seed, start: opts.start, jobs: opts.jobs, timeLimit: opts['time-limit'], memoryLimit: opts['memory-limit'],
    onResult: (r) => {
      done++;
      if (opts.verbose && FAILING.has(r.outcome)) process.stderr.write(`${tty ? '\r' : ''}case ${r.index} ${r.outcome}: ${r.detail}\n    input: ${r.desc ?? '(see --save or --case)'}\n`);
      if (done % 100 === 0 || done === opts.cases) {
        if (tty) process.stderr.write(`\r${target}: ${done}/${opts.cases}`);
        else if (done % 1000 === 0) process.stderr.write(`${target}: ${done}/${opts.cases}\n`);
      }
    },
  });
  if (tty) process.stderr.write('\n');
  if (opts.save) for (const r of failures) saveCase(opts.save, target, opts.seed, r);
  console.log(formatCounts(target, opts.seed, counts, (performance.now() - t0) / 1000));
  if (failures.length > 0) {
    if (!opts.verbose) console.log(`failing cases: ${failures.slice(0, 20).map((r) => `${r.index} (${r.outcome})`).join(', ')}${failures.length > 20 ? ', …' : ''}; --verbose or --save DIR shows them`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) runMain('fuzz', main);
