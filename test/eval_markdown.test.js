// test/eval_markdown.test.js: `eval.js merge --markdown` (how the README's quality tables are made) prints the
// same numbers as `merge --json`, in the README's layout: the table with its intervals, each baseline against
// DecomCAM (the better method in bold exactly where the JSON says significant), and each group's pointing games.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'eval.js');
const run = (args) => spawnSync(process.execPath, [tool, ...args], { encoding: 'utf8', env: { ...process.env, DECOMCAM_THREADS: '1' } });
const SHORT = ['pointing', 'strict', 'energyPG', 'boxIoU', 'deletion↓', 'insertion↑', 'drop%↓', 'incr%↑'];
const KEYS = ['pointingGame', 'strictPointing', 'energyPG', 'boxIoU', 'deletionAUC', 'insertionAUC', 'averageDrop', 'increase'];
const digits = (k) => (k === 'averageDrop' || k === 'increase' ? 1 : 3);

test('eval.js merge --markdown: the JSON\'s numbers as the README\'s tables', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-md-'));
  try {
    const r = run(['--limit', '6', '--methods', 'decomcam,gradcam,eigencam', '--steps', '4', '--backend', 'wasm', '--out', dir]);
    t.equal(r.status, 0, `the run exits 0 (${r.stderr.trim().split('\n').pop()})`);
    const json = JSON.parse(run(['merge', dir, '--json']).stdout);
    const md = run(['merge', dir, '--markdown']).stdout.split('\n');
    t.ok(md[0].startsWith(`zero-shot accuracy ${(100 * json.zeroShot.accuracy).toFixed(1)}% of ${json.zeroShot.images} images`), `opens with the zero-shot accuracy: ${md[0].slice(0, 60)}…`);
    t.equal(md.find((l) => l.startsWith('| method |')), `| method | ${SHORT.join(' | ')} | s/pair |`, 'the table\'s header');
    for (const row of json.table) {
      const line = md.find((l) => l.startsWith(`| ${row.method} | `));
      const cells = line.split(' | ').slice(1, 1 + KEYS.length);
      const want = KEYS.map((k) => `${row[k].toFixed(digits(k))} [${row.ci[k][0].toFixed(digits(k))}, ${row.ci[k][1].toFixed(digits(k))}]`);
      t.deepEqual(cells, want, `${row.method}: every mean and interval as in the JSON`);
      if (!row.vsDecomcam) continue;
      const vs = md.filter((l) => l.startsWith(`| ${row.method} | `))[1].split(' | ').slice(1, 1 + KEYS.length);
      KEYS.forEach((k, i) => {
        const c = row.vsDecomcam[k];
        t.ok(vs[i].startsWith(`${c.difference >= 0 ? '+' : ''}${c.difference.toFixed(digits(k))} p=`) && vs[i].includes(`**${c.better}**`) === c.significant,
          `${row.method} vs decomcam, ${k}: "${vs[i].replace(/ \|$/, '')}" (significant: ${c.significant})`);
      });
    }
    for (const g of json.groups.filter((x) => x.pairs > 0)) {
      t.ok(md.includes(`*${g.group}* (${g.pairs} pairs of ${g.images} images):`), `group "${g.group}" has its table`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.end();
});
