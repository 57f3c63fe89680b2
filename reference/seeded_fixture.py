"""seeded_fixture.py: values of reference/seeded.py's generator for a few names and seeds, so the TS
twin (src/tensor/rng.ts) is checked bit for bit. Writes reference/fixtures/seeded.{safetensors,json}."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402
from seeded import seeded_uniform  # noqa: E402

CASES = [  # (seed, name, n, scale, offset)
    (0, 'vision_model.embeddings.patch_embedding.weight', 1000, 0.02, 0.0),
    (1234, 'text_model.final_layer_norm.weight', 512, 0.1, 1.0),
    (4294967295, 'ünïcode name', 333, 3.0, -2.0),
    (7, '', 10, 1.0, 0.0),
]


def main():
    out = {}
    for k, (seed, name, n, scale, offset) in enumerate(CASES):
        out[f'case{k}.f32'] = seeded_uniform(seed, name, n, scale, offset, np.float32)
        out[f'case{k}.f64'] = seeded_uniform(seed, name, n, scale, offset, np.float64)
    here = os.path.join(os.path.dirname(__file__), 'fixtures')
    st.save(os.path.join(here, 'seeded.safetensors'), out)
    with open(os.path.join(here, 'seeded.json'), 'w') as f:
        json.dump({'command': 'reference/seeded_fixture.py', 'numpy': np.__version__,
                   'cases': [dict(seed=s, name=nm, n=n, scale=sc, offset=o) for s, nm, n, sc, o in CASES]}, f, indent=1)


if __name__ == '__main__':
    main()
