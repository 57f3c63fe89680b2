// test/eval_shard.test.js: evaluation at dataset scale (issue 18). Shards: stable under reordering of the dataset,
// disjoint, together the whole; records: torn and unfinished ends found, corrupt files refused; groups of the
// held-out scenes; and tools/eval.js end to end: one run equals the merge of three shards (every number but the
// measured seconds, bit for bit), merging a run's own records reprints it bit for bit, a killed shard resumes
// without losing or doubling a pair, and merge refuses missing, doubled, unfinished or foreign shards.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecomcamError } from '../dist/errors.js';
import { parseShard, shardOf, planPairs } from '../dist/eval/shard.js';
import { blockText, headerText, parseRecords, RECORDS_FORMAT } from '../dist/eval/records.js';
import { summarize } from '../dist/eval/summary.js';
import { loadScenes, SCENE_GROUPS } from '../dist/eval/datasets.js';
import { repoRoot } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'eval.js');
const scenesDir = join(repoRoot, 'weights', 'scenes-heldout');

function throwsDecomcam(t, fn, re, msg) {
  try { fn(); t.fail(`${msg}: did not throw`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e.message}`);
  }
}

test('shards: i/n parsing, stable under reordering, disjoint, together the whole', (t) => {
  t.deepEqual(parseShard('2/8'), { index: 2, count: 8 }, '"2/8"');
  for (const bad of ['8/8', '1/0', '-1/4', '1/4/2', 'a/b', '']) throwsDecomcam(t, () => parseShard(bad), /is not i\/n/, `"${bad}" refused`);
  // fnv1a32("scene_0000.png") mod 3 and mod 2, worked out with reference/seeded.py's fnv1a32: 2 and 1
  t.deepEqual([shardOf('scene_0000.png', 3), shardOf('scene_0000.png', 2)], [2, 1], 'scene_0000.png: shard 2 of 3, 1 of 2');
  const ds = loadScenes(scenesDir);
  const reversed = { ...ds, images: [...ds.images].reverse().map((im) => ({ ...im, objects: [...im.objects].reverse() })) };
  const key = (p) => `${p.im.id}#${p.o.id}`;
  const all = new Set(planPairs(ds, undefined).pairs.map(key));
  const seen = new Set();
  let ok = true;
  for (let i = 0; i < 4; i++) {
    const a = planPairs(ds, undefined, { index: i, count: 4 }).pairs.map(key).sort();
    const b = planPairs(reversed, undefined, { index: i, count: 4 }).pairs.map(key).sort();
    ok &&= JSON.stringify(a) === JSON.stringify(b);
    for (const k of a) { if (seen.has(k)) ok = false; seen.add(k); }
  }
  t.ok(ok, 'each of 4 shards holds the same pairs when the images and their objects are listed in reverse');
  t.equal(seen.size, all.size, `the 4 shards are disjoint and hold all ${all.size} pairs`);
  const sizes = [0, 1, 2, 3].map((i) => planPairs(ds, undefined, { index: i, count: 4 }).images.length);
  t.ok(sizes.every((s) => s > 200 && s < 300), `images per shard ${sizes.join(', ')} (1000 by hash)`);
  const lim = planPairs(ds, 16, { index: 1, count: 3 });
  t.deepEqual(lim.pairs.map(key), ['scene_0002.png#obj0', 'scene_0002.png#obj1', 'scene_0003.png#obj0', 'scene_0003.png#obj1', 'scene_0003.png#obj2'],
    '--limit 16 then shard 1/3: the first 16 pairs, of the shard\'s images');
  throwsDecomcam(t, () => planPairs({ ...ds, images: [ds.images[0], ds.images[0]] }, undefined), /two images have the id "scene_0000.png"/, 'duplicate image ids');
  t.end();
});

test('groups of the held-out scenes: single object, same colour, different colours', (t) => {
  const ds = loadScenes(scenesDir);
  t.deepEqual(ds.groups, SCENE_GROUPS, 'the dataset names its groups');
  // scene 0: red, yellow, green → different colours; scene 5: red, red, yellow; scene 6: one yellow object
  t.deepEqual(ds.images[0].objects.map((o) => o.group), ['different colours', 'different colours', 'different colours'], 'scene 0');
  t.deepEqual(ds.images[5].objects.map((o) => o.group), ['same colour', 'same colour', 'different colours'], 'scene 5: the two reds share a colour');
  t.deepEqual(ds.images[6].objects.map((o) => o.group), ['single object'], 'scene 6');
  // counted from annotations.json with Python (colours of each scene's objects): 334 / 136 / 1539 of 2009
  const count = (g) => ds.images.reduce((n, im) => n + im.objects.filter((o) => o.group === g).length, 0);
  t.deepEqual(SCENE_GROUPS.map(count), [334, 136, 1539], 'all 2009 pairs: 334 single, 136 same colour, 1539 different colours');
  t.end();
});

const SETTINGS = { decomcam: '0', model: '/m', dataset: 'd', groups: null, dtype: 'float32', preset: 'paper', layer: 'l', methods: ['decomcam', 'gradcam'], limit: null, steps: 2, tolerance: 15 };
const pair = (image, object, method, v) => ({ kind: 'pair', image, object, method, group: null, pointingGame: 1, strictPointing: 0,
  energyPG: v, boxIoU: v, deletionAUC: v, insertionAUC: v, Y: 0.5, O: v, seconds: 0.1 });

test('records: blocks, a torn last line, an unfinished block, corrupt files', (t) => {
  const header = { kind: 'header', format: RECORDS_FORMAT, settings: SETTINGS, shard: { index: 0, count: 1 }, images: 2, pairs: 2 };
  const zs = [{ kind: 'zeroShot', image: 'a', hit: 1, objects: 1 }, { kind: 'zeroShot', image: 'b', hit: 0, objects: 1 }];
  const a = [pair('a', 'o', 'decomcam', 0.25), pair('a', 'o', 'gradcam', 0.5)];
  const b = [pair('b', 'o', 'decomcam', 0.125), pair('b', 'o', 'gradcam', 1 / 3)];
  const whole = headerText(header) + blockText('zeroShot', zs) + blockText('image', a, 'a') + blockText('image', b, 'b');
  const enc = (s) => new TextEncoder().encode(s);
  const p = parseRecords(enc(whole), 'f');
  t.deepEqual([p.records.length, p.zeroShotDone, [...p.imagesDone], p.keepBytes, p.droppedLines, p.tornTail], [6, true, ['a', 'b'], enc(whole).length, 0, false], 'a whole file: 6 records, nothing to cut');
  t.equal(p.records[5].insertionAUC, 1 / 3, 'numbers read back exactly (1/3)');
  const blockB = blockText('image', b, 'b');
  const torn = headerText(header) + blockText('zeroShot', zs) + blockText('image', a, 'a') + blockB.slice(0, blockB.length - 7);
  const q = parseRecords(enc(torn), 'f');
  const keep = enc(headerText(header) + blockText('zeroShot', zs) + blockText('image', a, 'a')).length;
  t.deepEqual([q.records.length, [...q.imagesDone], q.keepBytes, q.droppedLines, q.tornTail], [4, ['a'], keep, 2, true],
    'torn in its end line: image b\'s two complete lines are dropped with it, the file is cut back to image a');
  throwsDecomcam(t, () => parseRecords(enc(whole.replace('"image":"a","object"', '"image":"a""object"')), 'f'), /f line 5 is not a JSON record/, 'a broken line before the last');
  throwsDecomcam(t, () => parseRecords(enc(whole.replace('"lines":2', '"lines":3')), 'f'), /f line 4 ends a zeroShot block of 3 lines, but the block has 2;/, 'an end line with a wrong count');
  throwsDecomcam(t, () => parseRecords(enc(whole.replace('"energyPG":0.25', '"energyPG":null')), 'f'), /energyPG is null, not a finite number/, 'a null metric');
  throwsDecomcam(t, () => parseRecords(enc('{"kind":"header","format":"other"}\n'), 'f'), /line 1 is not a decomcam-eval-records\/2 header \(nor a decomcam-eval-records\/1 one\)/, 'another format');
  const meta = { dataset: 'd', preset: 'paper', layer: 'l', methods: SETTINGS.methods, groups: null, steps: 2, tolerance: 15 };
  throwsDecomcam(t, () => summarize([...zs, ...a, ...a, ...b], meta), /image "a" object "o" has method "decomcam" twice \(counted twice/, 'a pair counted twice');
  throwsDecomcam(t, () => summarize([...zs, a[0], ...b], meta), /image "a" object "o" has no record of method "gradcam"/, 'a method missing');
  throwsDecomcam(t, () => summarize([...zs, ...zs, ...a, ...b], meta), /image "a" has two zero-shot trials/, 'a zero-shot trial counted twice');
  t.end();
});

// ---- tools/eval.js end to end (shipped model, held-out scenes; 16 pairs of scenes 0-5, two methods, 2 steps) ----
function run(args) {
  const r = spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const BASE = ['--limit', '16', '--methods', 'decomcam,gradcam', '--steps', '2', '--backend', 'wasm', '--bootstrap', '300', '--json'];
// measured seconds differ between any two runs; everything else must not
function withoutSeconds(x) {
  if (Array.isArray(x)) return x.map(withoutSeconds);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'secondsPerPair').map(([k, v]) => [k, withoutSeconds(v)]));
  return x;
}
const lastLine = (s) => s.trim().split('\n').pop();

test('eval.js: one run = the merge of 3 shards; merge reprints a run; resume after a kill', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'decomcam-eval-'));
  try {
    const one = run([...BASE, '--out', join(tmp, 'one')]);
    t.equal(one.code, 0, `one run: exit 0 (${lastLine(one.err)})`);
    const single = JSON.parse(one.out);
    t.equal(single.pairs, 16, '16 pairs');
    t.deepEqual(single.groups.map((g) => [g.group, g.pairs]), [['single object', 0], ['same colour', 2], ['different colours', 14]], 'groups: 0 / 2 / 14 pairs');
    t.ok(single.table[1].vsDecomcam && typeof single.table[1].vsDecomcam.pointingGame.p === 'number', 'gradcam carries its test against decomcam');
    for (let i = 0; i < 3; i++) {
      const s = run([...BASE, '--shard', `${i}/3`, '--out', join(tmp, 'shards')]);
      t.equal(s.code, 0, `shard ${i}/3: exit 0 (${lastLine(s.err)})`);
    }
    const merged = run(['merge', join(tmp, 'shards'), '--bootstrap', '300', '--json']);
    t.equal(merged.code, 0, `merge: exit 0 (${lastLine(merged.err)})`);
    t.equal(JSON.stringify(withoutSeconds(JSON.parse(merged.out))), JSON.stringify(withoutSeconds(single)),
      'merge of 3 shards: the same JSON as one run, bit for bit, but for the measured seconds');
    const again = run(['merge', join(tmp, 'one'), '--bootstrap', '300', '--json']);
    t.equal(again.out, one.out, 'merge of the one run\'s records: its JSON bit for bit, seconds included');
    const table1 = run(['merge', join(tmp, 'one'), '--bootstrap', '300']);
    t.ok(/^zero-shot accuracy \(held-out scenes\): 92\.2% of 1000 images/.test(table1.out) && /group "same colour": 2 pairs of 1 images/.test(table1.out),
      `the table prints: ${table1.out.split('\n')[0]}`);

    // a kill inside image scene_0003's block (shard 1/3): its end line and part of a record gone
    const f = join(tmp, 'shards', 'records-1-of-3.jsonl');
    const full = readFileSync(f, 'utf8');
    cpSync(join(tmp, 'shards'), join(tmp, 'killed'), { recursive: true });
    const g = join(tmp, 'killed', 'records-1-of-3.jsonl');
    writeFileSync(g, full.slice(0, full.lastIndexOf('{"kind":"end"') - 40));
    const unfinished = run(['merge', join(tmp, 'killed'), '--json']);
    t.ok(unfinished.code === 2 && /records-1-of-3\.jsonl \(shard 1\/3\) is unfinished: 2 of 5 pairs; rerun its command/.test(lastLine(unfinished.err)), `merge refuses it: ${lastLine(unfinished.err)}`);
    const peek = run(['merge', join(tmp, 'killed'), '--partial', '--bootstrap', '300', '--json']);
    const peeked = peek.code === 0 ? JSON.parse(peek.out) : {};
    t.ok(peeked.partial === 'NOT the whole run: shard 1/3 has 2 of 5 pairs' && peeked.pairs === 13, `merge --partial takes the finished images and says so: ${peeked.partial}, ${peeked.pairs} pairs`);
    const resumed = run([...BASE, '--shard', '1/3', '--out', join(tmp, 'killed')]);
    t.ok(resumed.code === 0 && /cut \d+ bytes at its end \(a torn last line, 5 lines of an unfinished image\)/.test(resumed.err) &&
      /holds 1 finished images \(2 pairs\)/.test(resumed.err), `resume: ${resumed.err.split('\n').filter((l) => l.startsWith('resume')).join(' | ')}`);
    t.equal(readFileSync(g, 'utf8').replace(/"seconds":[^}]*\}/g, ''), full.replace(/"seconds":[^}]*\}/g, ''), 'the resumed file has the same records as the unkilled one (seconds aside), none twice');
    const m2 = run(['merge', join(tmp, 'killed'), '--bootstrap', '300', '--json']);
    t.equal(JSON.stringify(withoutSeconds(JSON.parse(m2.out))), JSON.stringify(withoutSeconds(single)), 'merge after the resume: the one run\'s JSON (seconds aside)');
    const before = readFileSync(g, 'utf8');
    const noop = run([...BASE, '--shard', '1/3', '--out', join(tmp, 'killed')]);
    t.ok(noop.code === 0 && /holds 2 finished images \(5 pairs\)/.test(noop.err) && !/\[1\/\d+\]/.test(noop.err) && readFileSync(g, 'utf8') === before,
      'rerunning a finished shard evaluates no pair and leaves its file as it was');

    // merge refuses what is not one run's complete set of shards
    rmSync(join(tmp, 'killed', 'records-2-of-3.jsonl'));
    const missing = run(['merge', join(tmp, 'killed')]);
    t.ok(missing.code === 2 && /shard 2\/3 missing/.test(lastLine(missing.err)), `a missing shard: ${lastLine(missing.err)}`);
    const twice = run(['merge', join(tmp, 'shards'), join(tmp, 'killed')]);
    t.ok(twice.code === 2 && /shard 0\/3 is both .* give each shard once/.test(lastLine(twice.err)), `a shard given twice: ${lastLine(twice.err)}`);
    const mixed = run(['merge', join(tmp, 'one'), join(tmp, 'shards')]);
    t.ok(mixed.code === 2 && /is shard 0\/3, .* one of 1/.test(lastLine(mixed.err)), `shards of different splits: ${lastLine(mixed.err)}`);
    const other = run([...BASE.map((a) => (a === '2' ? '3' : a)), '--shard', '1/3', '--out', join(tmp, 'shards')]);
    t.ok(other.code === 2 && /holds records of another run \(steps is 2 there, 3 here\)/.test(lastLine(other.err)), `resume with other arguments: ${lastLine(other.err)}`);
    appendFileSync(join(tmp, 'one', 'records-0-of-1.jsonl'), '{"kind":"pair"');
    const tornMerge = run(['merge', join(tmp, 'one')]);
    t.ok(tornMerge.code === 2 && /is unfinished/.test(lastLine(tornMerge.err)), `merge refuses a torn file: ${lastLine(tornMerge.err)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  t.end();
});
