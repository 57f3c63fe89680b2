"""seeded.py: the Python twin of src/tensor/rng.ts — counter-based uniform values, bit-identical.

value(seed, name, i) = offset + scale * (2u - 1),  u = (hash32(key + i) + 0.5) / 2**32,
key = fnv1a32(name) ^ hash32(seed). uint32 arithmetic wraps as Math.imul does in JS.
"""
import numpy as np

M32 = 0xFFFFFFFF


def hash32_np(x):
    """lowbias32 on a uint32 array (wrapping multiply)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x = (x.astype(np.uint64) * np.uint64(0x7FEB352D) & np.uint64(M32)).astype(np.uint32)
    x ^= x >> np.uint32(15)
    x = (x.astype(np.uint64) * np.uint64(0x846CA68B) & np.uint64(M32)).astype(np.uint32)
    x ^= x >> np.uint32(16)
    return x


def hash32(x):
    return int(hash32_np(np.array([x & M32], dtype=np.uint64))[0])


def fnv1a32(name):
    h = 0x811C9DC5
    for b in name.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & M32
    return h


def stream_key(seed, name):
    return (fnv1a32(name) ^ hash32(seed)) & M32


def seeded_uniform(seed, name, n, scale, offset=0.0, dtype=np.float32):
    """n values in (offset - scale, offset + scale), float64 arithmetic, then cast to dtype."""
    key = stream_key(seed, name)
    idx = (np.arange(n, dtype=np.uint64) + np.uint64(key)) & np.uint64(M32)
    u = (hash32_np(idx).astype(np.float64) + 0.5) / 4294967296.0
    return (offset + scale * (2.0 * u - 1.0)).astype(dtype)
