#!/usr/bin/env python3
"""oracles.py: fixtures written by the other projects' own code, run unmodified from local checkouts (issue 17).

    /usr/bin/python3 reference/third_party/oracles.py --clip CLIP --decomcam DECOMCAM --gradcam PGC [--models tiny,b16]

CLIP, DECOMCAM, PGC are work trees of github.com/openai/CLIP, github.com/CapricornGuang/DecomCAM and
github.com/jacobgil/pytorch-grad-cam (none of their code is committed here; each fixture's JSON records the commit
it ran against, read from the checkout's git metadata or given as --commits NAME=HASH). It writes, per model:

  oracle_clip_<m>      openai/CLIP: clip.tokenize ids, its preprocessing (torchvision) of a committed PNG, the
                       image and text embeddings (encode_image, encode_text) and CLIP.forward's logits
  oracle_decomcam_<m>  the authors' DecomCAM class (pytorch_grad_cam/decom_cam.py + base_cam.py), P = 500, Q = 10:
                       gradients and alpha at the layer, PCA scores (OSSMs), upsampled maps, blurred image,
                       perturbed batch and its scores, weights, final map; and the same run with scikit-learn
                       >= 1.5's PCA sign rule (emulated: see SignRule15PCA) to measure that difference
  oracle_gradcam_tiny  jacobgil/pytorch-grad-cam: GradCAM, GradCAM++, XGradCAM, LayerCAM, HiResCAM, EigenCAM,
                       EigenGradCAM, ScoreCAM final maps and raw (pre-ReLU) maps, with the CLIP wrapper below

Models: both are built by openai/CLIP's own build_model from an OpenAI-named state dict whose values come from
reference/seeded.py (bit-identical to src/tensor/rng.ts, so the TS test rebuilds them with seededClip and nothing
large is committed): `tiny` (vision width 128 -> 2 heads, 3 layers, 8-px patches at 64 px; text width 64 -> 1
head, 2 layers, CLIP's 49,408-token vocabulary; LayerNorm weights 1 +- 0.1 and biases +- 0.1) and `b16` (ViT-B/16).
The model runs in float32 on the CPU, as clip.load(device='cpu') does.

Target layer: visual.transformer.resblocks[-1].ln_1 (ours: vision.blocks.-1.ln_1); on rn50 the authors' own,
visual.layer4[-1] (ours: visual.layer4), with no reshape_transform. openai/CLIP's ViT runs its
blocks in LND layout (tokens, batch, width), so the reshape_transform (vit_grid below) permutes to batch first,
drops the class token and lays the h x w patch tokens out as (B, C, h, w) — the ViT reshape_transform of
pytorch-grad-cam's tutorials, plus that permute (the authors' clip_demo.py passes none: it explains RN50).

Each part runs in its own process: both DecomCAM and pytorch-grad-cam are packages named `pytorch_grad_cam`.
Packages Debian lacks (ftfy, ttach) get the stand-ins of reference/third_party/standins/ (identity fix_text;
ttach only constructed, never applied) when the real ones are not installed.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.dirname(HERE)
ROOT = os.path.dirname(REFERENCE)
FIXTURES = os.path.join(REFERENCE, 'fixtures')
sys.path.insert(0, REFERENCE)
import clip_model as cm  # noqa: E402  (ours: the seeded weights under HF names and their OpenAI renaming)
import st  # noqa: E402

# The two models: HF-style config (what the TS test parses), seed, test image and prompts (the first is explained).
MODELS = {
    'tiny': dict(
        config=cm.make_config(
            dict(hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=2, patch_size=8,
                 image_size=64),
            dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=1),
            projection_dim=64),
        seed=3, image='weights/tiny-clip/sample.png', prompts=['a blue triangle', 'a purple square', 'a photo of a cat'],
        full=True),
    'b16': dict(config=cm.vit_b16_config(), seed=2024, image='reference/fixtures/image.big.png',
                prompts=['a photo of a dog', 'a photo of a cat'], full=False),
    # CLIP RN50's image tower (ModifiedResNet [3,4,6,3], width 64, 224 px, E 1024: the authors' own backbone, at
    # their clip_demo.py's layer visual.layer4[-1]) with a small text tower (width 64, 1 layer, CLIP's vocabulary
    # and context): the config's (small) vision_config is unused, `resnet` replaces it
    'rn50': dict(config=cm.make_config(dict(hidden_size=64, intermediate_size=64, num_hidden_layers=1, num_attention_heads=1,
                                            patch_size=32, image_size=224),
                                       dict(hidden_size=64, intermediate_size=256, num_hidden_layers=1, num_attention_heads=1),
                                       projection_dim=1024),
                 resnet=dict(layers=[3, 4, 6, 3], width=64, image_resolution=224), seed=2024,
                 image='reference/fixtures/image.big.png', prompts=['a photo of a dog', 'a photo of a cat'], full=False),
}
P, Q = 500, 10
PROJECTS = {'clip': 'openai/CLIP', 'decomcam': 'CapricornGuang/DecomCAM', 'gradcam': 'jacobgil/pytorch-grad-cam'}


# ---------------------------------------------------------------------------------------------------------
# Shared set-up

def use_checkouts(args, *names):
    """Put the given checkouts first on sys.path, the stand-ins last (used only where the real package is absent)."""
    for name in names:
        sys.path.insert(0, getattr(args, name))
    sys.path.append(os.path.join(HERE, 'standins'))


def commit_of(path, given):
    if given:
        return given
    try:
        return subprocess.check_output(['git', '-C', path, 'rev-parse', 'HEAD'], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return 'unknown (pass --commits NAME=HASH)'


def openai_clip(spec):
    """openai/CLIP's build_model on our seeded state dict, in float32. build_model's convert_weights rounds the
    parameters to float16 (its checkpoints are float16 anyway); clip.load(device='cpu') then calls .float(). The
    seeded float32 values are loaded again afterwards so that the model holds exactly what seededClip builds.
    A ResNet: seededClip's ResNet tower is seeded under openai/CLIP's own names (visual.<key>,
    reference/resnet_fixtures.py's seed_visual), its text tower and logit scale as for a ViT."""
    from clip.model import build_model
    torch.manual_seed(0)  # CLIP.__init__ draws an initialisation that the state dict then replaces
    sd = cm.to_openai_state_dict(cm.seeded_clip(spec['config'], spec['seed']))
    if 'resnet' in spec:
        from clip.model import CLIP
        import resnet_fixtures as rf
        r, tc = spec['resnet'], spec['config']['text_config']
        model = CLIP(spec['config']['projection_dim'], r['image_resolution'], tuple(r['layers']), r['width'], None,
                     tc['max_position_embeddings'], tc['vocab_size'], tc['hidden_size'], tc['num_attention_heads'],
                     tc['num_hidden_layers']).float()
        rf.seed_visual(model.visual, spec['seed'])
        text = {k: v for k, v in sd.items() if not k.startswith('visual.')}
        missing, unexpected = model.load_state_dict(text, strict=False)
        assert not unexpected and all(k.startswith('visual.') for k in missing), (missing, unexpected)
        return model.eval()
    model = build_model(dict(sd)).float()
    model.load_state_dict(sd)  # strict: every tensor of the OpenAI layout, nothing extra
    return model.eval()


def preprocess(model, spec):
    """openai/CLIP's _transform(n_px) (torchvision Resize(BICUBIC) + CenterCrop + ToTensor + Normalize) of the PNG."""
    from PIL import Image
    from clip.clip import _transform
    image = Image.open(os.path.join(ROOT, spec['image']))
    return _transform(model.visual.input_resolution)(image).unsqueeze(0)


def emulate_fp16_activations(model):
    """The authors run clip.load(device='cuda'): a float16 model. torch 1.13 has no float16 matmul on the CPU and
    this machine no GPU, so it is emulated: the input and every module's output (and, through the casts, every
    gradient) rounded to float16, each op computing in float32 in between (as cuBLAS accumulates float16 GEMMs in
    float32); the weights stay as they are (a real checkpoint is float16 already)."""
    def round_out(module, inputs, out):
        if isinstance(out, torch.Tensor):
            return out.half().float()
        if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
            return (out[0].half().float(), *out[1:])
        return out
    for mod in model.modules():
        if mod is not model:
            mod.register_forward_hook(round_out)
    model.visual.register_forward_pre_hook(lambda mod, inp: (inp[0].half().float(), *inp[1:]))


def vit_grid(model):
    """reshape_transform for openai/CLIP's ViT blocks: (N, B, C) LND -> batch first, class token dropped ->
    (B, C, h, w) with the patch tokens row-major over the grid."""
    g = model.visual.input_resolution // model.visual.conv1.kernel_size[0]

    def reshape(t):
        t = t.permute(1, 0, 2)[:, 1:, :]
        return t.reshape(t.size(0), g, g, t.size(2)).permute(0, 3, 1, 2)
    return reshape


def target_layer(model):
    """The ViT's last block's ln_1; a ResNet's last bottleneck (clip_demo.py's model.visual.layer4[-1])."""
    if hasattr(model.visual, 'layer4'):
        return model.visual.layer4[-1]
    return model.visual.transformer.resblocks[-1].ln_1


def grid_transform(model):
    """The reshape_transform a layer needs: vit_grid for a ViT; none for a ResNet, whose maps are (B, C, h, w)."""
    return None if hasattr(model.visual, 'layer4') else vit_grid(model)


def grid_rows(x):
    """(1, C, h, w) numpy -> (h*w, C), the layout of our traces (src/cam/template.ts)."""
    x = np.asarray(x)[0]
    return x.reshape(x.shape[0], -1).T.copy()


def write(name, tensors, meta):
    """reference/fixtures/<name>.safetensors (token ids int32, everything else float32) and <name>.json."""
    st.save(os.path.join(FIXTURES, f'{name}.safetensors'),
            {k: np.ascontiguousarray(v, dtype=np.int32 if v.dtype == np.int32 else np.float32) for k, v in tensors.items()})
    with open(os.path.join(FIXTURES, f'{name}.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f'wrote reference/fixtures/{name}.{{safetensors,json}}: {len(tensors)} tensors', file=sys.stderr)


def base_meta(args, m, spec, projects):
    import clip
    import scipy
    import sklearn
    return {
        'command': f'/usr/bin/python3 reference/third_party/oracles.py --clip CLIP --decomcam DECOMCAM --gradcam PGC '
                   f'(this file: part {args.part}, model {m})',
        'model': m, 'model_seed': spec['seed'], 'config': spec['config'], 'image': spec['image'],
        'prompts': spec['prompts'], 'ids': clip.tokenize(spec['prompts']).tolist(),
        'layer': ('visual.layer4 (visual.layer4[-1])' if 'resnet' in spec
                  else 'vision.blocks.-1.ln_1 (visual.transformer.resblocks[-1].ln_1)'),
        **({'resnet': spec['resnet']} if 'resnet' in spec else {}),
        'projects': {PROJECTS[p]: commit_of(getattr(args, p), args.commit.get(p)) for p in projects},
        'torch': torch.__version__, 'numpy': np.__version__, 'scipy': scipy.__version__, 'sklearn': sklearn.__version__,
        'threads': torch.get_num_threads(), 'dtype': 'float32 (CPU)',
    }


# ---------------------------------------------------------------------------------------------------------
# Part 1: openai/CLIP itself

def part_clip(args, m, spec):
    import clip
    model = openai_clip(spec)
    pixels = preprocess(model, spec)
    ids = clip.tokenize(spec['prompts'])
    with torch.no_grad():
        img = model.encode_image(pixels)
        txt = model.encode_text(ids)
        logits_per_image, _ = model(pixels, ids)
    meta = base_meta(args, m, spec, ['clip'])
    meta['logit_scale'] = float(model.logit_scale)
    write(f'oracle_clip_{m}', {
        'ids': ids.to(torch.int32).numpy(), 'pixels': pixels.numpy(), 'image.embeds': img.numpy(),
        'text.embeds': txt.numpy(), 'logits_per_image': logits_per_image.numpy(),
    }, meta)


# ---------------------------------------------------------------------------------------------------------
# Part 2: the authors' DecomCAM, instrumented from outside (module names rebound to recording wrappers)

def part_decomcam(args, m, spec):
    from sklearn.decomposition import PCA
    from sklearn.utils.extmath import svd_flip
    import pytorch_grad_cam.decom_cam as dc
    from pytorch_grad_cam import DecomCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rec = {}

    class RecordingPCA(PCA):
        """sklearn's PCA as the authors call it; records X, the scores and the singular values."""
        def fit_transform(self, X, y=None):
            out = super().fit_transform(X, y)
            rec['X'] = np.asarray(X).copy()
            rec['scores'] = np.asarray(out).copy()
            rec['singular_values'] = self.singular_values_.copy()
            return out

    class SignRule15PCA(RecordingPCA):
        """scikit-learn >= 1.5's sign rule emulated on 1.2: PCA there calls svd_flip(u_based_decision=False) (each
        component's largest-|.| loading positive) instead of the u-based rule (each score column's largest-|.|
        entry positive, ours and < 1.5's). Same components, scores negated where the two rules disagree."""
        def fit_transform(self, X, y=None):
            out = np.asarray(super().fit_transform(X, y))
            _, vt = svd_flip(out.copy(), self.components_.copy(), u_based_decision=False)
            flip = np.sign(np.sum(vt * self.components_, axis=1))
            rec['flip'] = flip.copy()
            rec['scores'] = out * flip[None, :].astype(out.dtype)
            return rec['scores']

    class RecordingF:
        """torch.nn.functional with interpolate recorded (the upsampled maps M_q)."""
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        def interpolate(self, *a, **k):
            out = torch.nn.functional.interpolate(*a, **k)
            rec.setdefault('M', []).append(out.detach().squeeze().numpy().copy())
            return out

    real_blur = dc.gaussian_blur_image

    def recording_blur(image_np, *a, **k):
        out = real_blur(image_np, *a, **k)
        rec['blur'] = out.copy()
        return out

    class RecordingTarget(ClassifierOutputTarget):
        """Their ClassifierOutputTarget(prompt): BaseCAM.forward replaces the prompt by logit_scale * encode_text;
        records every score it gives (the image's, then the perturbed batch's)."""
        def __call__(self, model_output):
            out = super().__call__(model_output)
            rec.setdefault('scores_seen', []).append(out.detach().numpy().copy())
            return out

    class RecordingScale(dc.ScaleNormalize):
        def transformVal(self, val):
            out = super().transformVal(val)
            rec.setdefault('weight_of', []).append((float(np.asarray(val).ravel()[0]), float(np.asarray(out).ravel()[0])))
            return out

    def run(pca_class, fp16=False):
        rec.clear()
        dc.PCA, dc.F, dc.gaussian_blur_image, dc.ScaleNormalize = pca_class, RecordingF(), recording_blur, RecordingScale
        model = openai_clip(spec)
        if fp16:
            emulate_fp16_activations(model)
        pixels = preprocess(model, spec)
        inputs = []
        hook = model.visual.register_forward_pre_hook(lambda mod, inp: inputs.append(inp[0].detach().clone()))
        cam = DecomCAM(model=model, target_layers=[target_layer(model)], reshape_transform=grid_transform(model),
                       n_components=Q, p=P)
        t0 = time.time()
        final = cam(input_tensor=pixels, targets=[RecordingTarget(spec['prompts'][0])])
        seconds = time.time() - t0
        hook.remove()
        s = np.asarray(rec['scores_seen'][1]).reshape(-1)
        w = np.zeros(Q)
        for q, sq in enumerate(s):  # the weights their ScaleNormalize gave (0 where s_q < 0.001)
            for val, out in rec.get('weight_of', []):
                if val == float(sq):
                    w[q] = out
        out = {
            'pixels': pixels.numpy(), 'score': np.asarray(rec['scores_seen'][0]).reshape(1),
            'acts': grid_rows(cam.activations_and_grads.activations[0].numpy()),
            'grads': grid_rows(cam.activations_and_grads.gradients[0].numpy()),
            'alpha': np.mean(cam.activations_and_grads.gradients[0].numpy(), axis=(2, 3)).reshape(-1),
            'X': rec['X'], 'singular_values': rec['singular_values'],
            'ossm': rec['scores'].T.reshape(Q, *cam.activations_and_grads.gradients[0].shape[2:]),
            'M': np.stack(rec['M']), 'blur': rec['blur'].transpose(2, 0, 1), 'batch': inputs[1][:2].numpy(),  # first 2 of Q
            's': s, 'weights': w, 'map': final[0],
        }
        return out, seconds, rec.get('flip')

    official, seconds, _ = run(RecordingPCA)
    flipped, _, flip = run(SignRule15PCA)
    half, _, _ = run(RecordingPCA, fp16=True)
    # the ViT-B/16's (S, S) arrays are 200 kB each: its fixture keeps the final map only (its pixels are in
    # oracle_clip_b16), and the maps of the two measured differences only as their max |d| in the JSON
    keep = ['score', 'alpha', 'singular_values', 'ossm', 's', 'weights', 'map']
    if spec['full']:
        keep += ['pixels', 'acts', 'grads', 'X', 'M', 'blur', 'batch']
    tensors = {k: official[k] for k in keep}
    tensors.update({'sklearn15.ossm': flipped['ossm'], 'sklearn15.s': flipped['s'],
                    'sklearn15.weights': flipped['weights'], 'fp16.s': half['s'], 'fp16.weights': half['weights']})
    if spec['full']:
        tensors.update({'sklearn15.map': flipped['map'], 'fp16.map': half['map']})
    meta = base_meta(args, m, spec, ['clip', 'decomcam'])
    meta.update({
        'class': 'pytorch_grad_cam.decom_cam.DecomCAM(model, target_layers, reshape_transform, n_components=10, p=500)',
        'target': 'pytorch_grad_cam.utils.model_targets.ClassifierOutputTarget(prompts[0]) (BaseCAM: logit_scale * encode_text)',
        'preset': 'official', 'P': P, 'Q': Q, 'seconds': round(seconds, 2),
        'sklearn15_flipped_components': [int(q) for q in np.nonzero(flip < 0)[0]],
        'sklearn15_map_max_abs_diff': float(np.max(np.abs(flipped['map'] - official['map']))),
        'fp16_map_max_abs_diff': float(np.max(np.abs(half['map'] - official['map']))),
        'fp16_emulation': emulate_fp16_activations.__doc__.strip(),
    })
    write(f'oracle_decomcam_{m}', tensors, meta)


# ---------------------------------------------------------------------------------------------------------
# Part 3: jacobgil/pytorch-grad-cam's baselines with a CLIP wrapper

class CosineToText:
    """pytorch-grad-cam target for CLIP: the model is CLIP's image tower (model.visual, image -> embedding (B, E));
    the target scores one embedding row as the cosine with the text's embedding (our `paper` preset's score,
    src/cam/target.ts 'cosine'). ScoreCAM calls it per image row, the gradient methods on the single image."""
    def __init__(self, text_embedding):
        self.t = text_embedding.detach().reshape(-1)

    def __call__(self, model_output):
        return torch.nn.functional.cosine_similarity(model_output.reshape(-1), self.t, dim=0)


def part_gradcam(args, m, spec):
    import clip
    import pytorch_grad_cam as pgc
    methods = {'gradcam': pgc.GradCAM, 'gradcampp': pgc.GradCAMPlusPlus, 'xgradcam': pgc.XGradCAM,
               'layercam': pgc.LayerCAM, 'hirescam': pgc.HiResCAM, 'eigencam': pgc.EigenCAM,
               'eigengradcam': pgc.EigenGradCAM, 'scorecam': pgc.ScoreCAM}
    model = openai_clip(spec)
    pixels = preprocess(model, spec)
    with torch.no_grad():
        text = model.encode_text(clip.tokenize(spec['prompts'][:1]))[0]
    tensors, seconds, signs = {'pixels': pixels.numpy()}, {}, {}

    def run(cls, sign_rule):
        raw = []

        class Recording(cls):
            """records get_cam_image's map (h, w) before BaseCAM's ReLU; with sign_rule, first gives an Eigen
            projection the sign of scikit-learn's svd_flip (its largest-|.| entry positive), as ours does, where
            np.linalg.svd leaves it free (a measured difference, not their code's choice)."""
            def get_cam_image(self, *a, **k):
                out = super().get_cam_image(*a, **k)
                if sign_rule:
                    flat = out.reshape(len(out), -1)
                    out = out * np.sign(flat[np.arange(len(out)), np.argmax(np.abs(flat), axis=1)])[:, None, None]
                raw.append(np.asarray(out).copy())
                return out
        cam = Recording(model=model.visual, target_layers=[target_layer(model)], reshape_transform=vit_grid(model))
        t0 = time.time()
        final = cam(input_tensor=pixels, targets=[CosineToText(text)])
        cam.activations_and_grads.release()
        return raw[0][0], final[0], round(time.time() - t0, 2)

    for name, cls in methods.items():
        tensors[f'{name}.raw'], tensors[f'{name}.map'], seconds[name] = run(cls, False)
        if name in ('eigencam', 'eigengradcam'):
            raw, tensors[f'{name}.svdflip.map'], _ = run(cls, True)
            signs[name] = int(np.sign(np.sum(raw * tensors[f'{name}.raw'])))
    meta = base_meta(args, m, spec, ['clip', 'gradcam'])
    meta.update({
        'model_wrapper': 'model.visual (image -> embedding); target CosineToText: cosine(embedding, encode_text(prompts[0]))',
        'reshape_transform': 'vit_grid: LND -> (B, C, h, w), class token dropped', 'seconds': seconds,
        'eigen_sign_vs_svdflip': signs,
        'postprocess': 'BaseCAM: ReLU, scale_cam_image (min-max 1e-7, cv2.resize INTER_LINEAR to the input), ReLU, '
                       'mean over the one layer, min-max again',
    })
    write(f'oracle_gradcam_{m}', tensors, meta)


# ---------------------------------------------------------------------------------------------------------

PARTS = {'clip': (part_clip, ['clip']), 'decomcam': (part_decomcam, ['clip', 'decomcam']),
         'gradcam': (part_gradcam, ['clip', 'gradcam'])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clip', required=True, help='work tree of github.com/openai/CLIP')
    ap.add_argument('--decomcam', required=True, help='work tree of github.com/CapricornGuang/DecomCAM')
    ap.add_argument('--gradcam', required=True, help='work tree of github.com/jacobgil/pytorch-grad-cam')
    ap.add_argument('--commits', default='', help='NAME=HASH,... (clip, decomcam, gradcam) where a tree has no .git')
    ap.add_argument('--models', default='tiny,b16,rn50')
    ap.add_argument('--parts', default='clip,decomcam,gradcam')
    ap.add_argument('--part', help=argparse.SUPPRESS)   # internal: run one part of one model in this process
    ap.add_argument('--model', help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.commit = dict(kv.split('=', 1) for kv in args.commits.split(',') if kv)
    torch.set_num_threads(int(os.environ.get('ORACLE_THREADS', '2')))
    if args.part:
        fn, projects = PARTS[args.part]
        use_checkouts(args, *projects)
        fn(args, args.model, MODELS[args.model])
        return
    for m in args.models.split(','):
        for part in args.parts.split(','):
            if part == 'gradcam' and m != 'tiny':
                continue  # ScoreCAM on ViT-B/16 is 768 forwards; the baselines are checked on the tiny model
            subprocess.check_call([sys.executable, os.path.abspath(__file__), *sys.argv[1:], '--part', part,
                                   '--model', m])


if __name__ == '__main__':
    main()
