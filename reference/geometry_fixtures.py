#!/usr/bin/env python3
"""geometry_fixtures.py: non-square reference outputs for sizes given as (H, W) (test/geometry.test.js reads them).

Writes reference/fixtures/geometry.json (small, plain JSON). Run from anywhere:
    /usr/bin/python3 reference/geometry_fixtures.py
Needs numpy, PIL, torch, torchvision (Debian: python3-torchvision) and OpenCV (python3-opencv).
  crop:    torchvision's own Resize(S, BICUBIC) and CenterCrop(S), run (not re-derived): the resized (H', W')
           read from the PIL image Resize returns, the crop's top/left read back from an index image.
  frame:   where each pixel centre of a non-square (mapH, mapW) map over that crop lies in the original,
           in continuous coordinates: x = (left + (c + 0.5)·S/mapW)·W/W', y likewise.
  resize:  PIL Image.resize((W, H), BICUBIC) of a 3×5 RGB image to non-square sizes.
  jet:     cv2.applyColorMap(np.uint8(255·map), COLORMAP_JET) → RGB of a 3×5 map.
"""
import json
import os

import cv2
import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

SEED = 20240603
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'fixtures', 'geometry.json')

# (H, W, S): landscape and portrait, margins odd (ties both ways: 2.5 → 2, 3.5 → 4) and even, truncated long
# sides, CLIP-like photo sizes at 224, and a square image.
CROPS = [(3, 5, 2), (5, 3, 2), (41, 53, 32), (20, 33, 10), (10, 15, 10), (10, 17, 10), (25, 10, 10),
         (56, 61, 56), (63, 56, 56), (480, 640, 224), (375, 500, 224), (500, 333, 224), (224, 229, 224),
         (231, 224, 224), (75, 75, 56)]
FRAME_MAP = (2, 4)  # (mapH, mapW): a non-square map, so a swapped pair of sizes moves every point


def torchvision_crop(H, W, S):
    img = Image.new('RGB', (W, H))  # PIL sizes are (W, H)
    rw, rh = T.Resize(S, interpolation=T.InterpolationMode.BICUBIC)(img).size
    index = torch.arange(rh * rw, dtype=torch.float64).reshape(1, rh, rw)
    first = int(T.CenterCrop(S)(index)[0, 0, 0])
    top, left = divmod(first, rw)
    return {'H': H, 'W': W, 'S': S, 'resized': [rh, rw], 'top': top, 'left': left}


def frame_points(c):
    mh, mw = FRAME_MAP
    (rh, rw), S = c['resized'], c['S']
    pts = [[(c['left'] + (j + 0.5) * S / mw) * c['W'] / rw, (c['top'] + (i + 0.5) * S / mh) * c['H'] / rh]
           for i in range(mh) for j in range(mw)]
    return {'H': c['H'], 'W': c['W'], 'S': S, 'map': [mh, mw], 'points_xy': pts}


def main():
    rng = np.random.default_rng(SEED)
    crops = [torchvision_crop(*c) for c in CROPS]
    img = rng.integers(0, 256, (3, 5, 3)).astype(np.uint8)
    resizes = [{'to': [h, w], 'out': np.array(Image.fromarray(img).resize((w, h), Image.BICUBIC)).ravel().tolist()}
               for h, w in [(4, 7), (6, 2), (3, 9), (1, 5)]]
    jet_map = rng.random((3, 5)).astype(np.float32)
    jet_map[0, 0], jet_map[2, 4] = 0.0, 1.0  # the two ends of the table, at two distinguishable corners
    heat = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * jet_map), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    out = {
        'note': 'written by reference/geometry_fixtures.py; every size is (H, W) unless named PIL-style',
        'versions': {'torchvision': torchvision.__version__, 'torch': torch.__version__, 'PIL': PIL.__version__,
                     'numpy': np.__version__, 'opencv': cv2.__version__},
        'crop': crops,
        'frame': [frame_points(c) for c in crops],
        'resize': {'in_shape': list(img.shape), 'in': img.ravel().tolist(), 'cases': resizes},
        'jet': {'shape': list(jet_map.shape), 'map': [float(v) for v in jet_map.ravel()],
                'rgb': heat.ravel().tolist()},
    }
    with open(OUT, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {OUT}: {len(crops)} crops, {len(resizes)} resizes, jet {jet_map.shape}')
    for c in crops:
        print(f"  ({c['H']}, {c['W']}) at {c['S']}: resized {tuple(c['resized'])}, top {c['top']}, left {c['left']}")


if __name__ == '__main__':
    main()
