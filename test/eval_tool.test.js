// test/eval_tool.test.js: tools/eval.js end to end on the shipped model and held-out scenes (two pairs, two
// methods): the JSON has a row per method with every metric in its range, and the printed table opens with
// the zero-shot accuracy. (The metrics themselves are checked against references in test/eval.test.js.)
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'eval.js');

function run(args) {
  const r = spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('eval.js: a table row per method, every metric, zero-shot accuracy first', (t) => {
  const r = run(['--limit', '2', '--methods', 'decomcam,gradcam', '--steps', '4', '--json', '--backend', 'ts']);
  t.equal(r.code, 0, `exit 0 (${r.err.trim().split('\n').pop()})`);
  const res = JSON.parse(r.out);
  t.equal(res.pairs, 2, 'two image–text pairs');
  t.ok(res.zeroShot.accuracy >= 0 && res.zeroShot.accuracy <= 1 && res.zeroShot.images > 0, `zero-shot accuracy ${res.zeroShot.accuracy} over ${res.zeroShot.images} images`);
  t.deepEqual(res.table.map((row) => row.method), ['decomcam', 'gradcam'], 'one row per method, in order');
  for (const row of res.table) {
    const inUnit = ['pointingGame', 'energyPG', 'boxIoU'].every((k) => row[k] >= 0 && row[k] <= 1);
    t.ok(inUnit && Number.isFinite(row.deletionAUC) && Number.isFinite(row.insertionAUC) && row.secondsPerPair > 0,
      `${row.method}: pointing ${row.pointingGame}, energy ${row.energyPG.toFixed(3)}, IoU ${row.boxIoU.toFixed(3)}, del ${row.deletionAUC.toFixed(3)}, ins ${row.insertionAUC.toFixed(3)}`);
  }
  const table = run(['--limit', '1', '--methods', 'gradcam', '--steps', '2', '--backend', 'ts']);
  t.ok(table.code === 0 && /^zero-shot accuracy \(held-out scenes\): [\d.]+% of \d+ images/.test(table.out), `the table opens with: ${table.out.split('\n')[0]}`);
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
