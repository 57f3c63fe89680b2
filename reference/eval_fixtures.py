"""eval_fixtures.py: reference numbers for src/eval/ computed independently with torch / numpy / scipy.

  /usr/bin/python3 reference/eval_fixtures.py   # writes reference/fixtures/eval.{safetensors,json}

Every input (maps, boxes, images, scorer weights) is stored beside its expected output, one named tensor per
stage, float64 unless stated:
  pointing.*   torchray's rule: point = torch.argmax of the flat map (first maximum); the object is a boolean
               mask with mask[y1:y2, x1:x2] = 1 per box (as torchray's voc_as_mask after its -1); hit when
               (mask & ((v - py)^2 + (u - px)^2 < tol^2)).any(), meshgrid over pixel indices.
  pointing_crop.*  the same on a map in the CLIP centre-crop frame, the point carried to the original with
               Python's int() and round() (torchvision Resize + CenterCrop arithmetic).
  energy.*     share of map mass on pixels whose centre lies in a box (union), numpy.
  causal.*     deletion / insertion curves with a linear scorer score = sum(w * image), order
               np.argsort(-map, kind='stable'), substrate = per-channel mean (float32), np.trapz AUC;
               also RISE's auc() formula on an evenly spaced curve.
  boxiou.*     scipy.ndimage.label (8- and 4-connectivity) of map >= t * max, largest component (ties: lowest
               label = first in raster order), its bounding box, IoU with a box.
  confidence.* Grad-CAM++ average drop and increase from random scores.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.ndimage as ndi
import torch

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), 'fixtures')
SEED = 20240601


def pixel_centre_mask(boxes, H, W):
    """Pixels whose centre (j + .5, i + .5) satisfies x1 <= . < x2, y1 <= . < y2, for any box."""
    jj = np.arange(W) + 0.5
    ii = np.arange(H) + 0.5
    m = np.zeros((H, W), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        m |= ((ii[:, None] >= y1) & (ii[:, None] < y2)) & ((jj[None, :] >= x1) & (jj[None, :] < x2))
    return m


def torchray_hit(mask, px, py, tol):
    v, u = torch.meshgrid(
        (torch.arange(mask.shape[0], dtype=torch.float64) - py) ** 2,
        (torch.arange(mask.shape[1], dtype=torch.float64) - px) ** 2,
        indexing='ij')
    accept = (v + u) < tol ** 2
    return bool((torch.from_numpy(mask) & accept).view(-1).any())


def random_int_boxes(rng, n, H, W):
    out = []
    for _ in range(n):
        x1, x2 = sorted(rng.integers(0, W + 1, size=2))
        y1, y2 = sorted(rng.integers(0, H + 1, size=2))
        out.append([x1, y1, x2, y2])
    return np.array(out, dtype=np.float64)


def pointing(rng, t):
    # 32 maps 20x24 (identity frame); peaky maps, a third quantised so maxima tie; 2 boxes each; tol 6 or 2.
    K, H, W = 32, 20, 24
    maps = rng.random((K, H, W)) ** 4
    maps[::3] = np.round(maps[::3] * 2) / 2  # many ties at 1.0
    boxes = np.stack([random_int_boxes(rng, 2, H, W) for _ in range(K)])
    tols = np.where(np.arange(K) % 2 == 0, 6.0, 2.0)
    hits, points = [], []
    for k in range(K):
        flat = torch.from_numpy(maps[k]).view(-1)
        a = int(torch.argmax(flat))
        # torch.argmax's tie rule, checked rather than assumed: the first maximum.
        assert a == int(np.flatnonzero(maps[k].reshape(-1) == maps[k].max())[0])
        px, py = a % W, a // W
        mask = np.zeros((H, W), dtype=bool)
        for x1, y1, x2, y2 in boxes[k].astype(int):
            mask[y1:y2, x1:x2] = True
        hits.append(1.0 if torchray_hit(mask, px, py, tols[k]) else 0.0)
        points.append([px, py])
    t['pointing.maps'] = maps
    t['pointing.boxes'] = boxes
    t['pointing.tolerance'] = tols
    t['pointing.hit'] = np.array(hits)
    t['pointing.point'] = np.array(points, dtype=np.float64)
    return f'{int(sum(hits))}/{K}'


def clip_crop_geometry(ow, oh, size):
    """torchvision Resize(size) then CenterCrop(size), in Python's own int() and round()."""
    if ow <= oh:
        rw, rh = size, int(size * oh / ow)
    else:
        rw, rh = int(size * ow / oh), size
    return rw, rh, int(round((rw - size) / 2.0)), int(round((rh - size) / 2.0))


def pointing_crop(rng, t):
    # Maps 14x14 over a 56-pixel crop of originals of odd sizes; the point is the map pixel's centre carried
    # to the original, in pixel-index units (centre - 0.5); boxes integer; tolerance 20.
    sizes = np.array([[91, 60], [60, 91], [75, 75], [113, 59], [59, 130], [97, 64], [61, 56], [56, 63]],
                     dtype=np.float64)  # 61x56: offset 2.5 -> 2 (half to even)
    K, h, w, size, tol = len(sizes), 14, 14, 56, 20.0
    maps = rng.random((K, h, w)) ** 4
    boxes, hits, points, geoms = [], [], [], []
    for k in range(K):
        ow, oh = int(sizes[k, 0]), int(sizes[k, 1])
        rw, rh, left, top = clip_crop_geometry(ow, oh, size)
        a = int(np.argmax(maps[k]))
        r, c = a // w, a % w
        px = (left + (c + 0.5) * size / w) * ow / rw - 0.5
        py = (top + (r + 0.5) * size / h) * oh / rh - 0.5
        b = random_int_boxes(rng, 1, oh, ow)
        mask = np.zeros((oh, ow), dtype=bool)
        for x1, y1, x2, y2 in b.astype(int):
            mask[y1:y2, x1:x2] = True
        hits.append(1.0 if torchray_hit(mask, px, py, tol) else 0.0)
        points.append([px, py])
        boxes.append(b[0])
        geoms.append([rw, rh, left, top])
    t['pointing_crop.orig_size'] = sizes
    t['pointing_crop.maps'] = maps
    t['pointing_crop.boxes'] = np.array(boxes)
    t['pointing_crop.geometry'] = np.array(geoms, dtype=np.float64)  # resized w, h, crop left, top
    t['pointing_crop.hit'] = np.array(hits)
    t['pointing_crop.point'] = np.array(points)
    t['pointing_crop.meta'] = np.array([size, tol])
    return f'{int(sum(hits))}/{K}'


def energy(rng, t):
    # 8 maps 12x16, 3 boxes each: integer, fractional and empty ones.
    K, H, W = 8, 12, 16
    maps = rng.random((K, H, W)) ** 2
    maps[K - 1] = 0.0  # all-zero map: defined as 0
    boxes = np.zeros((K, 3, 4))
    for k in range(K):
        b = random_int_boxes(rng, 3, H, W)
        if k % 2 == 1:
            b = b + np.array([0.3, -0.2, 0.7, 0.45])
            b[:, 2] = np.maximum(b[:, 2], b[:, 0])
            b[:, 3] = np.maximum(b[:, 3], b[:, 1])
        boxes[k] = b
    out = []
    for k in range(K):
        m = pixel_centre_mask(boxes[k], H, W)
        total = maps[k].sum()
        out.append(maps[k][m].sum() / total if total > 0 else 0.0)
    t['energy.maps'] = maps
    t['energy.boxes'] = boxes
    t['energy.share'] = np.array(out)


def causal(rng, t):
    # Image (3, 8, 10) float32, linear scorer weights (3, 8, 10); maps with and without ties.
    H, W = 8, 10
    N = H * W
    image = rng.standard_normal((3, H, W)).astype(np.float32)
    weights = rng.standard_normal((3, H, W))
    maps = rng.random((3, H, W))
    maps[1] = np.round(maps[1] * 3) / 3  # ties
    maps[2] = 0.0                        # constant: row-major walk
    substrate = np.empty_like(image)
    for c in range(3):
        substrate[c] = np.float32(image[c].astype(np.float64).sum() / N)

    def curve(map_, mode, steps):
        order = np.argsort(-map_.reshape(-1), kind='stable')
        counts = (np.arange(steps + 1) * N) // steps
        start, finish = (image, substrate) if mode == 'del' else (substrate, image)
        cur = start.reshape(3, N).copy()
        fin = finish.reshape(3, N)
        scores = []
        for k in range(steps + 1):
            if k > 0:
                idx = order[counts[k - 1]:counts[k]]
                cur[:, idx] = fin[:, idx]
            scores.append(float((weights.reshape(3, N) * cur.astype(np.float64)).sum()))
        return counts / N, np.array(scores)

    t['causal.image'] = image
    t['causal.weights'] = weights
    t['causal.maps'] = maps
    for steps in (7, 10, 80):
        for mode in ('del', 'ins'):
            xs_all, ys_all, aucs = [], [], []
            for m in range(3):
                xs, ys = curve(maps[m], mode, steps)
                xs_all.append(xs)
                ys_all.append(ys)
                aucs.append(np.trapz(ys, xs))
                if N % steps == 0:  # evenly spaced: RISE's own formula must agree
                    rise = (ys.sum() - ys[0] / 2 - ys[-1] / 2) / (len(ys) - 1)
                    assert abs(rise - aucs[-1]) <= 1e-12 * max(1.0, abs(rise)), (rise, aucs[-1])
            t[f'causal.{mode}.steps{steps}.fractions'] = np.stack(xs_all)
            t[f'causal.{mode}.steps{steps}.scores'] = np.stack(ys_all)
            t[f'causal.{mode}.steps{steps}.auc'] = np.array(aucs)


def boxiou(rng, t):
    # 10 maps 12x16 with several blobs; thresholds 0.5 and 0.3; 8- and 4-connectivity.
    K, H, W = 10, 12, 16
    maps = ndi.gaussian_filter(rng.random((K, H, W)), sigma=(0, 1.0, 1.0)) ** 3
    gts = []  # a box near each map's peak, of random extent, so IoUs spread over (0, 1)
    for k in range(K):
        r, c = divmod(int(np.argmax(maps[k])), W)
        dx1, dy1, dx2, dy2 = rng.integers(1, 6, size=4)
        gts.append([max(0, c - dx1), max(0, r - dy1), min(W, c + dx2), min(H, r + dy2)])
    gts = np.array(gts, dtype=np.float64)
    t['boxiou.maps'] = maps
    t['boxiou.gt'] = gts
    for conn in (8, 4):
        structure = np.ones((3, 3), dtype=bool) if conn == 8 else ndi.generate_binary_structure(2, 1)
        for thr in (0.5, 0.3):
            boxes, ious, sizes = [], [], []
            for k in range(K):
                keep = maps[k] >= thr * maps[k].max()
                lab, n = ndi.label(keep, structure=structure)
                counts = np.bincount(lab.reshape(-1))[1:]
                best = int(np.argmax(counts))  # first (lowest label) among equals
                sl = ndi.find_objects(lab)[best]
                b = np.array([sl[1].start, sl[0].start, sl[1].stop, sl[0].stop], dtype=np.float64)
                g = gts[k]
                iw = max(0.0, min(b[2], g[2]) - max(b[0], g[0]))
                ih = max(0.0, min(b[3], g[3]) - max(b[1], g[1]))
                inter = iw * ih
                union = (b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
                boxes.append(b)
                ious.append(inter / union if union > 0 else 0.0)
                sizes.append(counts[best])
            key = f'boxiou.conn{conn}.thr{int(thr * 10)}'
            t[f'{key}.box'] = np.stack(boxes)
            t[f'{key}.iou'] = np.array(ious)
            t[f'{key}.size'] = np.array(sizes, dtype=np.float64)
            print(key, 'iou', np.round(ious, 3), 'sizes', sizes)


def confidence(rng, t):
    Y = rng.random(20) * 0.9 + 0.05
    O = np.clip(Y + rng.standard_normal(20) * 0.2, 0.001, 1.0)
    O[3] = Y[3]  # an equal pair: neither drop nor increase
    t['confidence.Y'] = Y
    t['confidence.O'] = O
    t['confidence.average_drop'] = np.array([100.0 * np.mean(np.maximum(0.0, Y - O) / Y)])
    t['confidence.increase'] = np.array([100.0 * np.mean((O > Y).astype(np.float64))])


def main():
    rng = np.random.default_rng(SEED)
    t = {}
    note = f'pointing hits {pointing(rng, t)}, crop frame hits {pointing_crop(rng, t)}'
    energy(rng, t)
    causal(rng, t)
    boxiou(rng, t)
    confidence(rng, t)
    os.makedirs(HERE, exist_ok=True)
    meta = {'made_by': 'reference/eval_fixtures.py', 'seed': str(SEED)}
    st.save(os.path.join(HERE, 'eval.safetensors'), t, meta)
    info = {
        'command': '/usr/bin/python3 reference/eval_fixtures.py',
        'seed': SEED, 'torch': torch.__version__, 'numpy': np.__version__, 'scipy': scipy.__version__,
        'pointing': note, 'tensors': {k: list(np.shape(v)) for k, v in t.items()},
    }
    with open(os.path.join(HERE, 'eval.json'), 'w') as f:
        json.dump(info, f, indent=1)
    print('wrote', os.path.join(HERE, 'eval.safetensors'), len(t), 'tensors;', note)


if __name__ == '__main__':
    main()
