// test/eval_portable.test.js: shards as a job runner makes them (issue 18). Records name the model and dataset by
// content, so shards run with copies of the model and dataset at other paths merge into the one run's table bit
// for bit, while a model one byte different is refused by name; format-1 records (paths) still merge. A shard's
// records file is locked while a process writes it: a second process stops at once, a dead holder's lock on this
// host is taken over, SIGTERM and errors remove the lock, and merge refuses a locked shard but for --partial.
import test from 'tape';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenes } from '../dist/eval/datasets.js';
import { RECORDS_FORMAT, RECORDS_FORMAT_V1 } from '../dist/eval/records.js';
import { datasetIdentity, modelIdentity } from '../tools/lib/identity.js';
import { repoRoot } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'eval.js');
const modelDir = join(repoRoot, 'weights', 'tiny-clip');
const scenesDir = join(repoRoot, 'weights', 'scenes-heldout');

function run(args) {
  const r = spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
// the first 6 pairs (scenes 0-2: 2 in shard 0/2, 4 in 1/2), two cheap methods, 2 steps
const BASE = ['--limit', '6', '--methods', 'gradcam,eigencam', '--steps', '2', '--backend', 'wasm', '--bootstrap', '200', '--json'];
const lastLine = (s) => s.trim().split('\n').pop();
function withoutSeconds(x) {
  if (Array.isArray(x)) return x.map(withoutSeconds);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'secondsPerPair').map(([k, v]) => [k, withoutSeconds(v)]));
  return x;
}
const same = (a, b) => JSON.stringify(withoutSeconds(a)) === JSON.stringify(withoutSeconds(b));
const pidns = () => { try { return readlinkSync('/proc/self/ns/pid'); } catch { return null; } };
const lockOf = (holder) => `${JSON.stringify({ started: '2026-01-01T00:00:00.000Z', token: 'test', command: 'test', ...holder })}\n`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, ok, seconds = 120) {
  for (let k = 0; k < seconds * 20; k++) { if (ok()) return true; await sleep(50); }
  throw new Error(`waited ${seconds} s for ${what}`);
}

// A copy of the model's files at another path, optionally with byte `at` of model.safetensors changed.
function copyModel(dest, at) {
  mkdirSync(dest, { recursive: true });
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) cpSync(join(modelDir, f), join(dest, f));
  if (at !== undefined) {
    const b = readFileSync(join(dest, 'model.safetensors'));
    b[b.length + at] ^= 1; // the lowest mantissa bit of the last weight: a valid model, other numbers
    writeFileSync(join(dest, 'model.safetensors'), b);
  }
  return dest;
}

test('identity: a model and a dataset by content, not by path', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'decomcam-id-'));
  try {
    const id = modelIdentity(modelDir);
    t.ok(/^sha256:[0-9a-f]{16}$/.test(id.id) && id.files === 4, `the shipped model: ${id.id} (${id.files} files, ${id.bytes} bytes)`);
    const copy = copyModel(join(tmp, 'copy'));
    writeFileSync(join(copy, 'notes.txt'), 'not read by the loader');
    t.equal(modelIdentity(copy).id, id.id, 'a copy elsewhere (with a file the loader does not read) is the same model');
    t.notEqual(modelIdentity(copyModel(join(tmp, 'bad'), -1)).id, id.id, 'one byte of model.safetensors changed: another model');
    writeFileSync(join(copy, 'config.json'), readFileSync(join(copy, 'config.json'), 'utf8').replace('{', '{ '));
    t.notEqual(modelIdentity(copy).id, id.id, 'config.json changed (even by a space): another model');

    const ds = datasetIdentity(loadScenes(scenesDir));
    t.ok(/^scenes:sha256:[0-9a-f]{16}$/.test(ds), `the held-out scenes: ${ds}`);
    mkdirSync(join(tmp, 'scenes'));
    const ann = readFileSync(join(scenesDir, 'annotations.json'), 'utf8');
    writeFileSync(join(tmp, 'scenes', 'annotations.json'), ann);
    t.equal(datasetIdentity(loadScenes(join(tmp, 'scenes'))), ds, 'the annotations at another path: the same dataset');
    const j = JSON.parse(ann);
    j.scenes[7].objects[0].box_xyxy[2] += 1;
    writeFileSync(join(tmp, 'scenes', 'annotations.json'), JSON.stringify(j));
    t.notEqual(datasetIdentity(loadScenes(join(tmp, 'scenes'))), ds, 'one box one pixel wider: another dataset');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  t.end();
});

test('eval.js: shards with the model and dataset at other paths merge into the one run; another model is refused', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'decomcam-portable-'));
  try {
    const one = run([...BASE, '--out', join(tmp, 'one')]);
    t.equal(one.code, 0, `one run, the shipped model: exit 0 (${lastLine(one.err)})`);
    const single = JSON.parse(one.out);
    // shard 0 as on one machine, shard 1 as on another: a model copy and a link to the scenes, other paths
    symlinkSync(scenesDir, join(tmp, 'scenes-link'));
    const s0 = run([...BASE, '--shard', '0/2', '--model', copyModel(join(tmp, 'mnt-a', 'model')), '--out', join(tmp, 'shards')]);
    const s1 = run([...BASE, '--shard', '1/2', '--model', copyModel(join(tmp, 'data', 'clip')), '--scenes', join(tmp, 'scenes-link'), '--out', join(tmp, 'shards')]);
    t.ok(s0.code === 0 && s1.code === 0, `shards 0/2 and 1/2 at other paths: exit ${s0.code}, ${s1.code}`);
    const header = (f) => JSON.parse(readFileSync(f, 'utf8').split('\n')[0]);
    const h0 = header(join(tmp, 'shards', 'records-0-of-2.jsonl'));
    const h1 = header(join(tmp, 'shards', 'records-1-of-2.jsonl'));
    t.ok(h0.format === RECORDS_FORMAT && h0.settings.model === single.model && h0.settings.model === h1.settings.model &&
      h0.settings.dataset === h1.settings.dataset && h0.origin.model !== h1.origin.model && h0.origin.dataset !== h1.origin.dataset,
    `headers: the same ${h0.settings.model} and ${h0.settings.dataset}; origins ${h0.origin.model} and ${h1.origin.model}`);
    const images = readFileSync(join(tmp, 'shards', 'records-1-of-2.jsonl'), 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l))
      .filter((r) => r.image !== undefined).map((r) => r.image);
    t.ok(images.length > 500 && images.every((im) => /^scene_\d{4}\.png$/.test(im)), `every record's image is dataset-relative (${images[0]}, … ${images.length})`);
    const merged = run(['merge', join(tmp, 'shards'), '--bootstrap', '200', '--json']);
    t.equal(merged.code, 0, `merge: exit 0 (${lastLine(merged.err)})`);
    t.ok(merged.code === 0 && same(JSON.parse(merged.out), single), 'the merge of the two shards is the one run\'s JSON, bit for bit but for the measured seconds');

    // shard 1/2 with a model one byte different (a copy made here; weights/ is never touched)
    const bad = copyModel(join(tmp, 'bad-model'), -1);
    const b1 = run([...BASE, '--shard', '1/2', '--model', bad, '--out', join(tmp, 'bad')]);
    t.equal(b1.code, 0, `shard 1/2 with the other model: exit 0 (${lastLine(b1.err)})`);
    mkdirSync(join(tmp, 'good'));
    cpSync(join(tmp, 'shards', 'records-0-of-2.jsonl'), join(tmp, 'good', 'records-0-of-2.jsonl'));
    const m = run(['merge', join(tmp, 'good'), join(tmp, 'bad')]);
    const msg = lastLine(m.err);
    t.ok(m.code === 2 && msg.includes(join(tmp, 'bad', 'records-1-of-2.jsonl')) && msg.includes(join(tmp, 'good', 'records-0-of-2.jsonl')) &&
      /are records of different runs: the model is "sha256:[0-9a-f]{16}" \(.*bad-model on host .*\) in .*, "sha256:[0-9a-f]{16}" \(.*mnt-a\/model on host .*\) in .*; their model files \(weights, config or tokenizer\) differ/.test(msg),
    `merge refuses, naming both shards and the model: ${msg}`);
    const r = run([...BASE, '--shard', '0/2', '--model', bad, '--out', join(tmp, 'shards')]);
    t.ok(r.code === 2 && /records-0-of-2\.jsonl holds records of another run \(model is "sha256:.*" \(.*mnt-a\/model on host .*\) there, "sha256:.*" \(.*bad-model on host .*\) here\)/.test(lastLine(r.err)) &&
      !existsSync(join(tmp, 'shards', 'records-0-of-2.jsonl.lock')), `resume with the other model refuses (and leaves no lock): ${lastLine(r.err)}`);

    // format 1 (an older tools/eval.js: model and dataset by path, no origin): still merged; not mixed with format 2
    mkdirSync(join(tmp, 'v1'));
    for (const f of ['records-0-of-2.jsonl', 'records-1-of-2.jsonl']) {
      const [first, ...rest] = readFileSync(join(tmp, 'shards', f), 'utf8').split('\n');
      const h = JSON.parse(first);
      const v1 = { kind: 'header', format: RECORDS_FORMAT_V1, settings: { ...h.settings, model: modelDir, dataset: `scenes:${scenesDir}` },
        shard: h.shard, images: h.images, pairs: h.pairs };
      writeFileSync(join(tmp, 'v1', f), [JSON.stringify(v1), ...rest].join('\n'));
    }
    const m1 = run(['merge', join(tmp, 'v1'), '--bootstrap', '200', '--json']);
    const r1 = m1.code === 0 ? JSON.parse(m1.out) : {};
    t.ok(m1.code === 0 && r1.model === modelDir && same({ ...r1, model: single.model, dataset: single.dataset }, single),
      `format-1 records merge as before (the model by path, ${r1.model}), to the same table`);
    const v1Bytes = readFileSync(join(tmp, 'v1', 'records-0-of-2.jsonl'), 'utf8');
    const v1Resume = run([...BASE, '--shard', '0/2', '--out', join(tmp, 'v1')]);
    t.ok(v1Resume.code === 0 && /holds 1 finished images \(2 pairs\)/.test(v1Resume.err) && readFileSync(join(tmp, 'v1', 'records-0-of-2.jsonl'), 'utf8') === v1Bytes,
      'a format-1 file resumes with the model and scenes at its paths, and stays as it was');
    const v1Other = run([...BASE, '--shard', '0/2', '--model', copyModel(join(tmp, 'v1-model')), '--out', join(tmp, 'v1')]);
    t.ok(v1Other.code === 2 && /model is ".*tiny-clip" there, ".*v1-model" here\) \(a decomcam-eval-records\/1 file of an older tools\/eval\.js names them by path/.test(lastLine(v1Other.err)),
      `… but not with a model at another path: ${lastLine(v1Other.err)}`);
    rmSync(join(tmp, 'v1', 'records-1-of-2.jsonl'));
    const mixed = run(['merge', join(tmp, 'v1'), join(tmp, 'bad')]);
    t.ok(mixed.code === 2 && /the format is "?decomcam-eval-records\/2.* in .*bad.*records-1-of-2\.jsonl, decomcam-eval-records\/1 \(model and dataset named by path: an older tools\/eval\.js\) in .*; rerun the decomcam-eval-records\/1 shard/.test(lastLine(mixed.err)),
      `format 1 and 2 do not mix: ${lastLine(mixed.err)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  t.end();
});

test('eval.js: a shard\'s records are locked: a second process stops, SIGTERM releases, a dead holder\'s lock is taken over', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'decomcam-lock-'));
  const out = join(tmp, 'out');
  const file = (i) => join(out, `records-${i}-of-2.jsonl`);
  const lock = (i) => `${file(i)}.lock`;
  const start = (args) => {
    const child = spawn(process.execPath, [tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = { out: '', err: '', code: undefined, signal: undefined };
    child.stdout.on('data', (d) => { r.out += d; });
    child.stderr.on('data', (d) => { r.err += d; });
    r.done = new Promise((res) => child.on('close', (code, signal) => { r.code = code; r.signal = signal; res(); }));
    r.child = child;
    return r;
  };
  try {
    // a second process on a shard while the first runs (40 pairs, so it is still running), then SIGTERM to the first
    const LONG = BASE.map((a) => (a === '6' ? '40' : a));
    const race = join(tmp, 'race');
    const raceLock = join(race, 'records-0-of-2.jsonl.lock');
    const first = start([...LONG, '--shard', '0/2', '--out', race]);
    await until('the first process\'s lock', () => existsSync(raceLock) || first.code !== undefined);
    const holder = JSON.parse(readFileSync(raceLock, 'utf8'));
    const second = run([...LONG, '--shard', '0/2', '--out', race]);
    const msg = lastLine(second.err);
    t.ok(second.code === 2 && msg.includes(raceLock) && msg.includes(`pid ${holder.pid} on host ${hostname()}`) && /that process is running on this host.*kill \d+/.test(msg) &&
      !/backend:/.test(second.err), `the second stops at once, before loading the model: ${msg}`);
    t.equal(first.code, undefined, 'the first was still running then');
    // SIGTERM (as a Kubernetes pod gets) once its records file is open: the lock goes with it
    await until('its records file', () => existsSync(join(race, 'records-0-of-2.jsonl')) || first.code !== undefined);
    first.child.kill('SIGTERM');
    await first.done;
    t.ok(first.code === 143 && !existsSync(raceLock) && /SIGTERM: stopped, the lock released/.test(first.err),
      `SIGTERM: exit ${first.code}, the lock removed: ${lastLine(first.err)}`);

    const one = run([...BASE, '--out', join(tmp, 'one')]);
    const single = JSON.parse(one.out);
    const s0 = run([...BASE, '--shard', '0/2', '--out', out]);
    t.ok(one.code === 0 && s0.code === 0 && readdirSync(join(tmp, 'one')).length === 1 && !existsSync(lock(0)),
      'runs that end normally leave their records file and no lock');

    // shard 1/2 started on another host (its lock, no records yet): merge says so; this host cannot take it over
    writeFileSync(lock(1), lockOf({ pid: 4242, host: 'node-b', pidns: null }));
    const started = run(['merge', out]);
    t.ok(started.code === 2 && /shard 1\/2 \(started: .*records-1-of-2\.jsonl\.lock is there, no records yet\) missing/.test(lastLine(started.err)),
      `merge: ${lastLine(started.err)}`);
    const elsewhere = run([...BASE, '--shard', '1/2', '--out', out]);
    t.ok(elsewhere.code === 2 && new RegExp(`held by pid 4242 on host node-b .*this is host ${hostname()}.*delete ${lock(1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} and rerun`).test(lastLine(elsewhere.err)),
      `a lock from another host: ${lastLine(elsewhere.err)}`);

    // the holder dead on this host (a SIGKILL leaves its lock): taken over, saying so; the shard runs
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(lock(1), lockOf({ pid: dead, host: hostname(), pidns: pidns() }));
    const s1 = run([...BASE, '--shard', '1/2', '--out', out]);
    t.ok(s1.code === 0 && new RegExp(`lock: .*records-1-of-2\\.jsonl\\.lock was left by pid ${dead} on this host .* no longer running: taken over`).test(s1.err) &&
      !existsSync(lock(1)), `a dead holder's lock is taken over: ${s1.err.split('\n').find((l) => l.startsWith('lock:'))}`);

    // merge skips .lock files, but refuses a shard that has one (it may still be writing) unless --partial
    writeFileSync(lock(1), lockOf({ pid: 4242, host: 'node-b', pidns: null }));
    const locked = run(['merge', out]);
    t.ok(locked.code === 2 && /records-1-of-2\.jsonl \(shard 1\/2, (\d+) of \1 pairs\) is locked by pid 4242 on host node-b since .*: it is still running, or was killed; wait for it/.test(lastLine(locked.err)),
      `merge refuses the locked shard: ${lastLine(locked.err)}`);
    const peek = run(['merge', out, '--partial', '--json']);
    const peeked = peek.code === 0 ? JSON.parse(peek.out) : {};
    t.ok(/shard 1\/2 has (\d+) of \1 pairs and is locked by pid 4242 on host node-b/.test(peeked.partial) && /merge: warning: .*records-1-of-2\.jsonl is locked/.test(peek.err),
      `merge --partial takes it, warning: ${peeked.partial}`);
    rmSync(lock(1));
    writeFileSync(join(out, 'records-2-of-3.jsonl.lock'), lockOf({ pid: 4242, host: 'node-b', pidns: null }));
    const merged = run(['merge', out, '--bootstrap', '200', '--json']);
    t.ok(merged.code === 0 && same(JSON.parse(merged.out), single),
      `merge (a stray lock of another split beside): the one run's JSON but for the seconds (${lastLine(merged.err)})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  t.end();
});
