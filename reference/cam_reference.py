#!/usr/bin/env python3
"""cam_reference.py: DecomCAM (presets `official` and `paper`) and the baseline CAMs in PyTorch/numpy/scipy/sklearn,
written from the formulas of issue 5 (our own code), on top of reference/clip_model.py. It writes the fixtures that
test/cam.test.js and test/cam_vitb16.test.js read: reference/fixtures/cam_tiny.* and cam_vitb16.* (safetensors + json).

    /usr/bin/python3 reference/cam_reference.py            # both fixtures (about 1-2 minutes)
    /usr/bin/python3 reference/cam_reference.py tiny       # only the tiny one

Precision: the model runs in float64 from the float32 weights, and every model input (the image, the perturbed
images) is first rounded to the TS model's input dtype (float32 for the f32 stages, not at all for f64): the exact
answer for what the TS code computes. Everything outside the model (alpha, X, PCA, bicubic upsample, blur, masks,
weights) is float64, as in src/cam/.
Layer tensors are the target layer's patch tokens, class token dropped, row-major over the h x w grid: (hw, C).
Sorting: torch.sort(stable=True, descending=True). PCA: sklearn PCA(svd_solver='full') (sklearn 1.2: LAPACK SVD +
svd_flip(u_based_decision=True)).
Where the official code (CapricornGuang/DecomCAM, pytorch_grad_cam/decom_cam.py) differs only in precision or in
cases we do not reproduce: its PCA runs in float32 (sklearn keeps X's dtype) with svd_solver='auto', which is
'full' whenever max(hw, P) <= 500 (ViT-B/16 at 224: 196 x 500) and randomized otherwise; for P > 500 it switches
to an IncrementalPCA with a different scaling. Here the PCA is exact for every size.
"""
import json
import os
import sys
import time

import numpy as np
import scipy
import sklearn
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from sklearn.decomposition import PCA

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_model as cm  # noqa: E402
import st  # noqa: E402
from seeded import seeded_uniform  # noqa: E402

FIXTURES = os.path.join(HERE, 'fixtures')
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Every knob of DecomCAM, and the two presets as named option sets (src/cam/decomcam.ts mirrors these).
DEFAULTS = dict(layer='vision.blocks.-1.ln_1', P=500, Q=10, sigma=10.0, truncate=4.0, threshold=1e-3)
PRESETS = {
    # pytorch_grad_cam/decom_cam.py of the official repo: S = logit_scale (raw) * <v, t>; masks applied to the
    # CLIP-normalised tensor; w_q = s_q / max s (0 below the threshold); ReLU + min-max (1e-7) twice.
    'official': dict(score='scaledDot', perturb='normalized', baseline='none', final_eps=1e-7, final_passes=2),
    # the paper: S = cosine; masks applied to the RGB crop in [0, 1], then normalised; r_q = S(x_q) - S(blur);
    # w_q = r_q / max r (0 below the threshold); ReLU + plain min-max once.
    'paper': dict(score='cosine', perturb='rgb', baseline='blur', final_eps=0.0, final_passes=1),
}
BASELINES = ['gradcam', 'gradcampp', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'eigengradcam', 'scorecam',
             'gscorecam']


# ---------------------------------------------------------------------------------------------------------
# The shared work: preprocessing, score, forward + backward to the layer

def normalize(rgb):
    """(..., 3, S, S) float64 RGB in [0, 1] -> CLIP-normalised, float64."""
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float64)[:, None, None]
    std = torch.tensor(CLIP_STD, dtype=torch.float64)[:, None, None]
    return (rgb - mean) / std


def resolve_layer(config, name):
    """'vision.blocks.N[.ln_1|.ln_2]' with N < 0 counting from the end -> the canonical name."""
    L = config['vision_config']['num_hidden_layers']
    parts = name.split('.')
    n = int(parts[2])
    parts[2] = str(n + L if n < 0 else n)
    return '.'.join(parts)


def score_of(kind, emb, t, logit_scale):
    """Per image score (B,) of embeddings emb (B,E) against the text embedding t (E)."""
    if kind == 'cosine':
        return F.cosine_similarity(emb, t[None].expand_as(emb), dim=-1)
    if kind == 'scaledDot':          # the official code: logit_scale (the raw parameter) * <v, t>, unnormalised
        return logit_scale * (emb @ t)
    if kind == 'logit':              # CLIP's logits_per_image: exp(logit_scale) * cosine
        return logit_scale.exp() * F.cosine_similarity(emb, t[None].expand_as(emb), dim=-1)
    raise ValueError(kind)


def model_input(x, in_dtype):
    """What the model sees: x rounded to the TS model's input dtype (float32 or float64), computed in float64."""
    return x.to(in_dtype).double()


def forward_grads(model, pixels, layer, t, kind):
    """One forward of one image (1,3,S,S) and the gradient of its score at `layer`.
    Returns score, embedding (E), A (hw,C) and G (hw,C) as float64."""
    for p in model.parameters():
        p.requires_grad_(False)
    x = pixels.clone().requires_grad_(True)  # so the graph exists; no parameter gradients are computed
    acts = {}
    emb = model.vision_forward(x, acts)
    a = acts[layer]
    a.retain_grad()
    s = score_of(kind, emb, t, model.logit_scale.detach())[0]
    s.backward()
    A = a.detach()[0, 1:, :].double()
    G = a.grad[0, 1:, :].double()
    return s.detach().double(), emb.detach()[0].double(), A, G


def embed(model, pixels, in_dtype, chunk=16):
    """Embeddings (B,E) of a batch, no gradients, in chunks (a chunk's size does not change the result)."""
    x = model_input(pixels, in_dtype)
    with torch.no_grad():
        return torch.cat([model.vision_forward(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])


def minmax(x, eps):
    """x - min, then / (max + eps); with eps = 0 a constant map stays 0 (no division)."""
    x = x - x.min()
    d = x.max() + eps
    return x / d if d > 0 else x


def blur_image(x, sigma, truncate):
    """scipy.ndimage.gaussian_filter per colour channel of (3,S,S), reflect borders, float64."""
    return torch.from_numpy(np.stack([gaussian_filter(x[c].numpy(), sigma, truncate=truncate, mode='reflect')
                                      for c in range(x.shape[0])]))


# ---------------------------------------------------------------------------------------------------------
# DecomCAM, the paper's steps

def decomcam(model, rgb, t, preset, in_dtype, **overrides):
    """model: float64; in_dtype: the dtype the TS model's inputs are rounded to."""
    o = {**DEFAULTS, **PRESETS[preset], **overrides}
    cfg = model.config['vision_config']
    S = cfg['image_size']
    h = w = S // cfg['patch_size']
    layer = resolve_layer(model.config, o['layer'])
    tr = {}

    # 1. score and (2.) gradients at the layer
    pixels = normalize(rgb)
    score, emb, A, G = forward_grads(model, model_input(pixels, in_dtype)[None], layer, t, o['score'])
    tr['score'] = score
    tr['cosine'] = F.cosine_similarity(emb, t.double(), dim=0)
    tr['acts'], tr['grads'] = A, G

    # 2. alpha = mean over positions of dS/dA; 3. top-P channels by signed alpha, descending (stable on ties);
    # 4. X = A[:, top] * alpha[top], NaN -> 0
    alpha = G.mean(0)
    C = alpha.shape[0]
    P = min(o['P'], C)
    top = torch.sort(alpha, descending=True, stable=True).indices[:P]
    X = A[:, top] * alpha[top]
    X = torch.where(torch.isnan(X), torch.zeros_like(X), X)
    tr['alpha'], tr['top'], tr['X'] = alpha, top, X

    # 5. PCA of X to Q components; OSSM_q = column q of the scores U*S, as an h x w map
    pca = PCA(n_components=o['Q'], svd_solver='full')
    scores = pca.fit_transform(X.numpy())
    ossm = torch.from_numpy(np.ascontiguousarray(scores.T)).reshape(o['Q'], h, w)
    tr['ossm'] = ossm
    tr['singular_values'] = torch.from_numpy(pca.singular_values_)

    # 6. masks: M_q = bicubic(ReLU(OSSM_q)) to S x S (align_corners=False), m_q = min-max(M_q)
    M = F.interpolate(ossm.clamp(min=0)[:, None], size=(S, S), mode='bicubic', align_corners=False)[:, 0]
    m = torch.stack([minmax(Mq, 0.0) for Mq in M])
    tr['M'], tr['masks'] = M, m

    # 7. perturbed batch: x_q = max(img * m_q, blur * (1 - m_q)), in RGB [0,1] (then normalised) or normalised
    base = rgb if o['perturb'] == 'rgb' else pixels
    blur = blur_image(base, o['sigma'], o['truncate'])
    xq = torch.maximum(base[None] * m[:, None], blur[None] * (1 - m[:, None]))
    batch = normalize(xq) if o['perturb'] == 'rgb' else xq
    tr['blur'], tr['batch'] = blur, batch

    # 8. perturbed scores s_q, and the gains r_q (against the blurred image in the paper)
    ls = model.logit_scale.detach()
    s = score_of(o['score'], embed(model, batch, in_dtype), t, ls)
    tr['s'] = s
    r = s
    if o['baseline'] == 'blur':
        blur_in = normalize(blur) if o['perturb'] == 'rgb' else blur
        s0 = score_of(o['score'], embed(model, blur_in[None], in_dtype), t, ls)[0]
        tr['s0'] = s0
        r = s - s0

    # 9. integration: w_q = 0 if r_q < threshold else r_q / max r; map = sum w_q M_q; ReLU, min-max (x passes)
    wq = torch.where(r < o['threshold'], torch.zeros_like(r), r / r.max())
    cam = (wq[:, None, None] * M).sum(0)
    for _ in range(o['final_passes']):
        cam = minmax(cam.clamp(min=0), o['final_eps'])
    tr['w'], tr['map'] = wq, cam
    return tr


# ---------------------------------------------------------------------------------------------------------
# Baselines with pytorch-grad-cam's formulas and post-processing

def projection(X):
    """First principal direction projection (pytorch-grad-cam's get_2d_projection): NaN -> 0, centre the columns,
    Xc @ VT[0]. LAPACK leaves the sign free; we fix it as sklearn's svd_flip(u_based_decision=True) does:
    the entry of largest magnitude (first on ties) is made positive."""
    X = torch.where(torch.isnan(X), torch.zeros_like(X), X)
    Xc = X - X.mean(0)
    U, Sv, VT = torch.linalg.svd(Xc, full_matrices=False)
    p = Xc @ VT[0]
    i = int(torch.argmax(p.abs()))
    return -p if p[i] < 0 else p


def masked_scores(model, pixels, A, channels, h, w, S, eps, t, kind, in_dtype, chunk=16):
    """Score-CAM's perturbations: each channel's map bilinearly upsampled (align_corners=True, as
    torch.nn.UpsamplingBilinear2d), min-max'd with eps, multiplied into the normalised input; one score each."""
    maps = A[:, channels].T.reshape(len(channels), 1, h, w)
    up = F.interpolate(maps, size=(S, S), mode='bilinear', align_corners=True)[:, 0]
    mins = up.reshape(len(channels), -1).min(1)[0][:, None, None]
    maxs = up.reshape(len(channels), -1).max(1)[0][:, None, None]
    up = (up - mins) / (maxs - mins + eps)
    batch = pixels[None] * up[:, None]
    return score_of(kind, embed(model, batch, in_dtype, chunk), t, model.logit_scale.detach())


def baseline(model, rgb, t, name, in_dtype, kind='cosine', layer=DEFAULTS['layer'], topk=300):
    """One baseline CAM of the image for text embedding t: its channel weights or raw map, and the final map."""
    cfg = model.config['vision_config']
    S = cfg['image_size']
    h = w = S // cfg['patch_size']
    pixels = normalize(rgb)
    _, _, A, G = forward_grads(model, model_input(pixels, in_dtype)[None], resolve_layer(model.config, layer), t, kind)
    tr = {}
    sumA = A.sum(0)
    if name == 'gradcam':            # weights = mean over positions of the gradient
        wts = G.mean(0)
    elif name == 'gradcampp':        # eq. 19 of 1710.11063 with pytorch-grad-cam's eps and its ReLU/zero guard
        g2 = G ** 2
        g3 = g2 * G
        aij = g2 / (2 * g2 + sumA[None] * g3 + 1e-6)
        aij = torch.where(G != 0, aij, torch.zeros_like(aij))
        wts = (G.clamp(min=0) * aij).sum(0)
    elif name == 'xgradcam':
        wts = (G * A / (sumA[None] + 1e-7)).sum(0)
    elif name == 'scorecam':
        sc = masked_scores(model, pixels, A, torch.arange(A.shape[1]), h, w, S, 1e-8, t, kind, in_dtype)
        tr['scores'] = sc
        wts = torch.softmax(sc, 0)
    elif name == 'gscorecam':        # the top-k channels by mean gradient; unselected channels score 0
        idx = torch.topk(G.mean(0), min(topk, A.shape[1])).indices
        sc = masked_scores(model, pixels, A, idx, h, w, S, 1e-6, t, kind, in_dtype)
        sc = torch.nan_to_num(sc, nan=0.0)
        full = torch.zeros(A.shape[1], dtype=torch.float64)
        full[idx] = sc
        tr['scores'], tr['top'] = full, idx
        wts = torch.softmax(full, 0)
    else:
        wts = None
    if wts is not None:
        tr['weights'] = wts
        cam = A @ wts
    elif name == 'layercam':
        cam = (G.clamp(min=0) * A).sum(1)
    elif name == 'hirescam':
        cam = (G * A).sum(1)
    elif name == 'eigencam':
        cam = projection(A)
    elif name == 'eigengradcam':
        cam = projection(G * A)
    else:
        raise ValueError(name)
    tr['raw'] = cam
    # pytorch-grad-cam's post-processing: ReLU; scale_cam_image (min-max with 1e-7, cv2.resize INTER_LINEAR to the
    # input size, which for upscaling equals interpolate(bilinear, align_corners=False)); then the layer
    # aggregation: ReLU, mean over layers (one layer here), scale_cam_image again.
    x = minmax(cam.reshape(h, w).clamp(min=0), 1e-7)
    x = F.interpolate(x[None, None], size=(S, S), mode='bilinear', align_corners=False)[0, 0]
    tr['map'] = minmax(x.clamp(min=0), 1e-7)
    return tr


# ---------------------------------------------------------------------------------------------------------
# Fixtures

def text_embedding(model, ids):
    T = model.config['text_config']['max_position_embeddings']
    eot = cm.text_eot_id(model.config['text_config'])
    row = ids + [eot] * (T - len(ids))     # HF-style padding with the end-of-text id
    with torch.no_grad():
        return model.encode_text(torch.tensor([row]))[0]


def seeded_rgb(seed, S):
    """A seeded RGB crop in (0, 1), (3,S,S): TS seededUniform(seed, 'rgb', 3*S*S, 0.5, 0.5, 'float64')."""
    return torch.from_numpy(seeded_uniform(seed, 'rgb', 3 * S * S, 0.5, 0.5, np.float64)).reshape(3, S, S)


def checks(tr, P, threshold=DEFAULTS['threshold']):
    """How far the fixture sits from a tie (where float32 rounding could flip a decision): the gap between the P-th
    and (P+1)-th alpha and the smallest gap between consecutive sorted alphas (relative to max |alpha|), the
    smallest gap between consecutive kept singular values (relative to the first), and the smallest distance of a
    gain from the threshold."""
    a = torch.sort(tr['alpha'], descending=True).values
    amax = float(a.abs().max())
    gaps = (a[:-1] - a[1:]) / amax
    sv = tr['singular_values']
    r = tr['s'] - tr['s0'] if 's0' in tr else tr['s']
    return {
        'alpha_gap_at_P': float(gaps[P - 1]) if P < a.shape[0] else None,
        'alpha_min_consecutive_gap_in_top': float(gaps[:P - 1].min()),
        'singular_min_rel_gap': float(((sv[:-1] - sv[1:]) / sv[0]).min()),
        'gain_min_distance_to_threshold': float((r - threshold).abs().min()),
        'nonzero_weights': int((tr['w'] > 0).sum()),
    }


def add(out, prefix, tr, keys, dtype):
    """Stages under prefix.key: indices as int64, values as `dtype` (float32 for the f32 stages: the float64
    answer rounded once, as the CLIP fixtures store theirs), scalars as shape [1]."""
    for k in keys:
        if k in tr:
            v = tr[k]
            v = v.to(torch.int64) if k == 'top' else v.to(dtype)
            out[f'{prefix}.{k}'] = v.reshape(1) if v.dim() == 0 else v


DECOM_KEYS = ['score', 'cosine', 'alpha', 'top', 'X', 'ossm', 'singular_values', 'M', 'masks', 'blur', 'batch',
              's', 's0', 'w', 'map']
BASELINE_KEYS = ['raw', 'weights', 'scores', 'top', 'map']

# The tiny fixture: the tiny seeded CLIP of clip_fixtures.py (32x32 input, 4x4 grid, C = 128), one seeded RGB crop
# and two prompts (an explain() call with two texts). `official` runs with the default P = 500 (clamped to 128),
# `paper` with P = 40; both Q = 10; gScoreCAM scores its top 40 channels (the default 300 would take all 128).
# Seed and prompts were chosen (seeds 1..6, three prompts) so that the official preset keeps 2 of 10 weights on the
# first prompt, the paper preset 5 of 10 on the second, and no decision sits near a tie (the .json's `checks`).
TINY = dict(seed=3, prompts=['a photo of a cat', 'a blue square and a green triangle'],
            P={'official': 500, 'paper': 40}, topK=40)


def tiny_ids(folder, text):
    import clip_fixtures as cf
    with open(os.path.join(folder, 'vocab.json')) as f:
        vocab = json.load(f)
    with open(os.path.join(folder, 'merges.txt')) as f:
        merges = [tuple(line.split()) for line in f.read().splitlines()[1:] if line]
    return [vocab['<|startoftext|>']] + cf.bpe_ids(text, vocab, merges) + [vocab['<|endoftext|>']]


def versions():
    return {'torch': torch.__version__, 'numpy': np.__version__, 'scipy': scipy.__version__,
            'sklearn': sklearn.__version__}


def tiny_fixture():
    folder = os.path.join(FIXTURES, 'tiny_clip_hf')
    model = cm.load_hf(folder, torch.float32).double()  # the float32 weights, computed in float64
    S = model.config['vision_config']['image_size']
    rgb = seeded_rgb(TINY['seed'], S)
    out = {'input.rgb': rgb}
    meta = {'command': 'reference/cam_reference.py tiny', **versions(), 'model': 'reference/fixtures/tiny_clip_hf',
            'rgb': f"seededUniform({TINY['seed']}, 'rgb', 3*{S}*{S}, 0.5, 0.5, 'float64') as (3,S,S)",
            'prompts': TINY['prompts'], 'P': TINY['P'], 'topK': TINY['topK'], 'defaults': DEFAULTS, 'presets': PRESETS,
            'reference': 'float64 arithmetic from the float32 weights; f32.* rounds every model input to float32 as the '
                         'float32 TS model does, f64.* does not', 'checks': {}}
    for dt, in_dtype in [('f32', torch.float32), ('f64', torch.float64)]:
        texts = []
        for k, prompt in enumerate(TINY['prompts']):
            ids = tiny_ids(folder, prompt)
            meta[f'ids.{k}'] = ids
            t = text_embedding(model, ids)
            texts.append(t)
            out[f'{dt}.{k}.text.embeds'] = t.to(in_dtype)
            for preset in PRESETS:
                P = TINY['P'][preset]
                tr = decomcam(model, rgb, t, preset, in_dtype, P=P)
                # keep the file small: the batch and the blurred image (the same for every text) of text 0 only
                keys = DECOM_KEYS if k == 0 else [key for key in DECOM_KEYS if key not in ('batch', 'blur')]
                add(out, f'{dt}.{k}.{preset}', tr, keys, in_dtype)
                meta['checks'][f'{dt}.{k}.{preset}'] = checks(tr, min(P, tr['alpha'].shape[0]))
                if k == 0:
                    add(out, dt, tr, ['acts'], in_dtype)
                    add(out, f'{dt}.{k}.{preset}', tr, ['grads'], in_dtype)
        # all weights zero: a threshold above every gain (the map is all zeros, with a warning in TS)
        tr = decomcam(model, rgb, texts[0], 'paper', in_dtype, P=TINY['P']['paper'], threshold=1e9)
        assert float(tr['w'].abs().max()) == 0.0 and float(tr['map'].abs().max()) == 0.0
        add(out, f'{dt}.zero', tr, ['w', 'map'], in_dtype)
        for name in BASELINES:
            tr = baseline(model, rgb, texts[0], name, in_dtype, topk=TINY['topK'])
            add(out, f'{dt}.{name}', tr, BASELINE_KEYS, in_dtype)
    return out, meta


# The full-size fixture: the seeded ViT-B/16 (reference/clip_model.py's seeded_clip, float32 weights computed in
# float64), a seeded 224x224 RGB crop, the prompt 'a photo of a cat' (CLIP BPE ids, as ../shared/data's golden
# tokenizer file gives them), the paper preset with the defaults (P = 500 of C = 768, Q = 10). A plain-TS ViT-B/16
# forward takes seconds to tens of seconds, so test/cam_vitb16.test.js checks the stages up to the OSSMs, the
# masks and the first perturbed image and its score (one more forward); it integrates the final map from its own
# M_q and these s_q (the other nine perturbed forwards are not run in TS).
VITB16 = dict(model_seed=2024, rgb_seed=7, ids=[49406, 320, 1125, 539, 320, 2368, 49407], prompt='a photo of a cat')


def vitb16_fixture():
    config = cm.vit_b16_config()
    model = cm.seeded_clip(config, VITB16['model_seed'], torch.float32).double()
    rgb = seeded_rgb(VITB16['rgb_seed'], 224)
    t = text_embedding(model, VITB16['ids'])
    tr = decomcam(model, rgb, t, 'paper', torch.float32)
    out = {'text.embeds': t.float()}
    add(out, 'paper', tr, ['score', 'cosine', 'alpha', 'top', 'X', 'singular_values', 'ossm', 's', 's0', 'w', 'map'],
        torch.float32)
    out['paper.M0'] = tr['M'][0].float()
    out['paper.masks0'] = tr['masks'][0].float()
    out['paper.batch0'] = tr['batch'][0].float()
    meta = {'command': 'reference/cam_reference.py vitb16', **versions(), **VITB16,
            'rgb': f"seededUniform({VITB16['rgb_seed']}, 'rgb', 3*224*224, 0.5, 0.5, 'float64') as (3,224,224)",
            'model': f"seeded_clip(vit_b16_config(), {VITB16['model_seed']}) (float32 weights)",
            'reference': 'float64 arithmetic from the float32 weights, model inputs rounded to float32; stored as float32',
            'config': config, 'defaults': DEFAULTS, 'preset': PRESETS['paper'],
            'checks': {'paper': checks(tr, DEFAULTS['P'])}}
    return out, meta


def main():
    which = sys.argv[1:] or ['tiny', 'vitb16']
    torch.set_num_threads(2)
    for name, make in [('tiny', tiny_fixture), ('vitb16', vitb16_fixture)]:
        if name not in which:
            continue
        t0 = time.time()
        out, meta = make()
        meta['seconds'] = round(time.time() - t0, 1)
        st.save(os.path.join(FIXTURES, f'cam_{name}.safetensors'), out)
        with open(os.path.join(FIXTURES, f'cam_{name}.json'), 'w') as f:
            json.dump(meta, f, indent=1)
            f.write('\n')
        print(name, f'{meta["seconds"]}s', json.dumps(meta['checks']))


if __name__ == '__main__':
    main()
