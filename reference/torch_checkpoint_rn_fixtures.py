#!/usr/bin/env python3
"""torch_checkpoint_rn_fixtures.py: PyTorch checkpoints of a ResNet CLIP as people have them (issue 15), for
src/io/torch.ts and loadClip. One seeded tiny ResNet CLIP built with openai/CLIP's own clip/model.py (--clip-dir,
default /tmp/openai_clip, as reference/resnet_fixtures.py) written into reference/fixtures/torch_rn/:
  RN-tiny.pt             torch.jit.trace_module of openai's CLIP (forward, encode_image, encode_text), .half(), saved
                         with torch.jit.save: as OpenAI's released RN50.pt (BatchNorm running stats and int64
                         num_batches_tracked buffers, input_resolution / context_length / vocab_size buffers)
  state_dict.pt          torch.save({'state_dict': model.state_dict()}), float32
  reference.safetensors  that state dict (float32, int64 counters as I64), written by st.py: the reference
  vocab.json, merges.txt the tiny vocabulary (551 tokens) of tiny_clip_hf, for the tokenizer beside the file
plus torch_rn.json: config, versions, the state-dict names torch gives for each file, and the image (and text)
embedding of the float32 weights and of their float16 rounding, each computed in float64 and in float32.
  /usr/bin/python3 reference/torch_checkpoint_rn_fixtures.py [--clip-dir DIR]
"""
import argparse
import copy
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cam_reference as cr  # noqa: E402
import st  # noqa: E402
from resnet_fixtures import TINY_VOCAB, load_openai, seeded_openai_clip  # noqa: E402

OUT = os.path.join(HERE, 'fixtures', 'torch_rn')
# stem width 4 (attention pool width C = 128, heads 2): width 8 would put the float32 files at ~1.7 MB (the pool's
# 3·C² weights dominate)
CONFIG = dict(seed=16, embed_dim=32, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=4,
              context_length=16, vocab_size=551, transformer_width=64, transformer_heads=1, transformer_layers=1)
RGB_SEED = 5
PROMPT = 'a photo of a cat'


def build(oc):
    model = seeded_openai_clip(oc, CONFIG)
    # BatchNorm's training counters: distinct non-zero values, so a reader that mixes them up shows
    with torch.no_grad():
        i = 0
        for k, v in model.state_dict().items():
            if k.endswith('num_batches_tracked'):
                v.fill_(1000 + i)
                i += 1
    model.eval()
    return model


def embeddings(model, x, ids):
    """Image and text embedding of `model` (its dtype) on x and the padded ids."""
    row = ids + [0] * (CONFIG['context_length'] - len(ids))
    with torch.no_grad():
        img = model.encode_image(x.to(model.visual.conv1.weight.dtype))[0]
        txt = model.encode_text(torch.tensor([row]))[0]
    return img.double().tolist(), txt.double().tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clip-dir', default='/tmp/openai_clip')
    args = ap.parse_args()
    oc = load_openai(args.clip_dir)  # (its LayerNorm: torch's, so float64 runs stay float64)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    model = build(oc)
    sd = model.state_dict()  # float32 tensors + int64 num_batches_tracked
    for f in ('vocab.json', 'merges.txt'):
        shutil.copy(os.path.join(TINY_VOCAB, f), os.path.join(OUT, f))

    # 1. torch.save of the state dict, float32
    torch.save({'state_dict': sd}, os.path.join(OUT, 'state_dict.pt'))
    st.save(os.path.join(OUT, 'reference.safetensors'), dict(sd), {'format': 'pt', 'seed': str(CONFIG['seed'])})

    # 2. TorchScript: traced as OpenAI's jit files were (the nested stem() of ModifiedResNet.forward does not script),
    #    with their three int buffers, then float16. (CPU has no float16 conv: trace in float32, then .half() the
    #    traced module; its graph keeps float32 casts, which nobody here runs.)
    jm = copy.deepcopy(model)
    del jm.context_length, jm.vocab_size  # (plain ints on openai's CLIP, used only in __init__)
    jm.register_buffer('input_resolution', torch.tensor(CONFIG['image_resolution']))
    jm.register_buffer('context_length', torch.tensor(CONFIG['context_length']))
    jm.register_buffer('vocab_size', torch.tensor(CONFIG['vocab_size']))
    S = CONFIG['image_resolution']
    img = torch.zeros(1, 3, S, S)
    txt = torch.zeros(1, CONFIG['context_length'], dtype=torch.long)
    txt[0, 0], txt[0, 1] = 549, 550
    traced = torch.jit.trace_module(jm, {'forward': (img, txt), 'encode_image': (img,), 'encode_text': (txt,)})
    traced = traced.half()
    jit_path = os.path.join(OUT, 'RN-tiny.pt')
    torch.jit.save(traced, jit_path)
    jsd = torch.jit.load(jit_path).state_dict()
    for k, v in jsd.items():  # float tensors: the float16 rounding of the state dict's; int64 kept as they are
        want = sd[k].half() if k in sd and sd[k].is_floating_point() else (sd[k] if k in sd else None)
        assert want is None or (v.dtype == want.dtype and torch.equal(v, want)), k
    assert set(jsd) == set(sd) | {'input_resolution', 'context_length', 'vocab_size'}

    # sanity: torch reads back what it wrote
    back = torch.load(os.path.join(OUT, 'state_dict.pt'))['state_dict']
    assert list(back) == list(sd) and all(torch.equal(back[k], sd[k]) for k in sd)

    # 3. the embeddings: the float32 weights and their float16 rounding, each run in float64 and in float32, on
    #    the seeded crop (TS: seededUniform(RGB_SEED, 'rgb', 3·S·S, 0.5, 0.5, 'float64'), CLIP-normalised, float32)
    x = cr.model_input(cr.normalize(cr.seeded_rgb(RGB_SEED, S)), torch.float32)[None]  # float32 values in float64
    ids = cr.tiny_ids(TINY_VOCAB, PROMPT)
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for k, v in rounded.state_dict().items():
            if v.is_floating_point():
                v.copy_(v.half().float())
    emb = {}
    for name, m in [('f32_weights', model), ('f16_weights', rounded)]:
        for dt, dtype in [('float64', torch.float64), ('float32', torch.float32)]:
            image, text = embeddings(copy.deepcopy(m).to(dtype), x, ids)
            emb[f'{name}.{dt}'] = {'image': image, 'text': text}

    info = {'command': 'reference/torch_checkpoint_rn_fixtures.py', 'torch': torch.__version__, 'numpy': np.__version__,
            'openai_clip': 'clip/model.py (CLIP with vision_layers a tuple: ModifiedResNet)',
            'config': {k: list(v) if isinstance(v, tuple) else v for k, v in CONFIG.items()},
            'weights': "reference/resnet_fixtures.py seed_visual / seed_text (seeded.py), float32; "
                       "num_batches_tracked = 1000, 1001, ... in state-dict order",
            'state_dict_keys': list(sd), 'torchscript_state_dict_keys': list(jsd),
            'int_buffers': {k: int(v) for k, v in jsd.items() if not v.is_floating_point()},
            'rgb': f"seededUniform({RGB_SEED}, 'rgb', 3*{S}*{S}, 0.5, 0.5, 'float64') as (3,S,S), CLIP-normalised, "
                   'rounded to float32',
            'rgb_seed': RGB_SEED, 'prompt': PROMPT, 'ids': ids,
            'embeddings': emb,
            'reference': 'openai/CLIP model.py in eval mode: *.float64 the weights (float32, or their float16 rounding) '
                         'computed in float64; *.float32 the same in float32 (torch CPU)',
            'files': {'torch_rn/RN-tiny.pt': 'torch.jit.save(torch.jit.trace_module(openai CLIP).half()), float16',
                      'torch_rn/state_dict.pt': "torch.save({'state_dict': sd}), float32",
                      'torch_rn/reference.safetensors': 'sd (OpenAI names) as written by st.py, float32 + I64'}}
    with open(os.path.join(HERE, 'fixtures', 'torch_rn.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    for fn in sorted(os.listdir(OUT)):
        print(f'{os.path.join(OUT, fn)}: {os.path.getsize(os.path.join(OUT, fn))} bytes')
    d = max(abs(a - b) for a, b in zip(emb['f32_weights.float32']['image'], emb['f32_weights.float64']['image']))
    print('torch float32 vs float64 image embedding: max abs', d, 'max |ref|', max(map(abs, emb['f32_weights.float64']['image'])))


if __name__ == '__main__':
    main()
