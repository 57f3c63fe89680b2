// test/eval_stats.test.js: the eval table's statistics (src/eval/summary.ts, bootstrap.ts, signedrank.ts) against
// reference/fixtures/eval_stats.json, which reference/eval_stats_fixtures.py computed with numpy and scipy: the
// seeded stream, erfc, the signed-rank test, and a whole summary (means, bootstrap intervals over images,
// differences to DecomCAM with their intervals, p-values, Holm) of synthetic records, overall and per group.
// Then exact facts: Holm's formula on hand-worked p-values, the percentile rule, order independence.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, streamKey } from '../dist/tensor/rng.js';
import { erfc, wilcoxonSignedRank, holm } from '../dist/eval/signedrank.js';
import { percentile, bootstrapDraws } from '../dist/eval/bootstrap.js';
import { summarize, METRICS } from '../dist/eval/summary.js';
import { fixturesDir } from './helpers/compare.js';

const fx = JSON.parse(readFileSync(join(fixturesDir, 'eval_stats.json'), 'utf8'));

// Tolerances, relative to max(1, |ref|) unless stated. Means are sums in the same order: exact. Bootstrap
// replicates are sums in draw order here, numpy's pairwise sums there: 1e-12. p-values go through erfc (ours:
// series / continued fraction; scipy: Cephes ndtr): 1e-12 relative to the p-value itself.
const TOL = { exact: 0, sums: 1e-12, erfc: 1e-13, p: 1e-12 };

function near(t, got, want, tol, what, relativeToSelf = false) {
  const scale = relativeToSelf ? Math.abs(want) : Math.max(1, Math.abs(want));
  const d = Math.abs(got - want);
  const ok = (Number.isNaN(want) && Number.isNaN(got)) || d <= tol * scale;
  t.ok(ok, `${ok ? 'ok  ' : 'FAIL'} ${what}: ours ${got} ref ${want} (|d| ${d.toExponential(1)}, tol ${tol})`);
  return ok;
}

test('fixture: the bootstrap\'s seeded stream (mulberry32 of streamKey) matches Python bit for bit', (t) => {
  const m = fx.mulberry32;
  t.equal(streamKey(m.seed, m.stream), m.key, `streamKey(${m.seed}, "${m.stream}") = ${m.key}`);
  const next = mulberry32(m.key);
  const got = m.values.map(() => next());
  t.deepEqual(got, m.values, `the first ${m.values.length} values equal`);
  t.end();
});

test('fixture: erfc against scipy.special.erfc', (t) => {
  fx.erfc.x.forEach((x, k) => near(t, erfc(x), fx.erfc.erfc[k], TOL.erfc, `erfc(${x})`, true));
  t.end();
});

test('fixture: signed-rank test against scipy.stats.wilcoxon (approx, no continuity correction, zeros dropped)', (t) => {
  for (const c of fx.wilcoxon) {
    const r = wilcoxonSignedRank(c.d);
    t.equal(r.n, c.n, `n = ${c.n} non-zero differences of ${c.d.length}`);
    t.equal(r.statistic, c.statistic, `T = ${c.statistic}`);
    near(t, r.p, c.p, TOL.p, `p over ${c.d.length} differences`, true);
  }
  t.end();
});

// The summary of the fixture's records, compared field by field with numpy/scipy's.
function compareTable(t, got, want, label) {
  t.equal(got.length, want.length, `${label}: ${want.length} rows`);
  want.forEach((w, j) => {
    const g = got[j];
    t.equal(g.method, w.method, `${label} row ${j}: ${w.method}`);
    t.equal(g.pairs, w.pairs, `${label} ${w.method}: ${w.pairs} pairs`);
    let bad = 0;
    for (const { key } of METRICS) {
      if (g[key] !== w[key]) bad += !near(t, g[key], w[key], TOL.exact, `${label} ${w.method}.${key} mean`);
      for (const e of [0, 1]) if (Math.abs(g.ci[key][e] - w.ci[key][e]) > TOL.sums * Math.max(1, Math.abs(w.ci[key][e]))) bad += !near(t, g.ci[key][e], w.ci[key][e], TOL.sums, `${label} ${w.method}.${key} ci[${e}]`);
      if (!w.vsDecomcam) continue;
      const a = g.vsDecomcam[key];
      const b = w.vsDecomcam[key];
      if (a.difference !== b.difference) bad += !near(t, a.difference, b.difference, TOL.exact, `${label} ${w.method}.${key} difference`);
      for (const e of [0, 1]) if (Math.abs(a.ci[e] - b.ci[e]) > TOL.sums * Math.max(1, Math.abs(b.ci[e]))) bad += !near(t, a.ci[e], b.ci[e], TOL.sums, `${label} ${w.method}.${key} difference ci[${e}]`);
      if (a.better !== b.better || a.images !== b.images || a.statistic !== b.statistic || a.significant !== b.significant) {
        bad++;
        t.fail(`${label} ${w.method}.${key}: better/images/T/significant ${[a.better, a.images, a.statistic, a.significant]} vs ${[b.better, b.images, b.statistic, b.significant]}`);
      }
      if (Math.abs(a.p - b.p) > TOL.p * b.p) bad += !near(t, a.p, b.p, TOL.p, `${label} ${w.method}.${key} p`, true);
      if (Math.abs(a.pHolm - b.pHolm) > TOL.p * b.pHolm) bad += !near(t, a.pHolm, b.pHolm, TOL.p, `${label} ${w.method}.${key} pHolm`, true);
    }
    t.equal(bad, 0, `${label} ${w.method}: every mean, interval, difference, T, p and Holm p matches (means exact, intervals ${TOL.sums}, p ${TOL.p})`);
  });
}

test('fixture: a whole summary (means, intervals over images, tests vs DecomCAM, Holm) against numpy/scipy', (t) => {
  const s = fx.summary;
  const meta = { dataset: 'fixture', preset: 'paper', layer: 'x', methods: s.methods, groups: s.groups, steps: 20, tolerance: 15 };
  const res = summarize(s.records, meta, { replicates: s.replicates, seed: s.seed });
  t.equal(res.images, s.expected.all.images, `${res.images} images`);
  compareTable(t, res.table, s.expected.all.table, 'all');
  s.expected.groups.forEach((g, k) => {
    t.deepEqual([res.groups[k].group, res.groups[k].pairs, res.groups[k].images], [g.group, g.pairs, g.images], `group "${g.group}": ${g.pairs} pairs of ${g.images} images`);
    compareTable(t, res.groups[k].table, g.table, g.group);
  });
  const sig = res.table.flatMap((r) => (r.vsDecomcam ? Object.values(r.vsDecomcam).filter((c) => c.significant) : []));
  t.ok(sig.length > 0 && sig.length < 16, `the fixture has significant and non-significant comparisons (${sig.length} of 16 significant)`);
  // the records in another order give the same result, bit for bit
  const reversed = summarize([...s.records].reverse(), meta, { replicates: s.replicates, seed: s.seed });
  t.equal(JSON.stringify(reversed), JSON.stringify(res), 'records in reverse order: the same JSON');
  t.end();
});

test('statistics: exact facts (Holm by hand, the percentile rule, draws, degenerate tests)', (t) => {
  // Holm, m = 4: sorted p 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (monotone: max(0.06, 0.06)), 1 (capped from 0.5·1 = 0.5 → 0.5)
  t.deepEqual(holm([0.03, 0.5, 0.01, 0.02]).map((x) => +x.toFixed(12)), [0.06, 0.5, 0.04, 0.06], 'Holm: 4·0.01, 3·0.02, max(2·0.03, 0.06), max(0.5, 0.06)');
  t.deepEqual(holm([0.4, 0.4]), [0.8, 0.8], 'Holm: ties keep their order');
  // numpy.percentile([1, 2, 3, 4], 25) = 1.75 (h = 3·0.25 = 0.75), 97.5 → h = 2.925 → 3.925
  t.equal(percentile(Float64Array.from([4, 1, 3, 2]), 25), 1.75, 'percentile 25 of 1..4 = 1.75');
  near(t, percentile(Float64Array.from([4, 1, 3, 2]), 97.5), 3.925, 1e-15, 'percentile 97.5 of 1..4');
  const d = bootstrapDraws(5, 3, 0, 'bootstrap:all');
  t.ok(d.length === 15 && d.every((i) => i < 5), 'draws: B·K indices below K');
  t.deepEqual(wilcoxonSignedRank([0, 0]), { n: 0, statistic: 0, z: 0, p: 1 }, 'no non-zero difference: p = 1');
  t.equal(wilcoxonSignedRank([1, 2, 3]).statistic, 0, 'all positive: T = min(W+, W-) = 0');
  t.equal(erfc(0), 1, 'erfc(0) = 1');
  t.end();
});
