#!/usr/bin/env python3
"""resnet_fixtures.py: fixtures for CLIP's ResNet image tower (issue 15), with openai/CLIP's own model.py
(ModifiedResNet, Bottleneck, AttentionPool2d, CLIP) as the oracle. That file is not part of this repository: pass
the folder of a local openai/CLIP checkout (or of an archive of its clip/model.py) as --clip-dir (default
/tmp/openai_clip, which must hold clip/model.py). Writes, in reference/fixtures/:

  resnet_ops.*       each new layer alone (BatchNorm2d eval, ReLU, AvgPool2d, AttentionPool2d; residual add) forward
                     and autograd input/weight gradients of (out * dout).sum(), float64 and float32
  tiny_clip_rn/      a tiny ResNet CLIP (width 8, layers [2,2,2,2], 128 px, text width 64) with seeded weights, as an
                     OpenAI-named safetensors file + the tiny vocabulary: a model folder for loadClip / tools/explain.js
  resnet_tiny.*      its stages (stem, every bottleneck, embedding, text embeddings, gradients at layer4, layer3 and the
                     pixels), DecomCAM (both presets) and the nine baselines at visual.layer4 (Score-CAM at the
                     stem's 8 channels: one forward per channel), f32 and f64
  resnet_rn50.*      a full-width RN50-shaped tower (layers [3,4,6,3], width 64, E 1024) at 64 px (plain-TS convolutions
                     are slow) whose weights come from reference/seeded.py (never stored), f32: stem, stage outputs, the
                     embedding, the gradient at layer4 and DecomCAM's official preset (P 500 of 2048, Q 3 of the 2 x 2
                     positions) to the OSSMs, the first mask and perturbed image, every s_q and the final map

    /usr/bin/python3 reference/resnet_fixtures.py [--clip-dir DIR] [ops|tiny|rn50 ...]

Precision as reference/cam_reference.py: float32 weights computed in float64; f32.* stages round each model input
to float32 as the TS float32 model does, f64.* do not. Seeded weights: value(seed, 'visual.<state-dict key>', i) of
reference/seeded.py with the scales of src/clip/resnet_weights.ts resnetSeededScale.
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cam_reference as cr  # noqa: E402
import st  # noqa: E402
from seeded import seeded_uniform  # noqa: E402

FIXTURES = os.path.join(HERE, 'fixtures')
TINY_VOCAB = os.path.join(FIXTURES, 'tiny_clip_hf')  # vocab.json + merges.txt (551 tokens, <|endoftext|> = 550)

TINY = dict(seed=15, embed_dim=32, image_resolution=128, vision_layers=(2, 2, 2, 2), vision_width=8,
            context_length=77, vocab_size=551, transformer_width=64, transformer_heads=1, transformer_layers=1,
            rgb_seed=2, prompts=['a blue square and a green triangle', 'a photo of a cat'],
            P={'official': 500, 'paper': 40}, topK=8, scorecam_layer='visual.stem')
RN50 = dict(seed=50, layers=(3, 4, 6, 3), width=64, embed_dim=1024, image_resolution=64, rgb_seed=7,
            text_seed=8, logit_scale=4.605170249938965, Q=3)


def load_openai(clip_dir):
    path = os.path.join(clip_dir, 'clip', 'model.py')
    if not os.path.exists(path):
        sys.exit(f'{path} not found: pass --clip-dir, the folder of an openai/CLIP checkout')
    spec = importlib.util.spec_from_file_location('openai_clip_model', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # openai's LayerNorm casts to float32 and back (for fp16 weights); the float64 reference must not
    mod.LayerNorm.forward = torch.nn.LayerNorm.forward
    return mod


def rn_scale(key, shape):
    """src/clip/resnet_weights.ts resnetSeededScale: (scale, offset)."""
    if re.search(r'\.bn\d\.|downsample\.1\.', key):
        return (0.1, 1.0) if key.endswith('.weight') or key.endswith('.running_var') else (0.1, 0.0)
    if key.endswith('positional_embedding'):
        return (0.1, 0.0)
    if key.endswith('.bias'):
        return (0.02, 0.0)
    fan_in = float(np.prod(shape[1:]))
    return (np.sqrt(3.0 / fan_in) if len(shape) == 4 else 1.0 / np.sqrt(fan_in), 0.0)  # convs keep the variance


def seed_visual(module, seed, prefix='visual.'):
    """Every float tensor of the module's state dict from the seeded generator (float32), keyed prefix + name."""
    sd = module.state_dict()
    for k, v in sd.items():
        if not v.is_floating_point():
            continue  # num_batches_tracked
        scale, offset = rn_scale(prefix + k, list(v.shape))
        v.copy_(torch.from_numpy(seeded_uniform(seed, prefix + k, v.numel(), scale, offset, np.float32)).reshape(v.shape))
    module.eval()


def seed_text(model, seed):
    """The tiny CLIP's text tower and logit scale (any fixed values: these weights are stored)."""
    sd = model.state_dict()
    for k, v in sd.items():
        if k.startswith('visual.') or not v.is_floating_point():
            continue
        if k == 'logit_scale':
            v.fill_(float(np.log(1 / 0.07)))
        elif 'ln_' in k:
            v.copy_(torch.from_numpy(seeded_uniform(seed, k, v.numel(), 0.1, 1.0 if k.endswith('weight') else 0.0,
                                                    np.float32)).reshape(v.shape))
        elif k.endswith('bias'):
            v.copy_(torch.from_numpy(seeded_uniform(seed, k, v.numel(), 0.02, 0.0, np.float32)).reshape(v.shape))
        elif 'embedding' in k:
            v.copy_(torch.from_numpy(seeded_uniform(seed, k, v.numel(), 0.1, 0.0, np.float32)).reshape(v.shape))
        else:
            fan = v.shape[0] if k == 'text_projection' else int(np.prod(v.shape[1:]))
            v.copy_(torch.from_numpy(seeded_uniform(seed, k, v.numel(), 1 / np.sqrt(fan), 0.0, np.float32)).reshape(v.shape))


# ---------------------------------------------------------------------------------------------------------
# The tower with named activations: forward hooks on openai's modules

def stage_modules(visual):
    """(name, module) of every stage whose output we name: visual.stem (the stem's AvgPool), visual.layerS.N."""
    out = [('visual.stem', visual.avgpool)]
    for s in range(1, 5):
        layer = getattr(visual, f'layer{s}')
        for i, block in enumerate(layer):
            out.append((f'visual.layer{s}.{i}', block))
    return out


def record(visual, x, grad_at=()):
    """Forward of openai's ModifiedResNet on x; returns (embedding, {name: activation}); activations named in
    grad_at keep their gradient (x too, as 'visual.pixels', when asked)."""
    acts = {}
    hooks = []
    for name, m in stage_modules(visual):
        def hook(mod, inp, out, name=name):
            if name in grad_at:
                out.retain_grad()
            acts[name] = out
        hooks.append(m.register_forward_hook(hook))
    try:
        emb = visual(x)
    finally:
        for h in hooks:
            h.remove()
    return emb, acts


def layer_alias(visual, name):
    """'visual.layer4' -> 'visual.layer4.<last>'."""
    m = re.fullmatch(r'visual\.layer(\d)', name)
    return f'{name}.{len(getattr(visual, f"layer{m.group(1)}")) - 1}' if m else name


class CamModel(torch.nn.Module):
    """What reference/cam_reference.py's DecomCAM and baselines read: vision_forward(x, acts) recording the target
    layer as (B, 1 + h*w, C) tokens (a zero row standing in for the class token, NCHW map transposed) through which
    the forward continues, so its gradient is the map's; logit_scale; config with the grid of the target layer."""

    def __init__(self, visual, logit_scale, S, layer):
        super().__init__()
        self.visual = visual
        self.logit_scale = logit_scale
        self.layer = layer
        self.module = dict(stage_modules(visual))[layer_alias(visual, layer)]
        with torch.no_grad():
            _, acts = record(visual, torch.zeros(1, 3, S, S, dtype=next(visual.parameters()).dtype))
        h = acts[layer_alias(visual, layer)].shape[-1]
        self.config = {'vision_config': {'image_size': S, 'patch_size': S // h}}

    def vision_forward(self, x, acts=None):
        def hook(mod, inp, out):
            B, C, h, w = out.shape
            seq = torch.cat([out.new_zeros(B, 1, C), out.flatten(2).transpose(1, 2)], 1)
            if acts is not None:
                acts[self.layer] = seq
            return seq[:, 1:, :].transpose(1, 2).reshape(B, C, h, w)
        handle = self.module.register_forward_hook(hook)
        try:
            return self.visual(x)
        finally:
            handle.remove()


cr.resolve_layer = lambda config, name: name  # ResNet layer names are canonical as given here


# ---------------------------------------------------------------------------------------------------------
# Layers alone

def ops_fixture(oc):
    out = {}
    for dt, dtype in [('f64', torch.float64), ('f32', torch.float32)]:
        # float32-representable values (so the f32 and f64 cases see the same inputs), computed in float64
        g = lambda name, n, scale=1.0, offset=0.0: torch.from_numpy(seeded_uniform(11, name, n, scale, offset, np.float32)).double()
        # BatchNorm2d, eval mode: 2 images, 5 channels, 4x3
        x = g('bn.x', 2 * 5 * 12, 2.0).reshape(2, 5, 4, 3)
        bn = torch.nn.BatchNorm2d(5).double().eval()
        with torch.no_grad():
            bn.weight.copy_(g('bn.weight', 5, 0.5, 1.0)); bn.bias.copy_(g('bn.bias', 5, 0.5))
            bn.running_mean.copy_(g('bn.mean', 5, 0.5)); bn.running_var.copy_(g('bn.var', 5, 0.5, 1.0))
        dout = g('bn.dout', x.numel()).reshape(x.shape)
        xs = x.to(dtype).double().requires_grad_(True)
        y = bn(xs)
        (y * dout).sum().backward()
        for k, v in [('x', x), ('weight', bn.weight), ('bias', bn.bias), ('mean', bn.running_mean), ('var', bn.running_var),
                     ('dout', dout), ('out', y), ('dx', xs.grad), ('dweight', bn.weight.grad), ('dbias', bn.bias.grad)]:
            out[f'{dt}.bn.{k}'] = v.detach().to(dtype)
        # AvgPool2d(2) and AvgPool2d(3) on 2x3x7x8 (ragged edges dropped)
        for k in (2, 3):
            x = g(f'pool{k}.x', 2 * 3 * 56, 2.0).reshape(2, 3, 7, 8)
            dout = g(f'pool{k}.dout', 2 * 3 * (7 // k) * (8 // k)).reshape(2, 3, 7 // k, 8 // k)
            xs = x.to(dtype).double().requires_grad_(True)
            y = torch.nn.AvgPool2d(k)(xs)
            (y * dout).sum().backward()
            for n, v in [('x', x), ('dout', dout), ('out', y), ('dx', xs.grad)]:
                out[f'{dt}.pool{k}.{n}'] = v.detach().to(dtype)
        # ReLU (a few exact zeros)
        x = g('relu.x', 50, 2.0)
        x[::7] = 0
        dout = g('relu.dout', 50)
        xs = x.to(dtype).double().requires_grad_(True)
        y = torch.relu(xs)
        (y * dout).sum().backward()
        for n, v in [('x', x), ('dout', dout), ('out', y), ('dx', xs.grad)]:
            out[f'{dt}.relu.{n}'] = v.detach().to(dtype)
        # AttentionPool2d(spacial 3, C 16, 4 heads, E 12) on 2 images
        ap = oc.AttentionPool2d(3, 16, 4, 12).double()
        for name, p in ap.named_parameters():
            with torch.no_grad():
                p.copy_(g(f'ap.{name}', p.numel(), 0.3).reshape(p.shape))
        x = g('ap.x', 2 * 16 * 9, 1.0).reshape(2, 16, 3, 3)
        dout = g('ap.dout', 2 * 12).reshape(2, 12)
        xs = x.to(dtype).double().requires_grad_(True)
        y = ap(xs)
        (y * dout).sum().backward()
        out[f'{dt}.ap.x'] = x.to(dtype)
        out[f'{dt}.ap.dout'] = dout.to(dtype)
        out[f'{dt}.ap.out'] = y.detach().to(dtype)
        out[f'{dt}.ap.dx'] = xs.grad.to(dtype)
        for name, p in ap.named_parameters():
            out[f'{dt}.ap.{name}'] = p.detach().to(dtype)
            out[f'{dt}.ap.d.{name}'] = p.grad.to(dtype)
    meta = {'command': 'reference/resnet_fixtures.py ops', **cr.versions(),
            'seeds': "seededUniform(11, '<op>.<tensor>', n, scale, offset) float64",
            'reference': 'torch float64 autograd of (out * dout).sum(); f32.* from inputs rounded to float32'}
    return out, meta


# ---------------------------------------------------------------------------------------------------------
# The tiny ResNet CLIP

def seeded_openai_clip(oc, c):
    """openai/CLIP's CLIP (module oc) of config c (TINY's keys) in float32, seeded by seed_visual / seed_text."""
    model = oc.CLIP(c['embed_dim'], c['image_resolution'], c['vision_layers'], c['vision_width'], None,
                    c['context_length'], c['vocab_size'], c['transformer_width'], c['transformer_heads'],
                    c['transformer_layers']).float()
    seed_visual(model.visual, c['seed'])
    seed_text(model, c['seed'])
    return model


def tiny_model(oc):
    model = seeded_openai_clip(oc, TINY)
    model.eval()
    return model


def write_tiny_folder(model):
    folder = os.path.join(FIXTURES, 'tiny_clip_rn')
    os.makedirs(folder, exist_ok=True)
    sd = {k: v.float() for k, v in model.state_dict().items() if v.is_floating_point()}
    st.save(os.path.join(folder, 'RN-tiny.safetensors'), sd, {'format': 'pt', 'source': 'reference/resnet_fixtures.py tiny'})
    for f in ('vocab.json', 'merges.txt'):
        shutil.copy(os.path.join(TINY_VOCAB, f), os.path.join(folder, f))
    return folder


def text_embedding(model, ids):
    row = ids + [0] * (model.context_length - len(ids))  # openai/CLIP's padding (pooling reads argmax = the eot)
    with torch.no_grad():
        return model.encode_text(torch.tensor([row]))[0]


def tiny_fixture(oc):
    model32 = tiny_model(oc)
    write_tiny_folder(model32)
    model = tiny_model(oc).double()  # the float32 weights in float64
    S = TINY['image_resolution']
    rgb = cr.seeded_rgb(TINY['rgb_seed'], S)
    pixels = cr.normalize(rgb)
    out = {}  # the crop is regenerated by the test (seededUniform, as 'rgb' in the meta says)
    ids = [cr.tiny_ids(TINY_VOCAB, p) for p in TINY['prompts']]
    meta = {'command': 'reference/resnet_fixtures.py tiny', **cr.versions(), 'model': 'reference/fixtures/tiny_clip_rn',
            'config': {k: v for k, v in TINY.items() if k not in ('prompts', 'P', 'topK', 'rgb_seed', 'scorecam_layer')},
            'scorecam_layer': TINY['scorecam_layer'],
            'rgb': f"seededUniform({TINY['rgb_seed']}, 'rgb', 3*{S}*{S}, 0.5, 0.5, 'float64') as (3,S,S)",
            'rgb_seed': TINY['rgb_seed'],
            'prompts': TINY['prompts'], 'ids': ids, 'P': TINY['P'], 'topK': TINY['topK'],
            'reference': 'openai/CLIP model.py (CLIP with vision_layers a tuple: ModifiedResNet) in float64 from the '
                         'float32 weights; f32.* round each model input to float32 as the TS float32 model does',
            'checks': {}}
    for p in model.parameters():
        p.requires_grad_(False)
    ls = model.logit_scale.detach()
    for dt, in_dtype in [('f32', torch.float32), ('f64', torch.float64)]:
        texts = [text_embedding(model, i) for i in ids]
        for k, t in enumerate(texts):
            out[f'{dt}.{k}.text.embeds'] = t.to(in_dtype)
        # every stage, and the cosine score's gradient at layer4, layer3 and the pixels
        x = cr.model_input(pixels, in_dtype)[None].clone().requires_grad_(True)
        emb, acts = record(model.visual, x, grad_at=('visual.layer4.1', 'visual.layer3.1'))
        score = F.cosine_similarity(emb, texts[0][None], dim=-1)[0]
        score.backward()
        for name, a in acts.items():
            out[f'{dt}.{name}'] = a.detach().to(in_dtype)
        out[f'{dt}.vision.embeds'] = emb.detach().to(in_dtype)
        out[f'{dt}.score.cosine'] = score.detach().reshape(1).to(in_dtype)
        out[f'{dt}.grad.visual.layer4'] = acts['visual.layer4.1'].grad.to(in_dtype)
        out[f'{dt}.grad.visual.layer3'] = acts['visual.layer3.1'].grad.to(in_dtype)
        if dt == 'f64':  # (the f32 test reads this one: the two differ by the input's float32 rounding, ~1e-8)
            out[f'{dt}.grad.visual.pixels'] = x.grad.to(in_dtype)
        # DecomCAM (both presets, text 0) and the baselines at visual.layer4
        cam = CamModel(model.visual, ls, S, 'visual.layer4')
        for preset in cr.PRESETS:
            P = TINY['P'][preset]
            tr = cr.decomcam(cam, rgb, texts[0], preset, in_dtype, P=P, layer='visual.layer4')
            # keep the file small: the first component's M, mask and perturbed image, and the blurred image (which
            # does not depend on the model), in f64 only; s holds every perturbed score
            keys = [k for k in cr.DECOM_KEYS if k not in ('M', 'masks', 'batch', 'blur')] + ['grads']
            cr.add(out, f'{dt}.0.{preset}', tr, keys, in_dtype)
            if dt == 'f64':
                cr.add(out, f'{dt}.0.{preset}', tr, ['blur'], in_dtype)
                for k in ('M', 'masks', 'batch'):
                    out[f'{dt}.0.{preset}.{k}0'] = tr[k][0].to(in_dtype)
            meta['checks'][f'{dt}.0.{preset}'] = cr.checks(tr, min(P, tr['alpha'].shape[0]))
        cr.add(out, dt, tr, ['acts'], in_dtype)
        # Score-CAM runs one forward per channel: at visual.stem (8 channels, 32 x 32), not layer4's 256
        cam1 = CamModel(model.visual, ls, S, TINY['scorecam_layer'])
        for name in cr.BASELINES:
            layer = TINY['scorecam_layer'] if name == 'scorecam' else 'visual.layer4'
            tr = cr.baseline(cam1 if name == 'scorecam' else cam, rgb, texts[0], name, in_dtype, layer=layer, topk=TINY['topK'])
            # the final map (pytorch-grad-cam's post-processing of raw, checked on the ViT) in f32 only
            cr.add(out, f'{dt}.{name}', tr, [k for k in cr.BASELINE_KEYS if k != 'map' or dt == 'f32'], in_dtype)
    return out, meta


# ---------------------------------------------------------------------------------------------------------
# The RN50-shaped tower (seeded, not stored)

def rn50_fixture(oc):
    c = RN50
    S = c['image_resolution']
    visual = oc.ModifiedResNet(c['layers'], c['embed_dim'], c['width'] * 32 // 64, S, c['width']).float()
    seed_visual(visual, c['seed'])
    visual = visual.double()
    for p in visual.parameters():
        p.requires_grad_(False)
    rgb = cr.seeded_rgb(c['rgb_seed'], S)
    ls = torch.tensor(c['logit_scale'], dtype=torch.float64)
    x = cr.model_input(cr.normalize(rgb), torch.float32)[None]
    with torch.no_grad():
        emb, acts = record(visual, x)
    # the target: seeded noise plus the image's own embedding (so that masks keeping the image score higher and
    # some component weights are not zero), rounded to float32 as the test reads it
    t = (torch.from_numpy(seeded_uniform(c['text_seed'], 'text', c['embed_dim'], 1.0, 0.0, np.float64)) + emb[0]).float().double()
    out = {'text': t.float()}
    out['visual.stem'] = acts['visual.stem'].float()
    for s, n in zip(range(1, 5), c['layers']):
        out[f'visual.layer{s}'] = acts[f'visual.layer{s}.{n - 1}'].float()
    out['vision.embeds'] = emb.float()
    # DecomCAM, official preset: S = logit_scale · <v, t>, P = 500 of 2048, at visual.layer4 (2 x 2 at 64 px, so
    # Q = 3 components of the 4 positions)
    cam = CamModel(visual, ls, S, 'visual.layer4')
    tr = cr.decomcam(cam, rgb, t, 'official', torch.float32, layer='visual.layer4', Q=c['Q'])
    cr.add(out, 'official', tr, ['score', 'cosine', 'grads', 'alpha', 'top', 'X', 'singular_values', 'ossm', 's', 'w', 'map'],
           torch.float32)
    out['official.M0'] = tr['M'][0].float()
    out['official.masks0'] = tr['masks'][0].float()
    out['official.batch0'] = tr['batch'][0].float()
    meta = {'command': 'reference/resnet_fixtures.py rn50', **cr.versions(), **{k: list(v) if isinstance(v, tuple) else v
                                                                                 for k, v in c.items()},
            'model': f"ModifiedResNet({list(c['layers'])}, {c['embed_dim']}, heads {c['width'] * 32 // 64}, {S}, "
                     f"width {c['width']}), weights seededUniform({c['seed']}, 'visual.<key>', …) float32",
            'rgb': f"seededUniform({c['rgb_seed']}, 'rgb', 3*{S}*{S}, 0.5, 0.5, 'float64') as (3,S,S)",
            'text': f"seededUniform({c['text_seed']}, 'text', {c['embed_dim']}, 1, 0, 'float64') + the image's embedding, as float32",
            'reference': 'openai/CLIP ModifiedResNet in float64 from the float32 weights, input rounded to float32; '
                         'stored as float32',
            'checks': {'official': cr.checks(tr, 500)}}
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clip-dir', default='/tmp/openai_clip')
    ap.add_argument('which', nargs='*', default=['ops', 'tiny', 'rn50'])
    args = ap.parse_args()
    oc = load_openai(args.clip_dir)
    torch.set_num_threads(2)
    for name, make in [('ops', ops_fixture), ('tiny', tiny_fixture), ('rn50', rn50_fixture)]:
        if name not in args.which:
            continue
        t0 = time.time()
        out, meta = make(oc)
        meta['seconds'] = round(time.time() - t0, 1)
        st.save(os.path.join(FIXTURES, f'resnet_{name}.safetensors'), out)
        with open(os.path.join(FIXTURES, f'resnet_{name}.json'), 'w') as f:
            json.dump(meta, f, indent=1)
            f.write('\n')
        print(name, f'{meta["seconds"]}s', json.dumps(meta.get('checks', {})))


if __name__ == '__main__':
    main()
