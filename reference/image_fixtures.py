#!/usr/bin/env python3
"""image_fixtures.py: reference outputs for src/image/ (test/image.test.js reads them).

Writes reference/fixtures/image.<name>.png|jpg (small synthetic inputs), image.safetensors (one named tensor
per stage) and image.json (seed, versions, command, notes). Run from anywhere:
    /usr/bin/python3 reference/image_fixtures.py
Needs numpy, PIL, torch, scipy and OpenCV (Debian: python3-opencv). torchvision is not installed here, so
CLIP's `_transform` (Resize(n, BICUBIC) → CenterCrop(n) → RGB → ToTensor → Normalize) is reproduced below with
PIL and torch following torchvision's rules; pytorch-grad-cam is not installed either, so its
`show_cam_on_image` is reproduced with cv2 and numpy line by line.
"""
import json
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import PIL
import scipy
import scipy.ndimage
import torch
import torch.nn.functional as F
from PIL import Image, features

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

SEED = 20240528
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'fixtures')
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

rng = np.random.default_rng(SEED)
tensors = {}
params = {'blur': {}, 'overlay': {}}  # per case, written to image.json for the test


def path_of(name):
    return os.path.join(OUT, 'image.' + name)


# ---------------------------------------------------------------------------------------------------------
# Synthetic content: smooth colour gradients, a few hard-edged shapes (they make bicubic overshoot, so the
# clipping paths run), and mild noise. Returns uint8 (H, W, 3).
def scene(h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / max(w, 1) * 5.1 + y / max(h, 1) * 1.3)
    g = 255.0 * (y / max(h - 1, 1))
    b = 127.5 + 127.5 * np.cos((x - y) / max(w, h, 1) * 7.7)
    img = np.stack([r, g, b], -1)
    img[(x - w * 0.3) ** 2 + (y - h * 0.4) ** 2 < (min(h, w) * 0.2) ** 2] = (255, 0, 0)
    img[(abs(x - w * 0.7) < w * 0.12) & (abs(y - h * 0.6) < h * 0.2)] = (0, 0, 255)
    img[::7, :] = 255 - img[::7, :]  # thin stripes: sharp edges everywhere
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# A minimal PNG writer for what PIL cannot write: 2/4/16-bit, tRNS on grey/RGB, Adam7 interlacing.
# Rows are stored with filter type 0 (PIL-written files below cover the other filters).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def pack_rows(a, depth):
    """a: (h, w, c) ints → bytes of filtered (type 0) scanlines."""
    out = bytearray()
    for row in a:
        out.append(0)
        flat = row.reshape(-1)
        if depth == 16:
            out += flat.astype('>u2').tobytes()
        elif depth == 8:
            out += flat.astype(np.uint8).tobytes()
        else:
            per = 8 // depth
            for i in range(0, len(flat), per):
                byte = 0
                for j in range(per):
                    v = int(flat[i + j]) if i + j < len(flat) else 0
                    byte |= v << (8 - depth * (j + 1))
                out.append(byte)
    return bytes(out)


def write_png(name, a, color_type, depth, palette=None, trns=None, interlace=False):
    h, w = a.shape[:2]
    if a.ndim == 2:
        a = a[:, :, None]

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

    if interlace:
        raw = b''.join(pack_rows(a[ys::sy, xs::sx], depth)
                       for xs, ys, sx, sy in ADAM7 if a[ys::sy, xs::sx].size)
    else:
        raw = pack_rows(a, depth)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        png += chunk(b'PLTE', bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b'tRNS', trns)
    png += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    with open(path_of(name), 'wb') as f:
        f.write(png)


# A JPEG whose APP0 "JFIF" segment is replaced by an APP14 "Adobe" one with the given transform byte: libjpeg
# then reads 3 components as YCbCr (transform 1) or as RGB with no colour conversion (transform 0).
def adobe_instead_of_jfif(jpg, transform):
    assert jpg[2:4] == b'\xff\xe0' and jpg[6:11] == b'JFIF\0'
    app0_end = 4 + struct.unpack('>H', jpg[4:6])[0]
    app14 = b'\xff\xee' + struct.pack('>H', 14) + b'Adobe' + struct.pack('>HHHB', 100, 0, 0, transform)
    return jpg[:2] + app14 + jpg[app0_end:]


# ---------------------------------------------------------------------------------------------------------
# 1. Inputs, and what PIL decodes them to: np.array(Image.open(f).convert('RGB')).
def make_inputs():
    base = scene(41, 53)
    Image.fromarray(base).save(path_of('rgb8.png'))
    Image.fromarray(scene(200, 300)).save(path_of('big.png'))
    Image.fromarray(scene(27, 31)[:, :, 1]).save(path_of('gray8.png'))
    la = np.stack([scene(17, 19)[:, :, 0], rng.integers(0, 256, (17, 19))], -1).astype(np.uint8)
    Image.fromarray(la, 'LA').save(path_of('la8.png'))
    rgba = np.concatenate([scene(19, 23), rng.integers(0, 256, (19, 23, 1))], -1).astype(np.uint8)
    rgba[0, :, 3] = 0  # fully transparent pixels keep their colour under convert('RGB')
    Image.fromarray(rgba, 'RGBA').save(path_of('rgba8.png'))
    pal = Image.fromarray(scene(21, 25)).quantize(200)
    pal.save(path_of('palette8.png'), transparency=bytes(rng.integers(0, 256, 200).astype(np.uint8)))
    pal4 = Image.fromarray(scene(21, 25)).quantize(16)
    pal4.save(path_of('palette4.png'), bits=4)
    Image.fromarray(scene(13, 29)[:, :, 0] > 128).save(path_of('bw1.png'))
    write_png('gray2.png', rng.integers(0, 4, (9, 11)), 0, 2)
    write_png('gray4.png', (scene(27, 17)[:, :, 2] >> 4), 0, 4)  # tall: 17 wide, 27 high
    g16 = rng.integers(0, 65536, (10, 12))
    g16[0, :6] = [0, 1, 254, 255, 256, 65535]  # PIL 9.4 clips 16-bit grey to 255
    write_png('gray16.png', g16, 0, 16)
    write_png('rgb16.png', rng.integers(0, 65536, (11, 13, 3)), 2, 16)
    write_png('rgba16.png', rng.integers(0, 65536, (9, 7, 4)), 6, 16)
    write_png('la16.png', rng.integers(0, 65536, (8, 9, 2)), 4, 16)
    rgbt = scene(12, 14)
    rgbt[3, 3:8] = (10, 20, 30)  # the tRNS colour is present: convert('RGB') keeps it
    write_png('rgb_trns.png', rgbt, 2, 8, trns=struct.pack('>HHH', 10, 20, 30))
    grayt = rng.integers(0, 256, (10, 10))
    grayt[2, :] = 77
    write_png('gray_trns.png', grayt, 0, 8, trns=struct.pack('>H', 77))
    write_png('interlaced_rgb8.png', scene(11, 13), 2, 8, interlace=True)
    write_png('interlaced_gray4.png', rng.integers(0, 16, (19, 10)), 0, 4, interlace=True)
    write_png('interlaced_pal2.png', rng.integers(0, 4, (6, 5)), 3, 2,
              palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199)], interlace=True)
    photo = scene(48, 64)
    Image.fromarray(photo).save(path_of('q95_444.jpg'), quality=95, subsampling=0)
    Image.fromarray(photo).save(path_of('q90_420.jpg'), quality=90, subsampling=2)
    Image.fromarray(photo).save(path_of('progressive_420.jpg'), quality=90, subsampling=2, progressive=True)
    Image.fromarray(photo[:, :, 1]).save(path_of('gray.jpg'), quality=90)
    Image.fromarray(photo).save(path_of('q90_422.jpg'), quality=90, subsampling=1)
    Image.fromarray(scene(23, 37)).save(path_of('odd_420.jpg'), quality=85, subsampling=2)
    Image.fromarray(scene(7, 3)).save(path_of('narrow_420.jpg'), quality=90, subsampling=2)  # libjpeg: no fancy
    with open(path_of('odd_420.jpg'), 'rb') as f:
        jpg = f.read()
    for transform, name in [(1, 'adobe_ycc.jpg'), (0, 'adobe_rgb.jpg')]:
        with open(path_of(name), 'wb') as f:
            f.write(adobe_instead_of_jfif(jpg, transform))

    names = sorted(f[len('image.'):] for f in os.listdir(OUT)
                   if f.startswith('image.') and f.endswith(('.png', '.jpg')))
    for name in names:
        with Image.open(path_of(name)) as im:
            tensors['decode.' + name] = np.array(im.convert('RGB'))
    return names


# ---------------------------------------------------------------------------------------------------------
# 2. PIL's resize, Image.resize((w, h), Image.BICUBIC), of decoded RGB images.
RESIZES = {'rgb8.png': [(20, 30), (7, 5), (97, 80), (53, 17), (11, 41), (53, 41), (1, 1), (106, 20)],
           'gray8.png': [(16, 40)], 'q95_444.jpg': [(33, 21)]}


def make_resizes():
    for name, sizes in RESIZES.items():
        img = Image.fromarray(tensors['decode.' + name])
        for w, h in sizes:
            tensors[f'resize.{name}.{w}x{h}'] = np.array(img.resize((w, h), Image.BICUBIC))


# ---------------------------------------------------------------------------------------------------------
# 3. CLIP's _transform(n) in torchvision's rules (torchvision is not installed here):
#    Resize(n, BICUBIC): short side → n, long side → int(n * long / short); skipped if already that size.
#    CenterCrop(n): top = int(round((h - n) / 2.0)), left likewise (Python round: half to even).
#    ToTensor: uint8 → float32 / 255, (3, H, W).  Normalize: (x - mean) / std with float32 mean and std.
def tv_resize(img, n):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = n, int(n * long / short)
    ow, oh = (new_short, new_long) if w <= h else (new_long, new_short)
    return img if (ow, oh) == (w, h) else img.resize((ow, oh), Image.BICUBIC)


def tv_center_crop(img, n):
    w, h = img.size
    top = int(round((h - n) / 2.0))
    left = int(round((w - n) / 2.0))
    return img.crop((left, top, left + n, top + n))


def tv_to_tensor_normalize(img, dtype):
    t = torch.from_numpy(np.array(img, np.uint8)).permute(2, 0, 1).contiguous().to(dtype).div(255)
    mean = torch.as_tensor(CLIP_MEAN, dtype=dtype)[:, None, None]
    std = torch.as_tensor(CLIP_STD, dtype=dtype)[:, None, None]
    return t, t.sub(mean).div(std)


PREPROCESS = [('rgb8.png', 32, True), ('rgb8.png', 64, False), ('gray8.png', 24, False), ('rgba8.png', 16, False),
              ('gray4.png', 16, False), ('big.png', 224, False), ('q95_444.jpg', 32, False)]


def make_preprocess(notes):
    for name, n, with_f64 in PREPROCESS:
        img = Image.open(path_of(name)).convert('RGB')
        resized = tv_resize(img, n)
        crop = tv_center_crop(resized, n)
        key = f'preprocess.{name}.{n}'
        tensors[key + '.resized'] = np.array(resized)
        tensors[key + '.crop'] = np.array(crop)
        rgb01, norm = tv_to_tensor_normalize(crop, torch.float32)
        if n <= 64:  # the 224 case would add 600 kB for a stage the small cases already cover
            tensors[key + '.rgb01'] = rgb01
        tensors[key + '.f32'] = norm
        if with_f64:
            tensors[key + '.f64'] = tv_to_tensor_normalize(crop, torch.float64)[1]
    # For the record: CLIP itself resizes in the file's own mode and converts to RGB after the crop. For RGB,
    # L and JPEG files that is the same; for RGBA/LA (premultiplied resize) and P (nearest resize) it is not.
    for name in ['rgba8.png', 'la8.png', 'palette8.png']:
        im = Image.open(path_of(name))
        clip_order = np.array(tv_center_crop(tv_resize(im, 16), 16).convert('RGB')).astype(int)
        ours = np.array(tv_center_crop(tv_resize(im.convert('RGB'), 16), 16)).astype(int)
        notes[f'clip_order_vs_rgb_first.{name}'] = (
            f'mode {im.mode}: max |diff| {np.abs(clip_order - ours).max()} levels, '
            f'{(clip_order != ours).mean() * 100:.1f}% of values differ (n=16)')


# ---------------------------------------------------------------------------------------------------------
# 4. torch.nn.functional.interpolate(x[None], size, mode, align_corners=False)[0], float32 and float64.
UPSAMPLE = [('14x14_to_224x224', (1, 14, 14), (224, 224)), ('5x9_to_37x61', (2, 5, 9), (37, 61)),
            ('10x12_to_4x5', (1, 10, 12), (4, 5)), ('1x1_to_5x3', (1, 1, 1), (5, 3)),
            ('3x4_to_3x4', (2, 3, 4), (3, 4)), ('7x7_to_20x13', (1, 7, 7), (20, 13))]


def make_upsample():
    for mode in ['bicubic', 'bilinear']:
        for case, in_shape, size in UPSAMPLE:
            x = rng.standard_normal(in_shape)
            x[x < -0.5] = 0  # ReLU'd maps have flat zero regions
            for dt, tdt in [('f32', torch.float32), ('f64', torch.float64)]:
                if dt == 'f64' and case == '14x14_to_224x224':
                    continue  # keep the fixture small: the f32 case and the other f64 cases cover it
                xt = torch.from_numpy(x).to(tdt)
                y = F.interpolate(xt[None], size=size, mode=mode, align_corners=False)[0]
                tensors[f'upsample.{mode}.{case}.{dt}.in'] = xt
                tensors[f'upsample.{mode}.{case}.{dt}.out'] = y
                if dt == 'f32' and (mode, case) != ('bilinear', '14x14_to_224x224'):
                    # the same f32 input computed in float64, then rounded: free of torch's float32 noise
                    y64 = F.interpolate(xt[None].double(), size=size, mode=mode, align_corners=False)[0]
                    tensors[f'upsample.{mode}.{case}.{dt}.exact'] = y64.float()


# ---------------------------------------------------------------------------------------------------------
# 5. scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate); sigma 0 on the channel axis of (3,H,W).
BLUR = [('40x30_s10', (40, 30), 10.0, 4.0), ('23x17_s1.5', (23, 17), 1.5, 4.0), ('23x17_s0.7', (23, 17), 0.7, 4.0),
        ('5x3_s10', (5, 3), 10.0, 4.0), ('1x7_s2', (1, 7), 2.0, 4.0), ('16x16_s3_t2.5', (16, 16), 3.0, 2.5),
        ('c3_24x20_s10', (3, 24, 20), 10.0, 4.0), ('c3_64x48_s3', (3, 64, 48), 3.0, 4.0)]


def make_blur():
    for case, shape, sigma, truncate in BLUR:
        x = rng.random(shape)
        sig = (0.0, sigma, sigma) if len(shape) == 3 else sigma
        params['blur'][case] = {'sigma': sigma, 'truncate': truncate}
        for dt, npdt in [('f32', np.float32), ('f64', np.float64)]:
            xin = x.astype(npdt)
            y = scipy.ndimage.gaussian_filter(xin, sig, mode='reflect', truncate=truncate)
            assert y.dtype == npdt
            tensors[f'blur.{case}.{dt}.in'] = xin
            tensors[f'blur.{case}.{dt}.out'] = y


# ---------------------------------------------------------------------------------------------------------
# 6. OpenCV's COLORMAP_JET table and pytorch-grad-cam's show_cam_on_image(img, mask, use_rgb=True,
#    colormap=cv2.COLORMAP_JET, image_weight) — reproduced from that library's code.
def show_cam_on_image(img, mask, image_weight):
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), cv2.COLORMAP_JET)
    heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heatmap = np.float32(heatmap) / 255
    assert np.max(img) <= 1
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam), (heatmap * 255).round().astype(np.uint8)


def make_colormap():
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), cv2.COLORMAP_JET).reshape(256, 3)
    tensors['colormap.jet'] = np.ascontiguousarray(lut[:, ::-1])  # BGR → RGB
    for case, (h, w), weight in [('20x30_w0.5', (20, 30), 0.5), ('9x11_w0.3', (9, 11), 0.3)]:
        rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        mask = rng.random((h, w)).astype(np.float32)
        mask[0, 0], mask[0, 1], mask[0, 2] = 0.0, 1.0, np.float32(1 / 255)  # ends and a truncation edge
        out, heat = show_cam_on_image(np.float32(rgb) / 255, mask, weight)
        params['overlay'][case] = {'image_weight': weight}
        tensors[f'overlay.{case}.img'] = rgb
        tensors[f'overlay.{case}.map'] = mask
        tensors[f'overlay.{case}.heatmap'] = heat
        tensors[f'overlay.{case}.out'] = out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.startswith('image.'):
            os.remove(os.path.join(OUT, f))
    notes = {}
    inputs = make_inputs()
    make_resizes()
    make_preprocess(notes)
    make_upsample()
    make_blur()
    make_colormap()
    meta = {
        'seed': SEED,
        'command': '/usr/bin/python3 reference/image_fixtures.py',
        'versions': {'python': sys.version.split()[0], 'numpy': np.__version__, 'PIL': PIL.__version__,
                     'libjpeg': features.version('jpg'), 'libjpeg_turbo': features.check_feature('libjpeg_turbo'),
                     'torch': torch.__version__, 'scipy': scipy.__version__, 'opencv': cv2.__version__,
                     'torchvision': 'not installed: its Resize/CenterCrop/ToTensor/Normalize rules are reproduced'},
        'inputs': inputs,
        'params': params,
        'notes': notes,
    }
    st.save(os.path.join(OUT, 'image.safetensors'), tensors, {'seed': SEED, 'script': 'reference/image_fixtures.py'})
    with open(os.path.join(OUT, 'image.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT) if f.startswith('image.'))
    print(f'wrote {len(tensors)} tensors and {len(inputs)} inputs, {total / 1e6:.2f} MB in all')
    for k, v in notes.items():
        print(k, v)


if __name__ == '__main__':
    main()
