#!/usr/bin/env python3
"""bench_torch.py: the PyTorch side of tools/bench.js (issue 6), on the same machine and the same work:
  GEMM GFLOP/s on the ViT-B/16 Linear shapes; one ViT-B/16 image forward; DecomCAM end to end on the seeded
  ViT-B/16 (reference/clip_model.py's seeded_clip, float32, as the TS model), paper preset, P = 500, Q = 10, with
  the same stages as tools/bench.js (load, preprocess, forward, backward, decompose, masks, perturbed, integrate)
  and peak RSS. The algorithm is reference/cam_reference.py's decomcam (its helpers are reused), run in float32
  with timers between the steps. Medians of --reps runs after a warm-up.

    env -u OPENBLAS_CORETYPE /usr/bin/python3 reference/bench_torch.py [--threads 2] [--reps 5] [--json FILE]
                                                                       [--parts gemm,forward,decomcam,conv]

The `conv` part (issue 15) times torch's conv2d on the per-layer shapes of tools/bench_conv.js (CLIP RN50 at 224
px, and a tiny ResNet's): forward of 1 and 11 images and the input gradient (torch.nn.grad.conv2d_input), in
GFLOP/s, float32, on --threads threads. The `rn50` part (tools/bench_conv.js --parts model): a CLIP RN50
(reference/resnet_model.py's CLIPRN, layers [3,4,6,3], width 64, E 1024, 224 px, float32, random weights) image
forward of 1 and 11 images, and DecomCAM end to end at visual.layer4 (paper preset, P = 500, Q = 10) per stage;
skipped, saying so, where reference/resnet_model.py is absent.

OPENBLAS_CORETYPE: this machine's default names an older core (Haswell), which runs OpenBLAS's GEMM at about
half speed; `env -u` removes it for this command only. Threads: torch.set_num_threads(--threads), 2 = the cores.
OMP_WAIT_POLICY=PASSIVE (set here unless given): OpenMP's idle threads sleep instead of spinning. Spinning
threads fight OpenBLAS's own on two cores: measured here, ViT-B/16 forward 0.99 s spinning, 0.31 s passive.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')   # before torch loads libgomp

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cam_reference as cr  # noqa: E402
import clip_model as cm  # noqa: E402
from seeded import seeded_uniform  # noqa: E402


def measure(fn, reps):
    """Median wall seconds of reps runs after one warm-up."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_cpu(fn, reps):
    """Median wall seconds and median process CPU seconds (every thread's) of reps runs after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def bench_gemm(reps):
    N, D, Fw = 197, 768, 3072
    shapes = [('linear qkv 197x768->2304', N, D, 3 * D), ('linear fc 197x768->3072', N, D, Fw),
              ('linear fc2 197x3072->768', N, Fw, D), ('linear fc, 11 images 2167x768->3072', 11 * N, D, Fw)]
    rows = []
    for label, M, K, Nout in shapes:
        x, w, b = torch.randn(M, K), torch.randn(Nout, K), torch.randn(Nout)
        t = measure(lambda: F.linear(x, w, b), reps)
        rows.append({'op': label, 'ms': t * 1e3, 'gflops': 2 * M * K * Nout / t / 1e9})
    return rows


# tools/bench_conv.js's shapes: (label, C, H (= W), O, k, stride, pad, count in RN50)
RN50_CONV_SHAPES = [
    ('stem.conv1 3x3 s2 3->32 @224', 3, 224, 32, 3, 2, 1, 1),
    ('stem.conv2 3x3 32->32 @112', 32, 112, 32, 3, 1, 1, 1),
    ('stem.conv3 3x3 32->64 @112', 32, 112, 64, 3, 1, 1, 1),
    ('layer1 1x1 64->64 @56', 64, 56, 64, 1, 1, 0, 1),
    ('layer1 1x1 256->64 @56', 256, 56, 64, 1, 1, 0, 2),
    ('layer1 3x3 64->64 @56', 64, 56, 64, 3, 1, 1, 3),
    ('layer1 1x1 64->256 @56 (+ds)', 64, 56, 256, 1, 1, 0, 4),
    ('layer2 1x1 256->128 @56', 256, 56, 128, 1, 1, 0, 1),
    ('layer2 3x3 128->128 @56', 128, 56, 128, 3, 1, 1, 1),
    ('layer2 1x1 128->512 @28', 128, 28, 512, 1, 1, 0, 4),
    ('layer2 ds 1x1 256->512 @28', 256, 28, 512, 1, 1, 0, 1),
    ('layer2 1x1 512->128 @28', 512, 28, 128, 1, 1, 0, 3),
    ('layer2 3x3 128->128 @28', 128, 28, 128, 3, 1, 1, 3),
    ('layer3 1x1 512->256 @28', 512, 28, 256, 1, 1, 0, 1),
    ('layer3 3x3 256->256 @28', 256, 28, 256, 3, 1, 1, 1),
    ('layer3 1x1 256->1024 @14', 256, 14, 1024, 1, 1, 0, 6),
    ('layer3 ds 1x1 512->1024 @14', 512, 14, 1024, 1, 1, 0, 1),
    ('layer3 1x1 1024->256 @14', 1024, 14, 256, 1, 1, 0, 5),
    ('layer3 3x3 256->256 @14', 256, 14, 256, 3, 1, 1, 5),
    ('layer4 1x1 1024->512 @14', 1024, 14, 512, 1, 1, 0, 1),
    ('layer4 3x3 512->512 @14', 512, 14, 512, 3, 1, 1, 1),
    ('layer4 1x1 512->2048 @7', 512, 7, 2048, 1, 1, 0, 3),
    ('layer4 ds 1x1 1024->2048 @7', 1024, 7, 2048, 1, 1, 0, 1),
    ('layer4 1x1 2048->512 @7', 2048, 7, 512, 1, 1, 0, 2),
    ('layer4 3x3 512->512 @7', 512, 7, 512, 3, 1, 1, 2),
]
TINY_CONV_SHAPES = [
    ('tiny stem 3x3 s2 3->8 @64', 3, 64, 8, 3, 2, 1, 1),
    ('tiny 3x3 8->8 @32', 8, 32, 8, 3, 1, 1, 1),
    ('tiny 1x1 16->32 @32', 16, 32, 32, 1, 1, 0, 1),
    ('tiny 3x3 16->16 @16', 16, 16, 16, 3, 1, 1, 1),
    ('tiny stem 3x3 s2 3->16 @224', 3, 224, 16, 3, 2, 1, 1),
    ('tiny 3x3 16->16 @112', 16, 112, 16, 3, 1, 1, 1),
    ('tiny 3x3 32->32 @28', 32, 28, 32, 3, 1, 1, 1),
    ('tiny 1x1 32->128 @14', 32, 14, 128, 1, 1, 0, 1),
]


def bench_conv(reps):
    """torch conv2d per layer shape: forward (1 and, for RN50, 11 images) and the input gradient, GFLOP/s."""
    rows = []
    for shapes, batched in ((RN50_CONV_SHAPES, True), (TINY_CONV_SHAPES, False)):
        for label, C, H, O, k, s, p, count in shapes:
            Ho = (H + 2 * p - k) // s + 1
            w = torch.randn(O, C, k, k)
            kinds = [('forward', 1), ('dx', 1)] + ([('forward', 11)] if batched else [])
            for kind, N in kinds:
                x = torch.randn(N, C, H, H)
                if kind == 'forward':
                    def run():
                        with torch.no_grad():
                            F.conv2d(x, w, None, s, p)
                else:
                    dy = torch.randn(N, O, Ho, Ho)

                    def run():
                        torch.nn.grad.conv2d_input(x.shape, w, dy, s, p)
                t, c = measure_cpu(run, reps)
                gflop = 2 * N * O * Ho * Ho * C * k * k / 1e9
                rows.append({'shape': label, 'kind': kind, 'images': N, 'count': count, 'ms': t * 1e3, 'cpu_ms': c * 1e3,
                             'gflops': gflop / t, 'cpu_gflops': gflop / c, 'gflop': gflop})
    return rows


def bench_rn50(reps):
    """CLIP RN50 (reference/resnet_model.py) forward of 1 and 11 images; DecomCAM at visual.layer4. None if absent."""
    try:
        import resnet_model as rm
    except ImportError:
        return None
    t0 = time.perf_counter()
    model = rm.CLIPRN(rm.rn_config([3, 4, 6, 3], 64, 224, 1024, {})).float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    load = time.perf_counter() - t0
    out = {'load_seconds': load, 'forward_ms': {}}
    for B in (1, 11):
        pixels = torch.from_numpy(seeded_uniform(3, 'pixels', B * 3 * 224 * 224, 2, 0, np.float32)).reshape(B, 3, 224, 224)
        with torch.no_grad():
            wall, cpu = measure_cpu(lambda: model.vision_forward(pixels), reps if B == 1 else max(1, min(reps, 3)))
        out['forward_ms'][B] = wall * 1e3
        out.setdefault('forward_cpu_ms', {})[B] = cpu * 1e3
    o = {**cr.DEFAULTS, **cr.PRESETS['paper'], 'P': 500, 'Q': 10}
    S, h = 224, 7
    rgb = torch.from_numpy(seeded_uniform(7, 'rgb', 3 * S * S, 0.5, 0.5, np.float64)).reshape(3, S, S)
    t = torch.from_numpy(seeded_uniform(5, 'text', 1024, 1, 0, np.float32))
    decomcam_stages(model, rgb, t, o, S, h, h, 'visual.layer4')  # warm-up
    runs = [decomcam_stages(model, rgb, t, o, S, h, h, 'visual.layer4')[0] for _ in range(max(1, min(reps, 3)))]
    stages = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    stages['total'] = sum(stages.values())
    out['decomcam_ms'] = {k: v * 1e3 for k, v in stages.items()}
    out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def decomcam_stages(model, rgb, t, o, S, h, w, layer):
    """cam_reference.decomcam's steps in float32, timed; returns {stage: seconds}."""
    st = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        st[name] = now - clock[0]
        clock[0] = now

    pixels = cr.normalize(rgb).float()
    lap('preprocess')
    # 1. score and 2. gradients at the layer (no parameter gradients)
    x = pixels[None].clone().requires_grad_(True)
    acts = {}
    emb = model.vision_forward(x, acts)
    a = acts[layer]
    a.retain_grad()
    s = cr.score_of(o['score'], emb, t, model.logit_scale.detach())[0]
    lap('forward')
    s.backward()
    if a.dim() == 4:  # a ResNet's feature map (1,C,h,w): positions × channels
        A = a.detach()[0].flatten(1).T.double()
        G = a.grad[0].flatten(1).T.double()
    else:             # a ViT's tokens (1,N,D): the class token dropped
        A = a.detach()[0, 1:, :].double()
        G = a.grad[0, 1:, :].double()
    lap('backward')
    # 3. alpha, top-P, X and 4. PCA → OSSMs
    alpha = G.mean(0)
    top = torch.sort(alpha, descending=True, stable=True).indices[:min(o['P'], alpha.shape[0])]
    X = A[:, top] * alpha[top]
    X = torch.where(torch.isnan(X), torch.zeros_like(X), X)
    scores = PCA(n_components=o['Q'], svd_solver='full').fit_transform(X.numpy())
    ossm = torch.from_numpy(np.ascontiguousarray(scores.T)).reshape(o['Q'], h, w)
    lap('decompose')
    # 5. masks and 6. the perturbed batch
    M = F.interpolate(ossm.clamp(min=0)[:, None], size=(S, S), mode='bicubic', align_corners=False)[:, 0]
    m = torch.stack([cr.minmax(Mq, 0.0) for Mq in M])
    blur = cr.blur_image(rgb, o['sigma'], o['truncate'])
    batch = cr.normalize(torch.maximum(rgb[None] * m[:, None], blur[None] * (1 - m[:, None])))
    lap('masks')
    # 7. the Q perturbed images and the blurred one in one batched forward
    with torch.no_grad():
        embs = model.vision_forward(torch.cat([batch, cr.normalize(blur)[None]]).float())
    sc = cr.score_of(o['score'], embs.double(), t.double(), model.logit_scale.detach().double())
    lap('perturbed')
    # 8. integration
    r = sc[:-1] - sc[-1]
    wq = torch.where(r < o['threshold'], torch.zeros_like(r), r / r.max())
    cam = cr.minmax((wq[:, None, None] * M).sum(0).clamp(min=0), 0.0)
    lap('integrate')
    return st, cam


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--json')
    ap.add_argument('--parts', default='gemm,forward,decomcam')
    args = ap.parse_args()
    parts = set(args.parts.split(','))
    torch.set_num_threads(args.threads)
    report = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
              'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
              'OMP_WAIT_POLICY': os.environ.get('OMP_WAIT_POLICY'), 'loadavg': os.getloadavg()[0]}

    print(f"## PyTorch {torch.__version__}, {report['threads']} threads, "
          f"OPENBLAS_CORETYPE={report['OPENBLAS_CORETYPE']}, OMP_WAIT_POLICY={report['OMP_WAIT_POLICY']}")
    if 'gemm' in parts:
        report['gemm'] = bench_gemm(args.reps)
        for r in report['gemm']:
            print(f"{r['op']:<40} {r['ms']:8.2f} ms {r['gflops']:8.1f} GFLOP/s")
    if 'conv' in parts:
        report['conv'] = bench_conv(args.reps)
        print(f"## conv2d (torch, float32, {report['threads']} threads; GFLOP/s, median of {args.reps}; "
              "cpu = per second of process CPU time, every thread's)")
        for r in report['conv']:
            kind = r['kind'] + (f" x{r['images']}" if r['images'] > 1 else '')
            print(f"{r['shape']:<32} {kind:<12} {r['ms']:8.2f} ms {r['gflops']:8.1f} GFLOP/s  cpu {r['cpu_gflops']:6.1f}")
        for kind, N in (('forward', 1), ('dx', 1), ('forward', 11)):
            sel = [r for r in report['conv'] if r['kind'] == kind and r['images'] == N and r['shape'] in
                   {sh[0] for sh in RN50_CONV_SHAPES}]
            flop = sum(r['gflop'] * r['count'] for r in sel)
            ms = sum(r['ms'] * r['count'] for r in sel)
            cpu_ms = sum(r['cpu_ms'] * r['count'] for r in sel)
            print(f"RN50 every conv, {kind}{' x' + str(N) if N > 1 else ''}: {flop:.2f} GFLOP in {ms:.0f} ms = "
                  f"{flop / ms * 1e3:.1f} GFLOP/s; cpu {flop / cpu_ms * 1e3:.1f}")
    if 'rn50' in parts:
        rn = bench_rn50(args.reps)
        report['rn50'] = rn
        if rn is None:
            print('## CLIP RN50: skipped: reference/resnet_model.py is absent (issue 15 point 6)')
        else:
            print(f"## CLIP RN50 (reference/resnet_model.py, float32, random weights), {report['threads']} threads: ms, median")
            print(f"{'load':<34} {rn['load_seconds'] * 1e3:8.0f}")
            for B, ms in rn['forward_ms'].items():
                print(f"{'image forward, ' + str(B) + ' image' + ('s' if B > 1 else ''):<34} {ms:8.0f}   "
                      f"(cpu {rn['forward_cpu_ms'][B]:.0f})")
            print('DecomCAM at visual.layer4, paper preset, P = 500, Q = 10:')
            for k, v in rn['decomcam_ms'].items():
                print(f"{k:<34} {v:8.0f}")
            print(f"{'peak RSS (MB)':<34} {rn['peak_rss_mb']:8.0f}")
    if not parts & {'forward', 'decomcam'}:
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(report, f, indent=2)
        return

    t0 = time.perf_counter()
    config = cm.vit_b16_config()
    model = cm.seeded_clip(config, 2024, torch.float32)
    for p in model.parameters():
        p.requires_grad_(False)
    load = time.perf_counter() - t0
    pixels = torch.from_numpy(seeded_uniform(3, 'pixels', 3 * 224 * 224, 2, 0, np.float32)).reshape(1, 3, 224, 224)
    with torch.no_grad():
        fwd = measure(lambda: model.vision_forward(pixels), args.reps)
    report['forward_seconds'] = fwd
    print(f"ViT-B/16 forward, one image: {fwd:.3f} s")

    o = {**cr.DEFAULTS, **cr.PRESETS['paper']}
    S, h = 224, 14
    layer = cr.resolve_layer(config, o['layer'])
    rgb = torch.from_numpy(seeded_uniform(7, 'rgb', 3 * S * S, 0.5, 0.5, np.float64)).reshape(3, S, S)
    t = torch.from_numpy(seeded_uniform(5, 'text', 512, 1, 0, np.float32))
    decomcam_stages(model, rgb, t, o, S, h, h, layer)  # warm-up
    runs = [decomcam_stages(model, rgb, t, o, S, h, h, layer)[0] for _ in range(max(1, min(args.reps, 3)))]
    stages = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    stages['total'] = sum(stages.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report['decomcam'] = {'load_seconds': load, 'stages_ms': {k: v * 1e3 for k, v in stages.items()}, 'peak_rss_mb': rss}
    print(f"## DecomCAM, seeded ViT-B/16, paper preset, P = {o['P']}, Q = {o['Q']} (ms, median of {len(runs)})")
    print(f"{'load (seeded weights)':<34} {load * 1e3:8.0f}")
    for k, v in stages.items():
        print(f"{k:<34} {v * 1e3:8.0f}")
    print(f"{'peak RSS (MB)':<34} {rss:8.0f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
