"""linalg_fixtures.py: reference SVDs (numpy.linalg.svd, LAPACK gesdd) and PCAs (scikit-learn 1.2) for src/linalg/.

  /usr/bin/python3 reference/linalg_fixtures.py   # writes reference/fixtures/linalg.{safetensors,json}

Cases (m x n, Q = PCA components, k = Lanczos triplets tested):
  square 8x8, tall 12x7, wide 7x12      random uniform(-1, 1) (numpy default_rng(SEED))
  rankdef 12x9                          rank 3: (12x3) @ (3x9)
  repeated 10x8                         singular values 4,4,4,2,2,1,.5,.25 with zero-mean columns, so the
                                        PCA (which centres) sees the same repeated values
  repeated40 40x36                      the same construction, singular values 4,4,3,2.5,linspace(2,.1,32): big
                                        enough for pca()'s 'auto' to try Lanczos, which must fall back to Jacobi
  zero 6x5                              all zeros
  onecol 9x6                            only column 2 non-zero
  ties 4x3                              orthogonal zero-mean columns whose singular vectors are exactly +-1/2:
                                        svd_flip's ties (the first largest |entry| decides the sign)
  doubled 300x200                       blockdiag(B, B), B = seeded_uniform(SEED, 'linalg.doubled.b', 150*100)
                                        with column j divided by (1 + j/10): every singular value twice, and
                                        a fast-converging top, so Lanczos must report the copies it misses
                                        (only the singular values are stored)
  diagonal 40x30                        diag(5, 5, 3, 2, linspace(1, .05, 26)): Lanczos started from a vector
                                        with no e_2 component can never see the second 5 (every product keeps
                                        that entry exactly 0), so only the missed-value check can find it
  vit 196x500, rn50 49x500              seeded_uniform(SEED, 'linalg.<case>.x', m*n, 1.0) float64 (reference/
                                        seeded.py; the TS tests regenerate it bit for bit with seededUniform)
  vitscaled 196x500                     the same values, column j divided by (1 + j/10): a decaying spectrum,
                                        like DecomCAM's X = A[:, top] * alpha[top] (one IEEE division: bit-exact)
Small inputs are stored (<case>.x); the large ones are regenerated from the seed. Per case: <case>.S (all
singular values, LAPACK), <case>.U / <case>.Vt (thin, small cases only), the PCA stages
<case>.pca.{scores,components,singular_values,explained_variance,explained_variance_ratio,mean}, and
<case>.centred.S (every singular value of the centred X, to tell which of the Q are distinct).

The PCA is sklearn.decomposition.PCA(n_components=Q, svd_solver='full').fit_transform(X) on a float64 X:
svd_solver='full' is stated because 'auto' picks 'randomized' once max(m, n) > 500 (at 196 x 500 'auto'
still means 'full'); DecomCAM's reference uses the full SVD and svd_flip(u_based_decision=True), the rule
scikit-learn used before 1.5. A float32 X would make sklearn compute in float32, so inputs are float64.
"""
import json
import os
import sys

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import PCA

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402
from seeded import seeded_uniform  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), 'fixtures')
SEED = 20240604


def orthonormal(rng, m, k, avoid=None):
    """k orthonormal columns in R^m (QR of a random matrix), orthogonal to the columns of `avoid` if given."""
    a = rng.uniform(-1, 1, size=(m, k + (0 if avoid is None else avoid.shape[1])))
    if avoid is not None:
        a[:, :avoid.shape[1]] = avoid
    q, _ = np.linalg.qr(a)
    return q[:, (0 if avoid is None else avoid.shape[1]):]


def small_cases(rng):
    cases = {}
    cases['square'] = (rng.uniform(-1, 1, size=(8, 8)), 3)
    cases['tall'] = (rng.uniform(-1, 1, size=(12, 7)), 4)
    cases['wide'] = (rng.uniform(-1, 1, size=(7, 12)), 4)
    cases['rankdef'] = (rng.uniform(-1, 1, size=(12, 3)) @ rng.uniform(-1, 1, size=(3, 9)), 3)
    ones = np.ones((10, 1)) / np.sqrt(10)
    left = orthonormal(rng, 10, 8, avoid=ones)      # columns orthogonal to the ones vector: zero column means
    right = orthonormal(rng, 8, 8)
    cases['repeated'] = (left @ np.diag([4, 4, 4, 2, 2, 1, .5, .25]) @ right.T, 5)
    ones = np.ones((40, 1)) / np.sqrt(40)
    left = orthonormal(rng, 40, 36, avoid=ones)
    right = orthonormal(rng, 36, 36)
    sv = np.concatenate([[4, 4, 3, 2.5], np.linspace(2, .1, 32)])
    cases['repeated40'] = (left @ np.diag(sv) @ right.T, 3)
    cases['zero'] = (np.zeros((6, 5)), 2)
    onecol = np.zeros((9, 6))
    onecol[:, 2] = rng.uniform(-1, 1, size=9)
    cases['onecol'] = (onecol, 3)
    # Exact ties for the sign rule: U's columns are ±1/2 (columns of X orthogonal, zero-mean, entries ±3 and ±1),
    # so svd_flip's argmax must take the first of the equal magnitudes.
    cases['ties'] = (np.array([[3., -1, 0], [-3, -1, 0], [3, 1, 0], [-3, 1, 0]]), 2)
    return cases


def large_input(case, m, n):
    x = seeded_uniform(SEED, f'linalg.{case}.x', m * n, 1.0, 0.0, np.float64).reshape(m, n)
    return x


def main():
    rng = np.random.default_rng(SEED)
    out = {}
    info = {}
    for name, (x, Q) in small_cases(rng).items():
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        out[f'{name}.x'] = x
        out[f'{name}.S'] = s
        out[f'{name}.U'] = u
        out[f'{name}.Vt'] = vt
        info[name] = {'m': x.shape[0], 'n': x.shape[1], 'Q': Q, 'input': 'stored'}
    b = seeded_uniform(SEED, 'linalg.doubled.b', 150 * 100, 1.0, 0.0, np.float64).reshape(150, 100)
    b = b / (1.0 + np.arange(100) / 10.0)
    out['doubled.S'] = np.linalg.svd(np.block([[b, np.zeros_like(b)], [np.zeros_like(b), b]]), compute_uv=False)
    diag = np.zeros((40, 30))
    diag[np.arange(30), np.arange(30)] = np.concatenate([[5, 5, 3, 2], np.linspace(1, .05, 26)])
    out['diagonal.x'] = diag
    out['diagonal.S'] = np.linalg.svd(diag, compute_uv=False)
    info['diagonal'] = {'m': 40, 'n': 30, 'input': 'stored'}
    info['doubled'] = {'m': 300, 'n': 200, 'input': 'blockdiag(b, b)', 'seed_name': 'linalg.doubled.b',
                       'block': [150, 100], 'column_scale': '1/(1 + j/10)'}
    for name, m, n in [('vit', 196, 500), ('rn50', 49, 500), ('vitscaled', 196, 500)]:
        x = large_input('vit' if name == 'vitscaled' else name, m, n)
        if name == 'vitscaled':
            x = x / (1.0 + np.arange(n) / 10.0)
        out[f'{name}.S'] = np.linalg.svd(x, compute_uv=False)
        info[name] = {'m': m, 'n': n, 'Q': 10, 'input': 'seeded',
                      'seed_name': f"linalg.{'vit' if name == 'vitscaled' else name}.x",
                      'column_scale': '1/(1 + j/10)' if name == 'vitscaled' else None}
        out[f'{name}.__x'] = x  # used below for the PCA, not stored
    for name, meta in info.items():
        if 'Q' not in meta:
            continue
        x = out[f'{name}.x'] if meta['input'] == 'stored' else out.pop(f'{name}.__x')
        p = PCA(n_components=meta['Q'], svd_solver='full')
        with np.errstate(invalid='ignore', divide='ignore'):
            scores = p.fit_transform(x.copy())
        out[f'{name}.pca.scores'] = scores
        out[f'{name}.pca.components'] = p.components_
        out[f'{name}.pca.singular_values'] = p.singular_values_
        out[f'{name}.pca.explained_variance'] = p.explained_variance_
        out[f'{name}.pca.explained_variance_ratio'] = p.explained_variance_ratio_
        out[f'{name}.pca.mean'] = p.mean_
        # All singular values of the centred X (the PCA keeps Q): tells the tests which values are distinct.
        out[f'{name}.centred.S'] = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    out = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in out.items()}
    meta = {
        'command': '/usr/bin/python3 reference/linalg_fixtures.py',
        'seed': SEED,
        'numpy': np.__version__, 'scipy': scipy.__version__, 'sklearn': sklearn.__version__,
        'svd': 'numpy.linalg.svd (LAPACK gesdd), thin',
        'pca': "sklearn PCA(n_components=Q, svd_solver='full').fit_transform(X), float64 X, "
               'svd_flip(u_based_decision=True) (scikit-learn < 1.5)',
        'cases': info,
    }
    os.makedirs(HERE, exist_ok=True)
    st.save(os.path.join(HERE, 'linalg.safetensors'), out, {'seed': SEED, 'command': meta['command']})
    meta['tensors'] = {k: list(v.shape) for k, v in out.items()}
    with open(os.path.join(HERE, 'linalg.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    size = os.path.getsize(os.path.join(HERE, 'linalg.safetensors'))
    print(f'wrote {len(out)} tensors, {size / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
