// cam/layercam.ts: Layer-CAM (Jiang et al., IEEE TIP 2021, eq. 5), as pytorch-grad-cam's LayerCAM:
// map[p] = Σ_c ReLU(g[p,c]) · A[p,c] — a weight per position and channel.  acts, grads: (h·w, C) row-major.

import type { CamMethod } from './template.js';

/** Layer-CAM: map[p] = Σ_c ReLU(g[p,c]) · A[p,c]. */
export const layercam: CamMethod = {
  name: 'layercam',
  title: 'Layer-CAM (IEEE TIP 2021)',
  usesGradients: true,
  defaults: {}, // no options
  rawMap(acts, grads, grid) {
    const { h, w, C } = grid;
    const map = new Float64Array(h * w);
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.max(grads[p * C + c], 0) * acts[p * C + c];
      map[p] = s;
    }
    return map;
  },
};
