"""scenes.py: the seeded scene generator that the tiny CLIP is trained on and evaluated with.

A scene is a 128 x 128 RGB image of 1-3 flat-coloured shapes (6 kinds x 6 colours) on a muted, textured
background with small achromatic specks, plus per object: its colour, shape, caption, VISIBLE mask (what is
left of it after the objects drawn later occlude it, coverage >= 0.5) and that mask's box. One integer seed
gives one scene (numpy's default_rng(seed)); held-out and training seeds are disjoint ranges (SEED_RANGES).
Held-out scenes are exported once to files (`--export`) that both Python and TypeScript read.

Usage:  python3 reference/scenes.py --export weights/scenes-heldout --count 200
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')

SIZE = 128                 # scenes are SIZE x SIZE pixels (the tiny CLIP sees them resized to 64 x 64)
RING_HOLE = 0.5            # a ring's hole radius, as a fraction of r (its outer radius is 0.95 r)
SUPERSAMPLE = 4            # shapes are rasterised at 4x and box-averaged, so edges are anti-aliased
SHAPES = ['circle', 'square', 'triangle', 'star', 'cross', 'ring']
# name -> (hue in degrees, min value): saturated, well-separated hues; muted backgrounds never reach them.
COLOURS = {
    'red': (0.0, 0.80), 'orange': (28.0, 0.85), 'yellow': (55.0, 0.90),
    'green': (125.0, 0.70), 'blue': (222.0, 0.80), 'purple': (280.0, 0.75),
}
COLOUR_NAMES = list(COLOURS)
HUE_JITTER = 5.0           # degrees, so no colour can drift into its neighbour (closest pair is 27 degrees apart)
OBJECT_SATURATION = (0.75, 1.0)
BACKGROUND_SATURATION = (0.0, 0.2)   # muted: background and specks can never be read as a coloured object
BACKGROUND_VALUE = (0.25, 0.8)
RADIUS = (18.0, 30.0)      # circumradius in pixels (objects 36-60 px across: 2-4 patches of the tiny CLIP)
MAX_ROTATION = 30.0        # degrees either way from upright (a square never becomes a diamond, a cross an X)
MIN_VISIBLE_FRACTION = 0.6  # each object keeps >= 60% of its area visible, so its caption stays true
MIN_VISIBLE_PIXELS = 80
OBJECT_COUNT_WEIGHTS = [1 / 3, 1 / 3, 1 / 3]   # P(1 object), P(2), P(3)
NOISE_PROBABILITY = 1 / 3

# Seeds: one integer per scene. Training draws from [0, 1e9); held-out scenes are 1e9 + i; the shipped
# sample scene is 2e9 + k. The ranges never meet, so held-out scenes are never trained on.
SEED_RANGES = {'train': (0, 1_000_000_000), 'heldout': (1_000_000_000, 1_100_000_000),
               'sample': (2_000_000_000, 2_000_001_000)}


def article(colour):
    return 'an' if colour[0] in 'aeiou' else 'a'


def object_caption(colour, shape):
    """'a red circle', 'an orange star'."""
    return f'{article(colour)} {colour} {shape}'


def join_captions(parts):
    """['a red circle'] -> 'a red circle'; two -> 'x and y'; three -> 'x, y and z'."""
    if len(parts) == 1:
        return parts[0]
    return ', '.join(parts[:-1]) + ' and ' + parts[-1]


# Every single-object caption, colour-major: the zero-shot classes (index = colour_index * 6 + shape_index).
ALL_OBJECT_CAPTIONS = [object_caption(c, s) for c in COLOUR_NAMES for s in SHAPES]


def hsv_to_rgb(h, s, v):
    """h in degrees, s and v in [0, 1] -> (r, g, b) floats (the standard hexcone model)."""
    h = (h % 360.0) / 60.0
    i = int(math.floor(h)) % 6
    f = h - math.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def shape_polygon(shape, cx, cy, r, rot):
    """Vertices (x, y) in pixels of a shape with circumradius ~r centred at (cx, cy), rotated by rot radians."""
    if shape == 'circle':
        pts = [(0.92 * math.cos(2 * math.pi * k / 64), 0.92 * math.sin(2 * math.pi * k / 64)) for k in range(64)]
    elif shape == 'square':
        a = 0.78
        pts = [(-a, -a), (a, -a), (a, a), (-a, a)]
    elif shape == 'triangle':
        pts = [(1.1 * math.cos(-math.pi / 2 + 2 * math.pi * k / 3), 1.1 * math.sin(-math.pi / 2 + 2 * math.pi * k / 3))
               for k in range(3)]
    elif shape == 'star':
        pts = []
        for k in range(10):
            rad = 1.05 if k % 2 == 0 else 0.42
            ang = -math.pi / 2 + math.pi * k / 5
            pts.append((rad * math.cos(ang), rad * math.sin(ang)))
    elif shape == 'cross':
        w, h = 0.32, 0.95
        pts = [(-w, -h), (w, -h), (w, -w), (h, -w), (h, w), (w, w), (w, h), (-w, h), (-w, w), (-h, w), (-h, -w),
               (-w, -w)]
    elif shape == 'ring':      # the outer circle; coverage() cuts the hole (radius RING_HOLE)
        pts = [(0.95 * math.cos(2 * math.pi * k / 64), 0.95 * math.sin(2 * math.pi * k / 64)) for k in range(64)]
    else:
        raise ValueError(f'unknown shape {shape!r}: expected one of {SHAPES}')
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def coverage(shape, cx, cy, r, rot, size=SIZE):
    """(size, size) float32 in [0, 1]: the fraction of each pixel the shape covers (4x4 supersampled), and the
    region (y0, y1, x0, x1) outside which it is zero.
    Pixel (i, j) is the square [j, j+1) x [i, i+1); only the shape's bounding square is rasterised."""
    x0, y0 = max(0, int(math.floor(cx - 1.2 * r))), max(0, int(math.floor(cy - 1.2 * r)))
    x1, y1 = min(size, int(math.ceil(cx + 1.2 * r)) + 1), min(size, int(math.ceil(cy + 1.2 * r)) + 1)
    ss = SUPERSAMPLE
    canvas = Image.new('L', ((x1 - x0) * ss, (y1 - y0) * ss), 0)
    # Sub-pixel (u, v) has its centre at ((u + 0.5) / ss, (v + 0.5) / ss) in pixels; PIL fills the sub-pixels whose
    # integer coordinates lie inside or on the polygon, hence the half-sub-pixel shift.
    poly = [((x - x0) * ss - 0.5, (y - y0) * ss - 0.5) for x, y in shape_polygon(shape, cx, cy, r, rot)]
    draw = ImageDraw.Draw(canvas)
    draw.polygon(poly, fill=255)
    if shape == 'ring':
        inner = [((cx + RING_HOLE * r * math.cos(2 * math.pi * k / 64) - x0) * ss - 0.5,
                  (cy + RING_HOLE * r * math.sin(2 * math.pi * k / 64) - y0) * ss - 0.5) for k in range(64)]
        draw.polygon(inner, fill=0)
    sub = np.asarray(canvas, dtype=np.float32).reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3)) / 255.0
    out = np.zeros((size, size), np.float32)
    out[y0:y1, x0:x1] = sub
    return out, (y0, y1, x0, x1)


_CENTRES = {}


def pixel_centres(size):
    """(yy, xx), each (size, size) float32: the coordinates of pixel centres, i + 0.5 and j + 0.5."""
    if size not in _CENTRES:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + np.float32(0.5)
        _CENTRES[size] = (yy, xx)
    return _CENTRES[size]


def background(rng, size=SIZE):
    """A muted base gradient plus one texture (stripes, checks, value noise or none), plus grey specks."""
    yy, xx = pixel_centres(size)
    hue = rng.uniform(0, 360)
    c0 = np.array(hsv_to_rgb(hue, rng.uniform(*BACKGROUND_SATURATION), rng.uniform(*BACKGROUND_VALUE)), np.float32)
    c1 = np.array(hsv_to_rgb(hue + rng.uniform(-60, 60), rng.uniform(*BACKGROUND_SATURATION),
                             rng.uniform(*BACKGROUND_VALUE)), np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    t = (((xx - size / 2) * math.cos(ang) + (yy - size / 2) * math.sin(ang)) / size + 0.5)[..., None]  # 0..1
    img = c0 * (1 - t) + c1 * t
    kind = rng.integers(0, 4)
    amp = rng.uniform(0.04, 0.12)
    if kind == 0:    # stripes at a random angle and period
        period, a2 = rng.uniform(5, 18), rng.uniform(0, math.pi)
        tex = np.sin(2 * math.pi * (xx * math.cos(a2) + yy * math.sin(a2)) / period)
    elif kind == 1:  # a low-contrast checkerboard
        cell = int(rng.integers(6, 17))
        tex = ((xx // cell + yy // cell) % 2) * 2 - 1
    elif kind == 2:  # smooth value noise: a coarse random grid, bilinearly upsampled by PIL
        g = int(rng.integers(4, 12))
        grid = rng.uniform(-1, 1, (g, g)).astype(np.float32)
        tex = np.asarray(Image.fromarray(grid, 'F').resize((size, size), Image.BILINEAR))
    else:
        tex = np.zeros_like(xx)
    img = img + np.float32(amp) * tex[..., None]
    # Specks: 0-24 tiny achromatic dots and short lines (<= 5 px), never a coloured object look-alike.
    for _ in range(int(rng.integers(0, 25))):
        grey = rng.uniform(0.05, 0.95)
        x, y = int(rng.integers(0, size)), int(rng.integers(0, size))
        if rng.uniform() < 0.5:
            k = int(rng.integers(1, 3))
            img[y:y + k, x:x + k] = grey
        else:
            length, d = int(rng.integers(3, 6)), [(1, 0), (0, 1), (1, 1), (1, -1)][int(rng.integers(0, 4))]
            for s in range(length):
                u, v = x + s * d[0], y + s * d[1]
                if 0 <= u < size and 0 <= v < size:
                    img[v, u] = grey
    return img


def render_scene(seed, size=SIZE):
    """One scene from one seed. Returns dict(seed, image (H,W,3) uint8, caption, objects=[dict(colour, shape,
    caption, mask (H,W) bool visible, box [x1,y1,x2,y2] of the visible mask with exclusive x2/y2, area,
    centre, radius, rotation)]) with objects in drawing order (later ones occlude earlier ones)."""
    rng = np.random.default_rng(seed)
    count = int(rng.choice(3, p=OBJECT_COUNT_WEIGHTS)) + 1
    img = background(rng, size)
    placed = []   # dicts with params and full coverage `cov`
    used = set()
    for _ in range(count):
        for _attempt in range(60):
            colour, shape = COLOUR_NAMES[int(rng.integers(0, 6))], SHAPES[int(rng.integers(0, 6))]
            r = rng.uniform(*RADIUS)
            cx, cy = rng.uniform(1.1 * r, size - 1.1 * r), rng.uniform(1.1 * r, size - 1.1 * r)
            rot = math.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
            if (colour, shape) in used:
                continue
            # Same-coloured objects must not touch, or two shapes would merge into one blob.
            if any(p['colour'] == colour and math.hypot(p['cx'] - cx, p['cy'] - cy) < 1.2 * (p['r'] + r) + 2
                   for p in placed):
                continue
            cov, region = coverage(shape, cx, cy, r, rot, size)
            trial = placed + [dict(colour=colour, shape=shape, cx=cx, cy=cy, r=r, rot=rot, cov=cov, region=region)]
            vis = visible_masks([p['cov'] for p in trial])
            if all(v.sum() >= max(MIN_VISIBLE_PIXELS, MIN_VISIBLE_FRACTION * (p['cov'] >= 0.5).sum())
                   for v, p in zip(vis, trial)):
                placed = trial
                used.add((colour, shape))
                break
        # (after 60 failed attempts the scene simply has fewer objects, and its caption says so; this did not
        #  happen in the first 600 held-out scenes)
    yy, xx = pixel_centres(size)
    for p in placed:
        hue, vmin = COLOURS[p['colour']]
        rgb = np.array(hsv_to_rgb(hue + rng.uniform(-HUE_JITTER, HUE_JITTER), rng.uniform(*OBJECT_SATURATION),
                                  rng.uniform(vmin, 1.0)), np.float32)
        # gentle shading: brightness varies +-8% across the object in a random direction
        a = rng.uniform(0, 2 * math.pi)
        y0, y1, x0, x1 = p['region']
        sy, sx = slice(y0, y1), slice(x0, x1)
        shade = 1 + 0.08 * ((xx[sy, sx] - p['cx']) * math.cos(a) + (yy[sy, sx] - p['cy']) * math.sin(a)) / p['r']
        col = np.clip(rgb * shade[..., None], 0, 1)
        cov = p['cov'][sy, sx, None]
        img[sy, sx] = img[sy, sx] * (1 - cov) + col * cov
    # sensor noise in a third of the scenes: uniform, standard deviation 0.005-0.02 (noise-free scenes keep the
    # exported PNGs small)
    if rng.uniform() < NOISE_PROBABILITY:
        noise = rng.uniform(0.005, 0.02) * math.sqrt(12)
        img += (rng.random(img.shape, np.float32) - np.float32(0.5)) * np.float32(noise)
    image = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    vis = visible_masks([p['cov'] for p in placed])
    objects = []
    for p, m in zip(placed, vis):
        ys, xs = np.nonzero(m)
        objects.append(dict(colour=p['colour'], shape=p['shape'], caption=object_caption(p['colour'], p['shape']),
                            mask=m, box=[int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
                            area=int(m.sum()), centre=[p['cx'], p['cy']], radius=p['r'], rotation=p['rot']))
    return dict(seed=int(seed), image=image, objects=objects, caption=scene_caption(objects))


def visible_masks(covs):
    """Visible mask of each object (drawing order): its coverage >= 0.5 minus every later object's."""
    masks = [c >= 0.5 for c in covs]
    out = []
    for k, m in enumerate(masks):
        v = m.copy()
        for later in masks[k + 1:]:
            v &= ~later
        out.append(v)
    return out


def scene_caption(objects):
    """All objects, left to right by the centre of their visible box: 'a red circle and a blue square'."""
    order = sorted(objects, key=lambda o: (o['box'][0] + o['box'][2], o['box'][1] + o['box'][3]))
    return join_captions([o['caption'] for o in order])


def export(out_dir, first_seed, count):
    """Writes scene_NNNN.png, scene_NNNN_objK.png (visible masks, 0/255 greyscale) and annotations.json."""
    os.makedirs(out_dir, exist_ok=True)
    scenes = []
    for i in range(count):
        sc = render_scene(first_seed + i)
        name = f'scene_{i:04d}'
        Image.fromarray(sc['image']).save(os.path.join(out_dir, name + '.png'), optimize=True)
        objs = []
        for k, o in enumerate(sc['objects']):
            mask_file = f'{name}_obj{k}.png'
            Image.fromarray(o['mask'].astype(np.uint8) * 255).save(os.path.join(out_dir, mask_file), optimize=True)
            objs.append(dict(colour=o['colour'], shape=o['shape'], caption=o['caption'],
                             class_index=ALL_OBJECT_CAPTIONS.index(o['caption']), box_xyxy=o['box'],
                             mask=mask_file, area=o['area']))
        scenes.append(dict(file=name + '.png', seed=sc['seed'], width=SIZE, height=SIZE, caption=sc['caption'],
                           objects=objs))
    ann = dict(
        note=('Held-out scenes of reference/scenes.py, never used in training. Objects are listed in drawing '
              'order (later ones occlude earlier ones). Each mask is the VISIBLE part of its object after '
              'occlusion (anti-aliased coverage >= 0.5, minus later objects), as a 0/255 greyscale PNG; '
              'box_xyxy is that mask\'s tight box in pixels, x2 and y2 exclusive (x2 = last column + 1). '
              'caption names all objects left to right; class_index indexes object_captions.'),
        generator='reference/scenes.py',
        command=(f'python3 reference/scenes.py --export {os.path.relpath(out_dir, REPO)} --count {count} '
                 f'--first-seed {first_seed}'),
        numpy=np.__version__, first_seed=first_seed, count=count, size=SIZE,
        object_captions=ALL_OBJECT_CAPTIONS, colours=COLOUR_NAMES, shapes=SHAPES, scenes=scenes)
    with open(os.path.join(out_dir, 'annotations.json'), 'w') as f:
        json.dump(ann, f, indent=1)
    return ann


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--export', required=True, help='output folder')
    ap.add_argument('--count', type=int, default=200)
    ap.add_argument('--first-seed', type=int, default=SEED_RANGES['heldout'][0])
    args = ap.parse_args()
    ann = export(args.export, args.first_seed, args.count)
    print(f"wrote {len(ann['scenes'])} scenes to {args.export}")


if __name__ == '__main__':
    main()
