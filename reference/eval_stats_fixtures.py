"""eval_stats_fixtures.py: reference numbers for the eval table's statistics (src/eval/summary.ts, bootstrap.ts,
signedrank.ts), computed independently with numpy and scipy.

  /usr/bin/python3 reference/eval_stats_fixtures.py   # writes reference/fixtures/eval_stats.json

  mulberry32   the first values of the seeded stream (uint32 arithmetic in Python ints) the bootstrap draws from.
  erfc         scipy.special.erfc at points across the range a p-value needs.
  wilcoxon     scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False, method='approx') on small cases
               with zeros and ties: statistic (min(W+, W-)) and two-sided p.
  summary      a synthetic set of per-pair records (3 methods, 30 images of 1-3 objects, scene groups) and its
               whole table: pair means; percentile bootstrap intervals over images (np.percentile, linear) from
               mulberry32 draws; baseline - DecomCAM differences, their intervals from the same draws, the
               signed-rank test of per-image mean differences (scipy) and Holm's adjustment (its formula); again
               per group. The inputs are stored beside the outputs.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.special
import scipy.stats

sys.path.insert(0, os.path.dirname(__file__))
from seeded import stream_key  # noqa: E402  (the Python twin of tensor/rng.ts)

HERE = os.path.join(os.path.dirname(__file__), 'fixtures')
M32 = 0xFFFFFFFF
SEED = 20241203
METRICS = [('pointingGame', True), ('strictPointing', True), ('energyPG', True), ('boxIoU', True),
           ('deletionAUC', False), ('insertionAUC', True), ('averageDrop', False), ('increase', True)]
GROUPS = ['single object', 'same colour', 'different colours']


def imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    """tensor/rng.ts mulberry32: yields u in [0, 1) as uint32 / 2**32."""
    a = seed & M32
    while True:
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & M32)) & M32
        yield ((t ^ (t >> 14)) & M32) / 4294967296.0


def draws(K, B, seed, stream):
    g = mulberry32(stream_key(seed, stream))
    return np.array([int(next(g) * K) for _ in range(B * K)], dtype=np.int64).reshape(B, K)


def wilcoxon(d):
    d = np.asarray(d, dtype=np.float64)
    if np.count_nonzero(d) == 0:
        return {'n': 0, 'statistic': 0.0, 'p': 1.0}
    r = scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False, method='approx', alternative='two-sided')
    return {'n': int(np.count_nonzero(d)), 'statistic': float(r.statistic), 'p': float(r.pvalue)}


def holm(p):
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind='stable')
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def value(r, key):
    if key == 'averageDrop':
        return 100.0 * max(0.0, r['Y'] - r['O']) / r['Y']
    if key == 'increase':
        return 100.0 if r['O'] > r['Y'] else 0.0
    return r[key]


def table(recs, methods, B, seed, stream, level=0.95):
    """The summary of pair records (already in canonical order) — numpy throughout."""
    images = sorted({r['image'] for r in recs})
    K = len(images)
    at = {im: k for k, im in enumerate(images)}
    idx = draws(K, B, seed, stream)
    counts = np.zeros(K)
    for r in recs:
        if r['method'] == methods[0]:
            counts[at[r['image']]] += 1
    tail = 100 * (1 - level) / 2
    stats = {}
    for m in methods:
        rs = [r for r in recs if r['method'] == m]
        for key, _ in METRICS:
            v = np.array([value(r, key) for r in rs])
            sums = np.zeros(K)
            np.add.at(sums, [at[r['image']] for r in rs], v)
            reps = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
            mean = 0.0
            for x in v:  # sequential, as the table's mean
                mean += x
            stats[m, key] = {'mean': mean / len(v), 'sums': sums, 'reps': reps}
    rows = []
    for m in methods:
        rows.append({'method': m, 'pairs': int(sum(1 for r in recs if r['method'] == m)),
                     **{key: stats[m, key]['mean'] for key, _ in METRICS},
                     'ci': {key: [float(np.percentile(stats[m, key]['reps'], tail)),
                                  float(np.percentile(stats[m, key]['reps'], 100 - tail))] for key, _ in METRICS}})
    ref = 'decomcam'
    for key, higher in METRICS:
        base = [m for m in methods if m != ref]
        res = []
        for m in base:
            a, d = stats[m, key], stats[ref, key]
            diffs = a['sums'] / counts - d['sums'] / counts
            rep = a['reps'] - d['reps']
            diff = a['mean'] - d['mean']
            better = 'tie' if diff == 0 else (m if (diff > 0) == higher else ref)
            res.append((m, diff, [float(np.percentile(rep, tail)), float(np.percentile(rep, 100 - tail))], better, wilcoxon(diffs)))
        adj = holm([x[4]['p'] for x in res])
        for (m, diff, ci, better, w), ph in zip(res, adj):
            row = next(r for r in rows if r['method'] == m)
            row.setdefault('vsDecomcam', {})[key] = {
                'difference': diff, 'ci': ci, 'better': better, 'images': w['n'], 'statistic': w['statistic'],
                'p': w['p'], 'pHolm': float(ph), 'significant': bool(ph < 0.05)}
    return {'images': K, 'table': rows}


def synthetic_records(rng):
    methods = ['decomcam', 'gradcam', 'scorecam']
    recs = []
    for i in range(30):
        n = int(rng.integers(1, 4))
        colours = rng.integers(0, 3, size=n)
        for k in range(n):
            group = GROUPS[0] if n == 1 else GROUPS[1] if any(colours[j] == colours[k] for j in range(n) if j != k) else GROUPS[2]
            for j, m in enumerate(methods):
                # method j is a little better than the last on most metrics, so some tests come out significant
                Y = float(rng.uniform(0.05, 0.95))
                recs.append({
                    'kind': 'pair', 'image': f'img_{i:03d}.png', 'object': f'obj{k}', 'method': m, 'group': group,
                    'pointingGame': int(rng.uniform() < 0.6 + 0.15 * j), 'strictPointing': int(rng.uniform() < 0.4),
                    'energyPG': float(rng.uniform(0, 1) * (0.5 + 0.25 * j)), 'boxIoU': float(rng.beta(2, 3)),
                    # a quantised metric, so ties among per-image differences happen
                    'deletionAUC': float(np.round(rng.uniform(0, 0.3), 1)), 'insertionAUC': float(rng.uniform(0.1, 0.6)),
                    'Y': Y, 'O': float(np.clip(Y + rng.normal(-0.05 * (2 - j), 0.1), 0, 1)), 'seconds': 0.125 * (j + 1)})
    return methods, recs


def main():
    rng = np.random.default_rng(SEED)
    out = {'generator': 'reference/eval_stats_fixtures.py', 'numpy': np.__version__, 'scipy': scipy.__version__, 'seed': SEED}

    g = mulberry32(stream_key(7, 'bootstrap:all'))
    out['mulberry32'] = {'seed': 7, 'stream': 'bootstrap:all', 'key': stream_key(7, 'bootstrap:all'),
                         'values': [next(g) for _ in range(16)]}

    xs = [0.0, 1e-8, 0.1, 0.5, 0.9, 1.0, 1.5, 1.99, 2.0, 2.01, 2.5, 3.0, 4.0, 5.0, 6.5, 8.0, 10.0, 15.0, 20.0, 26.0]
    out['erfc'] = {'x': xs, 'erfc': [float(scipy.special.erfc(x)) for x in xs]}

    cases = [
        [1.5, -0.5, 2.0, 0.0, 3.5, -1.0, 2.0, 0.25, 4.0, -2.0, 1.0, 0.75],  # zeros and ties
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],      # all positive
        [1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 0.0, 0.0, 1.0, -1.0],             # one tied magnitude
        [0.0, 0.0, 0.0],                                                    # no difference at all
        list(np.round(rng.normal(0.1, 1.0, size=200), 2)),                  # many ties after rounding
    ]
    out['wilcoxon'] = [{'d': [float(v) for v in d], **wilcoxon(d)} for d in cases]

    methods, recs = synthetic_records(rng)
    B, seed = 500, 3
    order = {m: j for j, m in enumerate(methods)}
    canon = sorted(recs, key=lambda r: (r['image'], r['object'], order[r['method']]))
    summary = {'all': table(canon, methods, B, seed, 'bootstrap:all'), 'groups': []}
    for gname in GROUPS:
        sub = [r for r in canon if r['group'] == gname]
        t = table(sub, methods, B, seed, f'bootstrap:{gname}')
        summary['groups'].append({'group': gname, 'pairs': len(sub) // len(methods), **t})
    rng.shuffle(recs)  # the records arrive in any order; the summary must not care
    out['summary'] = {'methods': methods, 'groups': GROUPS, 'replicates': B, 'seed': seed, 'records': recs, 'expected': summary}

    os.makedirs(HERE, exist_ok=True)
    with open(os.path.join(HERE, 'eval_stats.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f"wrote {os.path.join(HERE, 'eval_stats.json')}: {len(recs)} records, {len(cases)} signed-rank cases")


if __name__ == '__main__':
    main()
