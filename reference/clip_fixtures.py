"""clip_fixtures.py: PyTorch fixtures for the TypeScript CLIP (test/clip.test.js, test/nn.test.js).

Writes to reference/fixtures/ (each .safetensors with one named tensor per stage, beside a .json of seed,
versions and command):
  clip_ops_{f32,f64}       every layer op alone: inputs, outputs, and autograd of (out * dout).sum()
  clip_tiny_{f32,f64}      the tiny seeded CLIP (quick_gelu): every vision intermediate, embeddings, logits,
                           gradients of a cosine score at several layers, some weight gradients
  clip_tiny_gelu_{f32,f64} a second tiny seeded CLIP (gelu, 4 heads, 3x3 grid): intermediates and gradients
  clip_b16                 seeded full-size ViT-B/16 (weights generated, never stored): image and text
                           embeddings, blocks.5 and blocks.11.ln_1, gradient at blocks.11.ln_1
  tiny_clip_hf/            the tiny model as a Hugging Face folder (config.json, model.safetensors, vocab.json,
                           merges.txt); tiny_clip_openai/ the same weights under openai/CLIP names
Run: cd reference && /usr/bin/python3 clip_fixtures.py [--skip-b16]
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from make_caption_vocab import bytes_to_unicode  # noqa: E402  (OpenAI's byte table, written once)
from clip_model import (ACTIVATIONS, CLIP, cosine_score, make_config, save_hf, save_openai, seeded_clip,  # noqa: E402
                        seeded_pixels, vision_grads)
from seeded import seeded_uniform  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'fixtures')
COMMAND = 'cd reference && /usr/bin/python3 clip_fixtures.py'
DTYPES = {'f32': torch.float32, 'f64': torch.float64}


def write(name, tensors, meta):
    path = os.path.join(OUT, name + '.safetensors')
    st.save(path, {k: (v.detach().contiguous() if torch.is_tensor(v) else v) for k, v in tensors.items()})
    info = {'torch': torch.__version__, 'numpy': np.__version__, 'command': COMMAND, **meta}
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(info, f, indent=2)
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB, {len(tensors)} tensors)')


def seeded(seed, name, shape, dtype, scale=1.0, offset=0.0):
    """A seeded tensor, identical in TS: seededUniform(seed, name, n, scale, offset, dtype)."""
    n = int(np.prod(shape))
    vals = seeded_uniform(seed, name, n, scale, offset, np.float64 if dtype == torch.float64 else np.float32)
    return torch.from_numpy(vals).view(*shape)


# ---------------------------------------------------------------------------------------------------------
# A tiny CLIP vocabulary: byte symbols, the same with '</w>', one symbol per merge, then the two specials,
# as openai/CLIP's SimpleTokenizer builds it. Words are merged left to right, so each becomes one token.

def tiny_vocab(words):
    merges = []
    for w in words:
        syms = list(w[:-1]) + [w[-1] + '</w>']
        while len(syms) > 1:
            m = (syms[0], syms[1])
            if m not in merges:
                merges.append(m)
            syms = [syms[0] + syms[1]] + syms[2:]
    byte_syms = list(bytes_to_unicode().values())
    symbols = byte_syms + [s + '</w>' for s in byte_syms] + [a + b for a, b in merges]
    symbols += ['<|startoftext|>', '<|endoftext|>']
    return {s: i for i, s in enumerate(symbols)}, merges


def bpe_ids(text, vocab, merges):
    """CLIP BPE for lower-case ASCII words separated by spaces (all the fixtures use)."""
    ranks = {m: i for i, m in enumerate(merges)}
    ids = []
    for w in text.lower().split():
        syms = list(w[:-1]) + [w[-1] + '</w>']
        while len(syms) > 1:
            pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            r, i = min(pairs)
            if r == 1 << 30:
                break
            first, second = syms[i], syms[i + 1]
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == first and syms[j + 1] == second:
                    out.append(first + second)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            syms = out
        ids += [vocab[s] for s in syms]
    return ids


def token_rows(texts, vocab, merges, context, pad):
    """(Bt, context) int64: [sot, ids, eot, pad...]; pad 'zero' (OpenAI) or 'eot' (HF)."""
    sot, eot = vocab['<|startoftext|>'], vocab['<|endoftext|>']
    rows = []
    for t in texts:
        ids = [sot] + bpe_ids(t, vocab, merges) + [eot]
        rows.append(ids + [0 if pad == 'zero' else eot] * (context - len(ids)))
    return torch.tensor(rows, dtype=torch.int64)


TINY_WORDS = ['a', 'photo', 'of', 'cat', 'dog', 'red', 'blue', 'green', 'circle', 'square', 'triangle', 'and']
TINY_TEXTS = ['a photo of a cat', 'a red circle and a blue square', 'a green triangle']


# ---------------------------------------------------------------------------------------------------------
# Per-op fixtures: each op alone, autograd of (out * dout).sum() with a seeded dout.

def op_fixtures(dt):
    dtype = DTYPES[dt]
    seed = 101
    T = {}

    def inp(name, shape, scale=1.0, offset=0.0):
        x = seeded(seed, name, shape, dtype, scale, offset).requires_grad_(True)
        T[name] = x
        return x

    def backprop(prefix, out, leaves):
        dout = seeded(seed, prefix + '.dout', tuple(out.shape), dtype)
        T[prefix + '.out'] = out
        T[prefix + '.dout'] = dout
        grads = torch.autograd.grad((out * dout).sum(), [l for _, l in leaves])
        for (name, _), g in zip(leaves, grads):
            T[prefix + '.d' + name] = g

    # linear, sizes with and without the 4 x 4 tiles' edges
    for tag, (M, K, N) in {'linear_a': (7, 9, 6), 'linear_b': (12, 16, 8), 'linear_c': (5, 3, 11)}.items():
        x = inp(f'{tag}.inp', (M, K))
        w = inp(f'{tag}.w', (N, K), 0.5)
        b = inp(f'{tag}.b', (N,), 0.5)
        backprop(tag, F.linear(x, w, b), [('inp', x), ('w', w), ('b', b)])
    # layer norm (eps 1e-5), rows with an offset so the mean matters
    x = inp('layernorm.inp', (6, 10), 2.0, 0.7)
    w = inp('layernorm.w', (10,), 0.3, 1.0)
    b = inp('layernorm.b', (10,), 0.3)
    backprop('layernorm', F.layer_norm(x, (10,), w, b, 1e-5), [('inp', x), ('w', w), ('b', b)])
    # activations over (-8, 8)
    for act in ['quick_gelu', 'gelu']:
        x = inp(f'{act}.inp', (400,), 8.0)
        backprop(act, ACTIVATIONS[act](x), [('inp', x)])
    # attention core: B 2, N 5, H 3, hd 4; full, causal, and class-token-only (nq = 1)
    B, N, H, hd = 2, 5, 3, 4
    D = H * hd
    for tag, causal, nq in [('attention', False, N), ('attention_causal', True, N), ('attention_cls', False, 1)]:
        qkv = inp(f'{tag}.qkv', (B, N, 3 * D), 1.5)
        q, k, v = (t.view(B, N, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))
        s = (q @ k.transpose(-2, -1)) * hd ** -0.5
        if causal:
            s = s.masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1), float('-inf'))
        att = torch.softmax(s, -1)[:, :, :nq]                    # (B,H,nq,N)
        out = (att @ v).transpose(1, 2).reshape(B, nq, D)
        T[f'{tag}.att'] = att
        backprop(tag, out, [('qkv', qkv)])
    # patch embedding + class token + positions: B 2, image 16 x 24 (2 x 3 grid of 8-pixel patches), D 5
    pix = inp('embed.pixels', (2, 3, 16, 24))
    w = inp('embed.w', (5, 3, 8, 8), 0.2)
    cls = inp('embed.cls', (5,))
    pos = inp('embed.pos', (7, 5))
    patches = F.conv2d(pix, w, stride=8).flatten(2).transpose(1, 2)
    x = torch.cat([cls.expand(2, 1, -1), patches], 1) + pos
    backprop('embed', x, [('pixels', pix), ('w', w), ('cls', cls), ('pos', pos)])
    return {k: v.detach() for k, v in T.items()}, {'seed': seed}


def block_fixtures(dt, T):
    """One whole block (vision and causal), every weight gradient: B 2, N 5, D 12, H 3, F 20."""
    from clip_model import EncoderLayer
    dtype = DTYPES[dt]
    seed = 102
    B, N, D, H, Fw = 2, 5, 12, 3, 20
    for tag, causal, act in [('block', False, 'quick_gelu'), ('block_causal', True, 'gelu')]:
        layer = EncoderLayer(dict(hidden_size=D, intermediate_size=Fw, num_attention_heads=H,
                                  hidden_act=act, layer_norm_eps=1e-5)).to(dtype)
        with torch.no_grad():
            for name, p in layer.named_parameters():
                p.copy_(seeded(seed, f'{tag}.{name}', tuple(p.shape), dtype, 0.3, 1.0 if 'layer_norm' in name and name.endswith('weight') else 0.0))
                T[f'{tag}.{name}'] = p.detach().clone()
        x = seeded(seed, f'{tag}.inp', (B, N, D), dtype, 1.5).requires_grad_(True)
        acts = {}
        out = layer(x, causal, acts, tag)
        dout = seeded(seed, f'{tag}.dout', (B, N, D), dtype)
        T[f'{tag}.inp'] = x.detach()
        T[f'{tag}.out'] = out.detach()
        T[f'{tag}.dout'] = dout
        params = list(layer.named_parameters())
        grads = torch.autograd.grad((out * dout).sum(), [x] + [p for _, p in params])
        T[f'{tag}.dinp'] = grads[0]
        for (name, _), g in zip(params, grads[1:]):
            T[f'{tag}.d.{name}'] = g
    return {'block_seed': seed, 'block_dims': dict(B=B, N=N, D=D, H=H, F=Fw)}


# ---------------------------------------------------------------------------------------------------------
# Whole-model fixtures

def tiny_config(V):
    return make_config(
        dict(hidden_size=128, intermediate_size=256, num_hidden_layers=3, num_attention_heads=2,
             patch_size=8, image_size=32, hidden_act='quick_gelu'),
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
             max_position_embeddings=77, vocab_size=V, eos_token_id=V - 1, bos_token_id=V - 2, hidden_act='quick_gelu'),
        projection_dim=32)


def tiny_gelu_config():
    return make_config(
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             patch_size=8, image_size=24, hidden_act='gelu'),
        dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=16, vocab_size=100, eos_token_id=99, bos_token_id=98, hidden_act='gelu'),
        projection_dim=16)


TINY_GRAD_LAYERS = {
    'tiny': ['vision.pixels_', 'vision.embed', 'vision.ln_pre', 'vision.blocks.0.attn', 'vision.blocks.0',
             'vision.blocks.1.ln_2', 'vision.blocks.1.mid', 'vision.blocks.2.ln_1', 'vision.blocks.2.input',
             'vision.blocks.2.mlp', 'vision.blocks.2'],
    'tiny_gelu': ['vision.pixels_', 'vision.blocks.0.ln_2', 'vision.blocks.1.ln_1', 'vision.blocks.1.attn'],
}
# weight gradients checked (HF names), from the whole-model backward to the pixels
TINY_WEIGHT_GRADS = [
    'vision_model.embeddings.class_embedding', 'vision_model.embeddings.position_embedding.weight',
    'vision_model.pre_layrnorm.weight', 'vision_model.encoder.layers.0.self_attn.v_proj.bias',
    'vision_model.encoder.layers.1.layer_norm1.weight', 'vision_model.encoder.layers.1.mlp.fc1.bias',
    'vision_model.encoder.layers.2.self_attn.out_proj.weight', 'vision_model.encoder.layers.2.layer_norm2.bias',
    'vision_model.post_layernorm.weight', 'visual_projection.weight',
]
# the float64 files keep fewer stages (the float32 ones name a failing stage; float64 confirms the answer)
F64_STAGES = ('.ln_1', '.attn', '.ln_2', '.mlp')


def keep_stage(name, dt):
    if dt == 'f32' or not name.startswith('vision.blocks.'):
        return True
    return name.endswith(F64_STAGES) or name.count('.') == 2  # a block's output: 'vision.blocks.N'


def model_fixture(kind, config, ids, dt, model_seed, pixel_seed, B, half=False):
    """half: the model's weights are the seeded float32 ones rounded to float16 (as OpenAI ships its weights;
    the checkpoints are then stored as F16 at half the size)."""
    dtype = DTYPES[dt]
    if half:
        half_model = seeded_clip(config, model_seed, torch.float32).half()
        model = CLIP(config).to(dtype)
        model.load_state_dict({k: v.to(dtype) for k, v in half_model.state_dict().items()})
    else:
        model = seeded_clip(config, model_seed, dtype)
    S = config['vision_config']['image_size']
    pixels = seeded_pixels(pixel_seed, (B, 3, S, S), dtype).requires_grad_(True)
    T = {'pixels': pixels.detach(), 'text.ids': ids.to(torch.int32), 'logit_scale': model.logit_scale.detach()}
    text = model.encode_text(ids).detach()
    T['text.embeds'] = text
    layers = [l for l in TINY_GRAD_LAYERS[kind] if l != 'vision.pixels_']
    acts = {}
    emb = model.vision_forward(pixels, acts)
    for name in layers:
        acts[name].retain_grad()
    score = cosine_score(text[0])(emb)
    emb.retain_grad()
    score.backward()
    for name, t in acts.items():
        if keep_stage(name, dt):
            T[name] = t.detach()
        if name in layers:
            T['grad.' + name] = t.grad
    T['grad.vision.pixels'] = pixels.grad
    T['score'] = score.detach().reshape(1)
    T['score.dembeds'] = emb.grad
    v = F.normalize(emb.detach(), dim=-1)
    t = F.normalize(text, dim=-1)
    T['logits'] = model.logit_scale.detach().exp() * v @ t.T
    if kind == 'tiny':
        params = dict(model.named_parameters())
        for name in TINY_WEIGHT_GRADS:
            T['wgrad.' + name] = params[name].grad
    meta = {'model_seed': model_seed, 'pixel_seed': pixel_seed, 'config': config, 'score': 'sum_b cos(v_b, t_0)',
            'grad_layers': layers + ['vision.pixels'], 'weights': 'float16-rounded seeded' if half else 'seeded'}
    return (half_model if half else model), T, meta


def tiny_fixtures():
    vocab, merges = tiny_vocab(TINY_WORDS)
    V = len(vocab)
    config = tiny_config(V)
    # text 0 zero-padded (OpenAI), text 1 eot-padded (HF), text 2 zero-padded, text 3 = text 0 eot-padded
    rows = [token_rows([TINY_TEXTS[0]], vocab, merges, 77, 'zero'), token_rows([TINY_TEXTS[1]], vocab, merges, 77, 'eot'),
            token_rows([TINY_TEXTS[2]], vocab, merges, 77, 'zero'), token_rows([TINY_TEXTS[0]], vocab, merges, 77, 'eot')]
    ids = torch.cat(rows, 0)
    for dt in DTYPES:
        model, T, meta = model_fixture('tiny', config, ids, dt, model_seed=7, pixel_seed=11, B=2, half=True)
        meta['texts'] = TINY_TEXTS + [TINY_TEXTS[0] + ' (eot-padded)']
        write(f'clip_tiny_{dt}', T, meta)
        if dt == 'f32':
            # the same weights as checkpoints in both layouts, plus the tiny vocabulary
            hf = os.path.join(OUT, 'tiny_clip_hf')
            save_hf(model, hf, {'seed': '7'})
            with open(os.path.join(hf, 'vocab.json'), 'w') as f:
                json.dump(vocab, f, ensure_ascii=False)
            with open(os.path.join(hf, 'merges.txt'), 'w') as f:
                f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
            oa = os.path.join(OUT, 'tiny_clip_openai')
            os.makedirs(oa, exist_ok=True)
            save_openai(model, os.path.join(oa, 'tiny_clip.safetensors'), {'seed': '7'})
            for f in ['vocab.json', 'merges.txt']:
                with open(os.path.join(hf, f)) as src, open(os.path.join(oa, f), 'w') as dst:
                    dst.write(src.read())
            print(f'wrote {hf}/ and {oa}/ (V = {V})')
    gcfg = tiny_gelu_config()
    gids = torch.tensor([[98, 5, 17, 42, 99] + [0] * 11, [98, 3, 99] + [99] * 13])
    for dt in DTYPES:
        _, T, meta = model_fixture('tiny_gelu', gcfg, gids, dt, model_seed=8, pixel_seed=12, B=2)
        write(f'clip_tiny_gelu_{dt}', T, meta)


def b16_fixture():
    """Seeded ViT-B/16, reference in float64 from the float32 weights and pixels (the exact answer for the
    float32 model); the torch float32 run's distance from it is recorded in the .json."""
    from clip_model import vit_b16_config
    config = vit_b16_config()
    seed, pixel_seed = 2024, 2025
    t0 = time.time()
    m32 = seeded_clip(config, seed, torch.float32)
    m64 = seeded_clip(config, seed, torch.float32).double()
    x32 = seeded_pixels(pixel_seed, (1, 3, 224, 224), torch.float32)
    # 'a photo of a cat' zero-padded (OpenAI) and eot-padded (HF), 'a photo of a dog': CLIP's BPE ids
    cat = [49406, 320, 1125, 539, 320, 2368, 49407]
    dog = [49406, 320, 1125, 539, 320, 1929, 49407]
    ids = torch.tensor([cat + [0] * 70, cat + [49407] * 70, dog + [0] * 70])
    out = {}
    layers = ['vision.blocks.5', 'vision.blocks.11.ln_1']
    for tag, model, x in [('f64', m64, x32.double()), ('f32', m32, x32)]:
        text = model.encode_text(ids).detach()
        score, emb, acts, grads = vision_grads(model, x, cosine_score(text[0]), ['vision.blocks.11.ln_1'])
        out[tag] = {'text.embeds': text, 'vision.embeds': emb.detach(), 'score': score.detach().reshape(1),
                    'grad.vision.blocks.11.ln_1': grads['vision.blocks.11.ln_1'],
                    **{l: acts[l].detach() for l in layers}}
        emb_leaf = emb.detach().requires_grad_(True)
        cosine_score(text[0])(emb_leaf).backward()
        out[tag]['score.dembeds'] = emb_leaf.grad
    T = {k: v.float() for k, v in out['f64'].items()}
    T['text.ids'] = ids.to(torch.int32)
    T['pixels'] = x32
    T['logit_scale'] = m32.logit_scale.detach()
    torch_f32_rel = {}
    for k, ref in out['f64'].items():
        d = (out['f32'][k].double() - ref).abs().max() / ref.abs().max()
        torch_f32_rel[k] = float(d)
    meta = {'model_seed': seed, 'pixel_seed': pixel_seed, 'config': config,
            'reference': 'torch float64 from the float32 weights and pixels, stored as float32',
            'score': 'cos(v, t_0), t_0 = text 0 (a photo of a cat)',
            'torch_f32_max_rel_diff': torch_f32_rel, 'seconds': round(time.time() - t0, 1)}
    write('clip_b16', T, meta)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for dt in DTYPES:
        T, meta = op_fixtures(dt)
        meta.update(block_fixtures(dt, T))
        write(f'clip_ops_{dt}', T, meta)
    tiny_fixtures()
    if '--skip-b16' not in sys.argv:
        b16_fixture()


if __name__ == '__main__':
    main()
