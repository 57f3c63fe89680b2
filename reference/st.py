"""st.py: a minimal safetensors reader/writer for the reference scripts (Debian has no python3-safetensors).

Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, __metadata__},
then the data. The header is padded with spaces to a multiple of 8 so every tensor starts 8-aligned.
"""
import json
import struct

import numpy as np

DTYPES = {
    'F64': np.float64, 'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32,
    'I16': np.int16, 'I8': np.int8, 'U8': np.uint8, 'BOOL': np.bool_, 'U16': np.uint16, 'U32': np.uint32,
    'U64': np.uint64,
}
NP_TO_ST = {np.dtype(v): k for k, v in DTYPES.items()}


def _to_numpy(value):
    if hasattr(value, 'detach'):  # a torch tensor
        import torch
        if value.dtype == torch.bfloat16:
            return value.detach().contiguous().view(torch.int16).numpy().view(np.uint16), 'BF16'
        value = value.detach().cpu().contiguous().numpy()
    arr = np.asarray(value)
    if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d scalar into shape [1])
        arr = arr.copy(order="C")
    return arr, NP_TO_ST[arr.dtype]


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (bfloat16 allowed), written in dict order."""
    header = {}
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        arr, dt = _to_numpy(value)
        raw = arr.tobytes()
        header[name] = {'dtype': dt, 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load(path):
    """Returns (dict name -> numpy array, metadata). BF16 comes back as float32."""
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', None)
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        if info['dtype'] == 'BF16':
            u = np.frombuffer(data[b:e], dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(data[b:e], dtype=DTYPES[info['dtype']])
        out[name] = arr.reshape(info['shape']).copy()
    return out, metadata
