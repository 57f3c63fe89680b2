"""bench_pca.py: the numpy / scikit-learn side of tools/bench_pca.js (a benchmark, not a fixture).

  /usr/bin/python3 reference/bench_pca.py [--runs 15]

Same inputs, bit for bit (reference/seeded.py): X = seeded_uniform(SEED, 'bench.x<m>', m*n, 1.0) float64,
"uniform", and the same with column j divided by (1 + j/10), "scaled"; m x n = 196 x 500 and 49 x 500, Q = 10.
Times (median wall time of --runs runs after one warm-up):
  sklearn   PCA(n_components=Q, svd_solver='full').fit_transform(X)   (what DecomCAM's reference runs)
  numpy     np.linalg.svd(X - X.mean(0), full_matrices=False)          (LAPACK gesdd, the whole thin SVD)
The BLAS numpy uses is printed (Debian's reference BLAS here, not OpenBLAS or MKL).
"""
import argparse
import os
import platform
import sys
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA

sys.path.insert(0, os.path.dirname(__file__))
from seeded import seeded_uniform  # noqa: E402

SEED = 20240604  # as tools/bench_pca.js
Q = 10


def blas_name():
    try:
        cfg = np.__config__.get_info('blas_opt_info')
        return ','.join(cfg.get('libraries', [])) or 'unknown'
    except Exception:  # numpy versions differ in how they expose this
        return 'unknown'


def bench(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=15)
    args = ap.parse_args()
    print(f'python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas_name()}), '
          f'sklearn {sklearn.__version__}, load average {" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    for m, n in [(196, 500), (49, 500)]:
        for scaled in (False, True):
            x = seeded_uniform(SEED, f'bench.x{m}', m * n, 1.0, 0.0, np.float64).reshape(m, n)
            if scaled:
                x = x / (1.0 + np.arange(n) / 10.0)
            label = f'{m}x{n} -> {Q} {"scaled " if scaled else "uniform"}'
            med, low = bench(lambda: PCA(n_components=Q, svd_solver='full').fit_transform(x), args.runs)
            print(f'sklearn PCA full {label}: median {med:.1f} ms (min {low:.1f}) over {args.runs} runs')
            med, low = bench(lambda: np.linalg.svd(x - x.mean(axis=0), full_matrices=False), args.runs)
            print(f'numpy svd        {label}: median {med:.1f} ms (min {low:.1f}) over {args.runs} runs')


if __name__ == '__main__':
    main()
