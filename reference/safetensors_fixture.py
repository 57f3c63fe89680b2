"""safetensors_fixture.py: a safetensors file with every dtype, odd shapes and special values, plus a JSON
listing the expected values as text, so the TS reader is checked against an independent channel.

  /usr/bin/python3 reference/safetensors_fixture.py            # writes reference/fixtures/dtypes.{safetensors,json}
  /usr/bin/python3 reference/safetensors_fixture.py --check F  # reads a file the TS writer made, compares
  /usr/bin/python3 reference/safetensors_fixture.py --check F --record OUT.json  # ... and writes what it read
      (names, dtypes, shapes, the file's sha256), the fixture test/safetensors.test.js holds our writer to
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), 'fixtures')
META = {'format': 'pt', 'made_by': 'reference/safetensors_fixture.py'}


def tensors():
    rng = np.random.default_rng(20240529)
    f32 = rng.standard_normal((3, 1, 2)).astype(np.float32)
    f32.flat[1] = np.nan
    f32.flat[2] = np.inf
    f32.flat[3] = -0.0
    f32.flat[4] = np.float32(1e-45)  # smallest subnormal
    return {
        'f32_odd': f32,
        'f64_vec': np.array([math.pi, -1e300, 5e-324, np.nan, -np.inf], dtype=np.float64),
        'f16_mat': np.array([[1.0, -2.5, 65504.0], [6.1e-5, 5.96e-8, np.inf]], dtype=np.float16),
        'bf16_vec': torch.tensor([1.0, -3.140625, 1e38, 1e-38, float('nan')], dtype=torch.bfloat16),
        'i64_big': np.array([2 ** 62 + 3, -(2 ** 63), 0, 9007199254740993], dtype=np.int64),
        'i32': np.arange(-3, 3, dtype=np.int32).reshape(2, 3),
        'i16': np.array([-32768, 32767], dtype=np.int16),
        'i8': np.array([-128, 127, 0], dtype=np.int8),
        'u8_img': np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        'u16': np.array([0, 65535], dtype=np.uint16),
        'u32': np.array([4294967295, 1], dtype=np.uint32),
        'u64': np.array([2 ** 64 - 1], dtype=np.uint64),
        'bool': np.array([True, False, True]),
        'scalar': np.array(7.5, dtype=np.float32),
        'empty': np.zeros((2, 0, 3), dtype=np.float32),
        'one': np.ones((1,), dtype=np.float64),
    }


def as_text(name, value):
    """Expected values as strings a JS reader parses independently (exact for every dtype)."""
    if hasattr(value, 'detach'):  # bf16 torch tensor -> widened float32
        value = value.float().numpy()
    flat = np.asarray(value).reshape(-1)
    if flat.dtype.kind == 'f':
        vals = [repr(float(x)) for x in flat.astype(np.float64)]
    elif flat.dtype.kind == 'b':
        vals = [str(int(x)) for x in flat]
    else:
        vals = [str(int(x)) for x in flat]
    return {'shape': list(np.asarray(value).shape), 'values': vals}


def main():
    if len(sys.argv) in (3, 5) and sys.argv[1] == '--check':
        got, meta = st.load(sys.argv[2])
        want = tensors()
        assert meta == META, meta
        assert list(got) == list(want), (list(got), list(want))
        for name, w in want.items():
            w = w.float().numpy() if hasattr(w, 'detach') else np.asarray(w)
            g = got[name]
            assert g.shape == w.shape, (name, g.shape, w.shape)
            assert np.array_equal(g, w, equal_nan=(w.dtype.kind == 'f')), name
        print(f'ok: {len(want)} tensors in {sys.argv[2]} equal the Python originals, metadata too')
        if len(sys.argv) == 5 and sys.argv[3] == '--record':
            import hashlib
            raw = open(sys.argv[2], 'rb').read()
            header = json.loads(raw[8:8 + int.from_bytes(raw[:8], 'little')].decode('utf-8'))
            record = {'command': 'reference/safetensors_fixture.py --check <our writer\'s file> --record',
                      'result': 'ok: every tensor equals the Python original (NaN where NaN), metadata too',
                      'numpy': np.__version__, 'torch': torch.__version__, 'bytes': len(raw),
                      'sha256': hashlib.sha256(raw).hexdigest(), 'metadata': meta,
                      'tensors': [{'name': k, 'dtype': header[k]['dtype'], 'shape': list(got[k].shape)} for k in got]}
            with open(sys.argv[4], 'w') as f:
                json.dump(record, f, indent=1)
                f.write('\n')
            print('recorded', sys.argv[4])
        return
    os.makedirs(HERE, exist_ok=True)
    ts = tensors()
    st.save(os.path.join(HERE, 'dtypes.safetensors'), ts, META)
    expected = {name: as_text(name, v) for name, v in ts.items()}
    expected_dtypes = {name: (st.NP_TO_ST[np.asarray(v).dtype] if not hasattr(v, 'detach') else 'BF16') for name, v in ts.items()}
    with open(os.path.join(HERE, 'dtypes.json'), 'w') as f:
        json.dump({'command': 'reference/safetensors_fixture.py', 'numpy': np.__version__, 'torch': torch.__version__,
                   'metadata': META, 'dtypes': expected_dtypes, 'tensors': expected}, f, indent=1)
    print('wrote', os.path.join(HERE, 'dtypes.safetensors'))


if __name__ == '__main__':
    main()
