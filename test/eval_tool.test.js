// test/eval_tool.test.js: tools/eval.js end to end on the shipped model and held-out scenes (two pairs, two
// methods): the JSON has a row per method with every metric equal to a recorded run, and the printed table opens
// with the zero-shot accuracy. (The metrics themselves are checked against references in test/eval.test.js.)
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'eval.js');

function run(args) {
  const r = spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// The numbers of this exact command (ts backend, deterministic) recorded from a run of the previous harness
// (tools/eval.js before it became src/eval/harness.ts, commit 43759b6), whose metrics test/eval.test.js checks
// against the PyTorch/numpy references: the library harness must give the same numbers.
const PINNED = {
  zeroShot: { accuracy: 0.922, images: 1000, singleObjectAccuracy: 0.9251497005988024, singleObjectImages: 334 },
  decomcam: { pointingGame: 1, energyPG: 0.25085809184976493, boxIoU: 0.5158539220439741, deletionAUC: 0.05285454572974654,
    insertionAUC: 0.27982146178737405, averageDrop: 5.4271064380718625, increase: 50 },
  gradcam: { pointingGame: 1, energyPG: 0.2995412124037839, boxIoU: 0.33888764990319015, deletionAUC: 0.04732788196178948,
    insertionAUC: 0.21204626035596458, averageDrop: 49.994151349075295, increase: 50 },
};
const PIN_TOL = 1e-12; // relative; the runs agree bit for bit, this only allows for printing

test('eval.js: a table row per method, every metric pinned, zero-shot accuracy first', (t) => {
  const r = run(['--limit', '2', '--methods', 'decomcam,gradcam', '--steps', '4', '--json', '--backend', 'ts']);
  t.equal(r.code, 0, `exit 0 (${r.err.trim().split('\n').pop()})`);
  const res = JSON.parse(r.out);
  t.equal(res.pairs, 2, 'two image–text pairs');
  t.deepEqual(res.zeroShot, PINNED.zeroShot, `zero-shot accuracy ${res.zeroShot.accuracy} over ${res.zeroShot.images} images`);
  t.deepEqual(res.table.map((row) => row.method), ['decomcam', 'gradcam'], 'one row per method, in order');
  for (const row of res.table) {
    for (const [k, want] of Object.entries(PINNED[row.method])) {
      const got = row[k];
      t.ok(Math.abs(got - want) <= PIN_TOL * Math.max(1, Math.abs(want)), `${row.method}.${k} ${got} (pinned ${want})`);
    }
    t.ok(row.secondsPerPair > 0, `${row.method}: ${row.secondsPerPair.toFixed(3)} s a pair`);
  }
  const table = run(['--limit', '1', '--methods', 'gradcam', '--steps', '2', '--backend', 'ts']);
  t.ok(table.code === 0 && /^zero-shot accuracy \(held-out scenes\): 92\.2% of 1000 images/.test(table.out), `the table opens with: ${table.out.split('\n')[0]}`);
  t.end();
});

test('eval.js: bad input is one line and exit 2', (t) => {
  const cases = [
    [['--methods', 'nope'], /method "nope" is unknown/],
    [['--voc', '/nonexistent'], /VOC folder \/nonexistent does not exist/],
    [['--voc', '/tmp', '--coco', '/tmp/x.json'], /give one dataset/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    const last = r.err.trim().split('\n').pop();
    t.ok(r.code === 2 && re.test(last), `exit ${r.code}: ${last}`);
  }
  t.end();
});
