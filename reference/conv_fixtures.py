"""conv_fixtures.py: torch.nn.functional.conv2d and its autograd backward (float64) for the convolution kernels'
test (test/conv_kernels.test.js: the reference loops of src/nn/conv2d.ts, the wasm and gpu.js kernels).

  /usr/bin/python3 reference/conv_fixtures.py   # writes reference/fixtures/conv.{safetensors,json}

Per case (N, C, H, W, O, k, stride, pad, bias): x, w, b and the upstream gradient dy are seeded_uniform(SEED,
'conv.<case>.<name>', n, 1.0) in float64 (reference/seeded.py; the test regenerates them bit for bit with
seededUniform), so only the outputs are stored: <case>.y = conv2d(x, w, b, stride, pad) and, from
y.backward(dy), <case>.dx, <case>.dw, <case>.db. All float64.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402
from seeded import seeded_uniform  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), 'fixtures')
SEED = 20241203
# name: (N, C, H, W, O, k, stride, pad, bias)
CASES = {
    'stem': (2, 3, 9, 8, 5, 3, 2, 1, True),       # a 3x3 stride-2 stem on odd sizes
    'pointwise': (1, 6, 7, 7, 4, 1, 1, 0, False),  # a 1x1 (bottleneck / downsample) conv
    'block': (2, 4, 10, 11, 6, 3, 1, 1, True),     # a 3x3 stride-1 padded conv
    'valid': (1, 5, 12, 13, 3, 3, 2, 0, False),    # a 3x3 stride-2 unpadded conv (rows and columns left over)
}


def seeded(case, name, shape):
    n = int(np.prod(shape))
    return torch.from_numpy(seeded_uniform(SEED, f'conv.{case}.{name}', n, 1.0, 0.0, np.float64)).reshape(shape)


def main():
    tensors, meta = {}, {'note': 'written by reference/conv_fixtures.py', 'seed': SEED, 'torch': torch.__version__,
                         'cases': {}}
    for case, (N, C, H, W, O, k, s, p, bias) in CASES.items():
        x = seeded(case, 'x', (N, C, H, W)).requires_grad_(True)
        w = seeded(case, 'w', (O, C, k, k)).requires_grad_(True)
        b = seeded(case, 'b', (O,)).requires_grad_(True) if bias else None
        y = F.conv2d(x, w, b, stride=s, padding=p)
        dy = seeded(case, 'dy', tuple(y.shape))
        y.backward(dy)
        tensors[f'{case}.y'] = y.detach()
        tensors[f'{case}.dx'] = x.grad
        tensors[f'{case}.dw'] = w.grad
        if bias:
            tensors[f'{case}.db'] = b.grad
        meta['cases'][case] = {'N': N, 'C': C, 'H': H, 'W': W, 'O': O, 'k': k, 'stride': s, 'pad': p, 'bias': bias,
                               'out': list(y.shape)}
    st.save(os.path.join(HERE, 'conv.safetensors'), tensors, {'note': meta['note']})
    with open(os.path.join(HERE, 'conv.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'wrote {len(tensors)} tensors to {HERE}/conv.safetensors')


if __name__ == '__main__':
    main()
