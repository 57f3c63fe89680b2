// cam/hirescam.ts: HiResCAM (arXiv 2011.08891, eq. 3), as pytorch-grad-cam's HiResCAM:
// map[p] = Σ_c g[p,c] · A[p,c] — the gradient times the activation, element by element, summed over channels.
// acts, grads: (h·w, C) row-major.

import type { CamMethod } from './template.js';

/** HiResCAM: map[p] = Σ_c g[p,c] · A[p,c]. */
export const hirescam: CamMethod = {
  name: 'hirescam',
  title: 'HiResCAM (arXiv 2011.08891)',
  usesGradients: true,
  defaults: {}, // no options
  rawMap(acts, grads, grid) {
    const { h, w, C } = grid;
    const map = new Float64Array(h * w);
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += grads[p * C + c] * acts[p * C + c];
      map[p] = s;
    }
    return map;
  },
};
