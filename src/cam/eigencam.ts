// cam/eigencam.ts: Eigen-CAM (arXiv 2008.00299), as pytorch-grad-cam's EigenCAM (get_2d_projection):
// NaN → 0, centre each channel over the positions, project onto the first right singular vector:
// map = Xc · v1, (h·w). No gradients. LAPACK leaves v1's sign free, so pytorch-grad-cam's sign is whatever its
// SVD returns; we fix it with scikit-learn's svd_flip rule (the map's largest-magnitude entry is positive,
// first on ties) by taking the first PCA score column, which is exactly Xc · v1 up to that sign.

import { pca } from '../linalg/pca.js';
import type { Float } from '../tensor/tensor.js';
import type { CamMethod, LayerGrid } from './template.js';

/**
 * (h·w): the first principal-component scores of X (h·w, C); an all-constant X gives zeros.
 */
export function firstProjection(X: Float, grid: LayerGrid): Float64Array {
  const n = grid.h * grid.w;
  const clean = Float64Array.from(X, (v) => (Number.isNaN(v) ? 0 : v));
  return Float64Array.from(pca({ data: clean, shape: [n, grid.C] }, 1).scores.data);
}

/** Eigen-CAM: the map is the activations' first principal projection (h·w), sign fixed by svd_flip; no gradients. */
export const eigencam: CamMethod = {
  name: 'eigencam',
  title: 'Eigen-CAM (arXiv 2008.00299)',
  usesGradients: false,
  defaults: {}, // no options
  rawMap(acts, grads, grid) {
    return firstProjection(acts, grid);
  },
};
