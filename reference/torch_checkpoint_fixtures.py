"""torch_checkpoint_fixtures.py: PyTorch checkpoints as people have them, for src/io/torch.ts (issue 20).

One seeded tiny CLIP (clip_model.seeded_clip, seed 20) written five ways into reference/fixtures/:
  torch_tiny/reference.safetensors  the OpenAI-named float32 state dict, written by st.py: the reference
  torch_tiny/state_dict.pt          torch.save({'epoch': 3, 'state_dict': <that state dict>}), float32, with a
                                    transposed (non-contiguous) view and two tensors sharing one storage
  torch_tiny/ViT-tiny.pt            torch.jit.save of a scripted openai/CLIP-style module (OpenAI's attribute
                                    names, attn_mask attributes, int buffers), in float16, as clip.load() caches
  torch_tiny_hf/                    Hugging Face names in bfloat16, sharded: pytorch_model-0000N-of-00002.bin
                                    + pytorch_model.bin.index.json + config.json (+ the tiny vocabulary)
  torch_hostile.pt, torch_unknown_class.pt   archives whose data.pkl calls os.system / builds a foreign class
plus torch_tiny.json (versions, config, what each file holds). Every file is well under 1 MB.

  /usr/bin/python3 reference/torch_checkpoint_fixtures.py
  /usr/bin/python3 reference/torch_checkpoint_fixtures.py --bench DIR   # for tools/bench_load.js: DIR/ViT-B-16.safetensors
      (OpenAI names, float32) -> DIR/ViT-B-16-fp16.pt (torch.save, float16) and DIR/ViT-B-16-jit.pt (TorchScript, float16)
"""
import io
import json
import os
import sys
import zipfile
from collections import OrderedDict
from typing import Optional

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from clip_model import make_config, seeded_clip, to_openai_state_dict, hf_state_dict  # noqa: E402
from clip_fixtures import tiny_vocab, TINY_WORDS  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
SEED = 20


def torch_tiny_config(V):
    # widths are multiples of 64 so OpenAI's heads = width / 64 holds (one head each)
    return make_config(
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
             patch_size=8, image_size=32, hidden_act='quick_gelu'),
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=1,
             max_position_embeddings=77, vocab_size=V, eos_token_id=V - 1, bos_token_id=V - 2, hidden_act='quick_gelu'),
        projection_dim=32)


# ---------------------------------------------------------------------------------------------------------
# openai/CLIP's module structure (clip/model.py), only as far as its attribute names and a scriptable forward

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    attn_mask: Optional[torch.Tensor]  # None in the image tower, the causal mask in the text tower

    def __init__(self, D, F, mask):
        super().__init__()
        self.attn = nn.MultiheadAttention(D, D // 64)
        self.ln_1 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(OrderedDict([('c_fc', nn.Linear(D, F)), ('gelu', QuickGELU()), ('c_proj', nn.Linear(F, D))]))
        self.ln_2 = nn.LayerNorm(D)
        self.attn_mask = mask  # a plain attribute, not a buffer: in the archive's data.pkl but not its state dict

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=self.attn_mask)[0]
        return x + self.mlp(self.ln_2(x))



class Transformer(nn.Module):
    def __init__(self, D, L, F, mask):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(D, F, mask) for _ in range(L)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, D, L, F, P, S, E):
        super().__init__()
        self.conv1 = nn.Conv2d(3, D, kernel_size=P, stride=P, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(D))
        self.positional_embedding = nn.Parameter(torch.zeros((S // P) ** 2 + 1, D))
        self.ln_pre = nn.LayerNorm(D)
        self.transformer = Transformer(D, L, F, None)
        self.ln_post = nn.LayerNorm(D)
        self.proj = nn.Parameter(torch.zeros(D, E))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(2, 0, 1)                    # (N-1, B, D)
        cls = self.class_embedding.view(1, 1, -1).expand(1, x.shape[1], -1)
        x = self.ln_pre(torch.cat([cls, x], 0) + self.positional_embedding.unsqueeze(1))
        return self.ln_post(self.transformer(x)[0]) @ self.proj


class OpenAiClip(nn.Module):
    def __init__(self, config):
        super().__init__()
        vc, tc, E = config['vision_config'], config['text_config'], config['projection_dim']
        self.visual = VisionTransformer(vc['hidden_size'], vc['num_hidden_layers'], vc['intermediate_size'],
                                        vc['patch_size'], vc['image_size'], E)
        T = tc['max_position_embeddings']
        mask = torch.full((T, T), float('-inf')).triu(1)
        self.transformer = Transformer(tc['hidden_size'], tc['num_hidden_layers'], tc['intermediate_size'], mask)
        self.token_embedding = nn.Embedding(tc['vocab_size'], tc['hidden_size'])
        self.positional_embedding = nn.Parameter(torch.zeros(T, tc['hidden_size']))
        self.ln_final = nn.LayerNorm(tc['hidden_size'])
        self.text_projection = nn.Parameter(torch.zeros(tc['hidden_size'], E))
        self.logit_scale = nn.Parameter(torch.zeros([]))
        # as in OpenAI's released archives: these three are in the state dict (build_model deletes them)
        self.register_buffer('input_resolution', torch.tensor(vc['image_size']))
        self.register_buffer('context_length', torch.tensor(T))
        self.register_buffer('vocab_size', torch.tensor(tc['vocab_size']))

    def forward(self, image, text):
        v = self.visual(image)
        x = self.token_embedding(text) + self.positional_embedding
        x = self.ln_final(self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2))
        t = x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection
        return self.logit_scale.exp() * v @ t.t()


# ---------------------------------------------------------------------------------------------------------

def hostile_archive(path, pickle_bytes):
    """A zip laid out as torch.save writes it (archive/data.pkl, archive/version), holding `pickle_bytes`."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pickle_bytes)
        z.writestr('archive/version', '3\n')


class Thing:
    """Stands for any class a pickle may name: torch.save(model) pickles the model's own class like this."""


Thing.__module__ = 'mylib.model'
sys.modules['mylib'] = type(sys)('mylib')                          # (pickle looks the class up by name)
sys.modules['mylib.model'] = type(sys)('mylib.model')
sys.modules['mylib.model'].Thing = Thing


def main():
    vocab, merges = tiny_vocab(TINY_WORDS)
    V = len(vocab)
    config = torch_tiny_config(V)
    model = seeded_clip(config, SEED)
    oa = to_openai_state_dict(model)                                   # float32, OpenAI names, all contiguous

    d = os.path.join(OUT, 'torch_tiny')
    os.makedirs(d, exist_ok=True)
    for name, text in [('vocab.json', json.dumps(vocab, ensure_ascii=False)),
                       ('merges.txt', '#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))]:
        for folder in [d, os.path.join(OUT, 'torch_tiny_hf')]:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, name), 'w') as f:
                f.write(text)
    st.save(os.path.join(d, 'reference.safetensors'), oa, {'format': 'pt', 'seed': str(SEED)})

    # 1. torch.save of the state dict, wrapped as training scripts do, with the layouts a real one may have:
    #    visual.proj as the transpose of a contiguous (E, D) tensor (strides (1, D)), and block 0's
    #    in_proj_weight and in_proj_bias as two views into one flat storage (the bias at an offset).
    sd = OrderedDict((k, v.clone()) for k, v in oa.items())
    sd['visual.proj'] = oa['visual.proj'].t().contiguous().t()
    assert not sd['visual.proj'].is_contiguous()
    w, b = oa['visual.transformer.resblocks.0.attn.in_proj_weight'], oa['visual.transformer.resblocks.0.attn.in_proj_bias']
    flat = torch.cat([w.reshape(-1), b])
    sd['visual.transformer.resblocks.0.attn.in_proj_weight'] = flat[:w.numel()].view(w.shape)
    sd['visual.transformer.resblocks.0.attn.in_proj_bias'] = flat[w.numel():]
    sd._metadata = OrderedDict([('', {'version': 1})])                # as module.state_dict() sets it
    torch.save({'epoch': 3, 'state_dict': sd}, os.path.join(d, 'state_dict.pt'))

    # 2. TorchScript archive of the OpenAI-style module, float16 (OpenAI's released .pt files are)
    m = OpenAiClip(config)
    missing, unexpected = m.load_state_dict(oa, strict=False)
    assert not unexpected and set(missing) == {'input_resolution', 'context_length', 'vocab_size'}, (missing, unexpected)
    m = m.half()
    for blk in m.transformer.resblocks:
        blk.attn_mask = blk.attn_mask.half()
    scripted = torch.jit.script(m)
    torch.jit.save(scripted, os.path.join(d, 'ViT-tiny.pt'))
    jit_keys = sorted(torch.jit.load(os.path.join(d, 'ViT-tiny.pt')).state_dict().keys())

    # 3. Hugging Face names in bfloat16, two shards and their index
    h = os.path.join(OUT, 'torch_tiny_hf')
    hf = OrderedDict((k, v.to(torch.bfloat16)) for k, v in hf_state_dict(model).items())
    keys = list(hf)
    shards = [keys[:len(keys) // 2], keys[len(keys) // 2:]]
    weight_map = {}
    for i, ks in enumerate(shards):
        fn = f'pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin'
        torch.save(OrderedDict((k, hf[k]) for k in ks), os.path.join(h, fn))
        weight_map.update({k: fn for k in ks})
    with open(os.path.join(h, 'pytorch_model.bin.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': sum(v.numel() * 2 for v in hf.values())}, 'weight_map': weight_map}, f, indent=1)
    with open(os.path.join(h, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)

    # 4. refused: GLOBAL os system + REDUCE (a pickle that would run a shell command), and a foreign class
    hostile_archive(os.path.join(OUT, 'torch_hostile.pt'),
                    b'\x80\x02cos\nsystem\nX\x0f\x00\x00\x00echo owned >&2\x85R.')
    buf = io.BytesIO()
    torch.save({'model': Thing()}, buf)
    with open(os.path.join(OUT, 'torch_unknown_class.pt'), 'wb') as f:
        f.write(buf.getvalue())

    # sanity: torch itself reads back what it wrote
    back = torch.load(os.path.join(d, 'state_dict.pt'))['state_dict']
    assert all(torch.equal(back[k], oa[k]) for k in oa)
    info = {'command': 'reference/torch_checkpoint_fixtures.py', 'torch': torch.__version__, 'numpy': np.__version__,
            'seed': SEED, 'config': config, 'vocab_size': V,
            'torchscript_state_dict_keys': jit_keys,
            'files': {'torch_tiny/reference.safetensors': 'OpenAI names, float32 (the reference)',
                      'torch_tiny/state_dict.pt': "torch.save({'epoch': 3, 'state_dict': sd}), float32",
                      'torch_tiny/ViT-tiny.pt': 'torch.jit.save(torch.jit.script(OpenAI-style module)), float16',
                      'torch_tiny_hf/': 'HF names, bfloat16, 2 shards + index',
                      'torch_hostile.pt': 'data.pkl = GLOBAL os system + REDUCE',
                      'torch_unknown_class.pt': "torch.save({'model': mylib.model.Thing()})"}}
    with open(os.path.join(OUT, 'torch_tiny.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    for root in [d, h]:
        for fn in sorted(os.listdir(root)):
            print(f'{os.path.join(root, fn)}: {os.path.getsize(os.path.join(root, fn))} bytes')


def bench(folder):
    from clip_model import vit_b16_config
    tensors, _ = st.load(os.path.join(folder, 'ViT-B-16.safetensors'))
    sd = OrderedDict((k, torch.from_numpy(v).half()) for k, v in tensors.items())
    torch.save(sd, os.path.join(folder, 'ViT-B-16-fp16.pt'))
    m = OpenAiClip(vit_b16_config())
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) == {'input_resolution', 'context_length', 'vocab_size'}, (missing, unexpected)
    m = m.half()
    for blk in m.transformer.resblocks:
        blk.attn_mask = blk.attn_mask.half()
    torch.jit.save(torch.jit.script(m), os.path.join(folder, 'ViT-B-16-jit.pt'))
    for f in ['ViT-B-16-fp16.pt', 'ViT-B-16-jit.pt']:
        print(f'wrote {os.path.join(folder, f)} ({os.path.getsize(os.path.join(folder, f)) / 1e6:.0f} MB)')


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--bench':
        bench(sys.argv[2])
    else:
        main()
