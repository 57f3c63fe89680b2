"""clip_model.py: a small, readable PyTorch CLIP (ViT image tower + causal text transformer), the reference
that src/clip/*.ts is checked against and that reference/train_tiny_clip.py trains.

Parameter names are exactly Hugging Face CLIPModel's (vision_model.encoder.layers.N.self_attn.q_proj, ...),
so `model.state_dict()` is an HF checkpoint; `to_openai_state_dict` renames it as openai/CLIP does.
The model is built from an HF-style config dict (vision_config / text_config, projection_dim, ...).

Shape letters (as src/clip/config.ts): B images, N = 1 + h*w tokens, D width, H heads, hd = D/H, F MLP width,
L layers, E embedding, T text length (context), V vocab, Bt texts.

Every vision intermediate can be read by name: `vision_forward(pixels, acts={})` fills the dict with
'vision.embed', 'vision.ln_pre', per block 'vision.blocks.N.{input,ln_1,qkv,att,ctx,attn,mid,ln_2,fc,act,mlp}'
and 'vision.blocks.N' (output), then 'vision.ln_post', 'vision.embeds'. Those tensors stay in the autograd graph;
`vision_grads` takes the gradient of a scalar score at any of them.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeded import seeded_uniform  # noqa: E402
import st  # noqa: E402


# ---------------------------------------------------------------------------------------------------------
# Configuration

VISION_DEFAULTS = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       patch_size=16, image_size=224, num_channels=3, hidden_act='quick_gelu', layer_norm_eps=1e-5)
TEXT_DEFAULTS = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                     max_position_embeddings=77, vocab_size=49408, hidden_act='quick_gelu', layer_norm_eps=1e-5,
                     eos_token_id=49407, bos_token_id=49406, pad_token_id=1)


def make_config(vision=None, text=None, projection_dim=512, logit_scale_init_value=2.6592):
    """An HF-style CLIPConfig dict; `vision` / `text` override the ViT-B/16 defaults."""
    return {
        'architectures': ['CLIPModel'],
        'model_type': 'clip',
        'projection_dim': projection_dim,
        'logit_scale_init_value': logit_scale_init_value,
        'vision_config': {**VISION_DEFAULTS, **(vision or {})},
        'text_config': {**TEXT_DEFAULTS, **(text or {})},
    }


def vit_b16_config():
    return make_config()


def text_eot_id(tc):
    """The end-of-text id that pooling looks for. Old HF configs carry eos_token_id = 2 (a legacy default) and
    HF then pools at argmax(ids); with CLIP's vocabulary the eot token is the highest id, vocab_size - 1, so
    'first eot' and 'argmax' agree."""
    eos = tc.get('eos_token_id')
    return tc['vocab_size'] - 1 if eos is None or eos == 2 else eos


# ---------------------------------------------------------------------------------------------------------
# Layers

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {'quick_gelu': quick_gelu, 'gelu': F.gelu}  # F.gelu is the exact erf form


class Attention(nn.Module):
    """Multi-head self-attention: q, k, v projections, softmax(q k^T / sqrt(hd)) v, output projection."""

    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.q_proj = nn.Linear(D, D)
        self.k_proj = nn.Linear(D, D)
        self.v_proj = nn.Linear(D, D)
        self.out_proj = nn.Linear(D, D)

    def forward(self, x, causal, acts, pre):       # x (B,N,D)
        B, N, D = x.shape
        H, hd = self.H, D // self.H
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)  # (B,N,D) each, head h = columns h*hd..
        if acts is not None:
            acts[pre + '.qkv'] = torch.cat([q, k, v], dim=-1)  # (B,N,3D), as OpenAI's fused in_proj
        qh = q.view(B, N, H, hd).transpose(1, 2)   # (B,H,N,hd)
        kh = k.view(B, N, H, hd).transpose(1, 2)
        vh = v.view(B, N, H, hd).transpose(1, 2)
        scores = (qh @ kh.transpose(-2, -1)) * (hd ** -0.5)  # (B,H,N,N)
        if causal:
            mask = torch.ones(N, N, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float('-inf'))
        att = torch.softmax(scores, dim=-1)
        rec(acts, pre + '.att', att)
        ctx = (att @ vh).transpose(1, 2).reshape(B, N, D)  # heads concatenated back: (B,N,D)
        rec(acts, pre + '.ctx', ctx)
        return self.out_proj(ctx)


class MLP(nn.Module):
    def __init__(self, D, Fw, act):
        super().__init__()
        self.act = ACTIVATIONS[act]
        self.fc1 = nn.Linear(D, Fw)
        self.fc2 = nn.Linear(Fw, D)

    def forward(self, x, acts, pre):
        h = rec(acts, pre + '.fc', self.fc1(x))
        h = rec(acts, pre + '.act', self.act(h))
        return self.fc2(h)


class EncoderLayer(nn.Module):
    """Pre-LN residual block: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, c):
        super().__init__()
        D = c['hidden_size']
        self.layer_norm1 = nn.LayerNorm(D, eps=c['layer_norm_eps'])
        self.self_attn = Attention(D, c['num_attention_heads'])
        self.layer_norm2 = nn.LayerNorm(D, eps=c['layer_norm_eps'])
        self.mlp = MLP(D, c['intermediate_size'], c['hidden_act'])

    def forward(self, x, causal, acts, pre):
        rec(acts, pre + '.input', x)
        a = self.self_attn(rec(acts, pre + '.ln_1', self.layer_norm1(x)), causal, acts, pre)
        x = rec(acts, pre + '.mid', x + rec(acts, pre + '.attn', a))
        m = self.mlp(rec(acts, pre + '.ln_2', self.layer_norm2(x)), acts, pre)
        return rec(acts, pre, x + rec(acts, pre + '.mlp', m))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c['num_hidden_layers'])])

    def forward(self, x, causal, acts, prefix):
        for i, layer in enumerate(self.layers):
            x = layer(x, causal, acts, f'{prefix}.blocks.{i}')
        return x


def rec(acts, name, t):
    """Record an intermediate under its name (when a dict is given) and pass it through."""
    if acts is not None:
        acts[name] = t
    return t


# ---------------------------------------------------------------------------------------------------------
# Towers

class VisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, P = c['hidden_size'], c['patch_size']
        self.grid = c['image_size'] // P
        self.class_embedding = nn.Parameter(torch.zeros(D))
        self.patch_embedding = nn.Conv2d(c['num_channels'], D, kernel_size=P, stride=P, bias=False)
        self.position_embedding = nn.Embedding(1 + self.grid * self.grid, D)

    def forward(self, pixels):                     # (B,3,S,S)
        B = pixels.shape[0]
        patches = self.patch_embedding(pixels)     # (B,D,h,w)
        patches = patches.flatten(2).transpose(1, 2)  # (B,h*w,D), row-major over the grid
        cls = self.class_embedding.expand(B, 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight  # (B,N,D)


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c['hidden_size']
        self.embeddings = VisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(D, eps=c['layer_norm_eps'])  # sic: HF's spelling
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(D, eps=c['layer_norm_eps'])

    def forward(self, pixels, acts=None):
        x = rec(acts, 'vision.embed', self.embeddings(pixels))
        x = rec(acts, 'vision.ln_pre', self.pre_layrnorm(x))
        x = self.encoder(x, False, acts, 'vision')
        return rec(acts, 'vision.ln_post', self.post_layernorm(x[:, 0, :]))  # class token only: (B,D)


class TextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c['hidden_size']
        self.eot_id = text_eot_id(c)
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(c['vocab_size'], D)
        self.embeddings.position_embedding = nn.Embedding(c['max_position_embeddings'], D)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(D, eps=c['layer_norm_eps'])

    def forward(self, ids, acts=None):            # ids (Bt,T) int64
        T = ids.shape[1]
        x = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding.weight[:T]
        x = rec(acts, 'text.embed', x)
        x = self.encoder(x, True, acts, 'text')
        x = rec(acts, 'text.final_ln', self.final_layer_norm(x))
        # pool at the first end-of-text token: OpenAI pads with 0 and takes argmax (eot is the largest id),
        # HF pads with eot itself; the causal mask makes later positions irrelevant, so both agree.
        is_eot = ids == self.eot_id
        if not bool(is_eot.any(dim=1).all()):
            raise ValueError(f'every token sequence needs an end-of-text token (id {self.eot_id})')
        first = is_eot.int().argmax(dim=1)         # argmax returns the first maximal index
        return rec(acts, 'text.pooled', x[torch.arange(ids.shape[0]), first])  # (Bt,D)


class ClipScoring(nn.Module):
    """What the ViT and the ResNet CLIP share: encode_image, encode_text and the logits. A subclass defines
    vision_forward(pixels, acts) and has text_model, text_projection and logit_scale."""

    def encode_image(self, pixels):
        return self.vision_forward(pixels)

    def encode_text(self, ids, acts=None):
        """ids (Bt,T) int -> text embeddings (Bt,E), unnormalised."""
        return rec(acts, 'text.embeds', self.text_projection(self.text_model(ids.long(), acts)))

    def forward(self, pixels, ids):
        """CLIP logits: exp(logit_scale) * cos(image, text), (B,Bt)."""
        v = F.normalize(self.encode_image(pixels), dim=-1)
        t = F.normalize(self.encode_text(ids), dim=-1)
        return self.logit_scale.exp() * v @ t.T


class CLIP(ClipScoring):
    def __init__(self, config):
        super().__init__()
        self.config = config
        vc, tc, E = config['vision_config'], config['text_config'], config['projection_dim']
        self.vision_model = VisionTransformer(vc)
        self.text_model = TextTransformer(tc)
        self.visual_projection = nn.Linear(vc['hidden_size'], E, bias=False)
        self.text_projection = nn.Linear(tc['hidden_size'], E, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config['logit_scale_init_value'])))

    def vision_forward(self, pixels, acts=None):
        """pixels (B,3,S,S) -> image embeddings (B,E), unnormalised; intermediates go into `acts`."""
        return rec(acts, 'vision.embeds', self.visual_projection(self.vision_model(pixels, acts)))


def vision_grads(model, pixels, score_fn, layers):
    """Gradient of score_fn(embeddings (B,E)) -> scalar at each named vision intermediate.
    Returns (score, embeddings, acts, {name: grad}); names as in the module docstring."""
    acts = {}
    emb = model.vision_forward(pixels, acts)
    for name in layers:
        acts[name].retain_grad()
    score = score_fn(emb)
    score.backward()
    return score, emb, acts, {name: acts[name].grad for name in layers}


def cosine_score(text_embedding):
    """S = sum over images of cos(v_b, t): the 'paper' score, one text."""
    t = text_embedding.detach()

    def score(emb):
        return F.cosine_similarity(emb, t.expand_as(emb), dim=-1).sum()
    return score


# ---------------------------------------------------------------------------------------------------------
# Seeded weights: every tensor drawn from seeded_uniform(seed, hf_name, n, scale, offset), which
# src/tensor/rng.ts computes bit for bit (src/clip/weights.ts mirrors `seeded_scale`).

def seeded_scale(name, shape):
    """(scale, offset) for a parameter: matrices uniform in ±1/sqrt(fan_in) (std ≈ 0.02 at D = 768, keeping a
    12-layer ViT-B/16 tame), biases ±0.02, layer-norm weights 1 ± 0.1 and biases ±0.1, embeddings ±0.1."""
    if name == 'logit_scale':
        raise ValueError('logit_scale is set from the config, not drawn')
    if 'layer_norm' in name or 'layrnorm' in name or 'layernorm' in name:
        return (0.1, 1.0) if name.endswith('.weight') else (0.1, 0.0)
    if 'embedding' in name and 'patch' not in name:
        return 0.1, 0.0                            # class / position / token embeddings
    if name.endswith('.bias'):
        return 0.02, 0.0
    fan_in = int(np.prod(shape[1:]))               # Linear (out,in), Conv2d (D,3,P,P)
    return 1.0 / math.sqrt(fan_in), 0.0


def seeded_clip(config, seed, dtype=torch.float32):
    """A CLIP whose every weight comes from seeded_uniform (float64 arithmetic, then cast to dtype)."""
    model = CLIP(config).to(dtype)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == 'logit_scale':
                p.fill_(float(config['logit_scale_init_value']))
                continue
            scale, offset = seeded_scale(name, tuple(p.shape))
            vals = seeded_uniform(seed, name, p.numel(), scale, offset, np_dtype)
            p.copy_(torch.from_numpy(vals).view(p.shape))
    return model


def seeded_pixels(seed, shape, dtype=torch.float32):
    """A seeded input image batch in (-2, 2) (roughly CLIP-normalised pixels), TS: seededUniform(seed, 'pixels')."""
    n = int(np.prod(shape))
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return torch.from_numpy(seeded_uniform(seed, 'pixels', n, 2.0, 0.0, np_dtype)).view(*shape)


# ---------------------------------------------------------------------------------------------------------
# Checkpoints: HF folder, OpenAI state dict

def hf_state_dict(model):
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()}


def save_hf(model, folder, metadata=None):
    """config.json + model.safetensors (HF names) in `folder`."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(model.config, f, indent=2)
        f.write('\n')
    st.save(os.path.join(folder, 'model.safetensors'), hf_state_dict(model), {'format': 'pt', **(metadata or {})})


def load_hf(folder, dtype=torch.float32):
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    model = CLIP(config).to(dtype)
    tensors, _ = st.load(os.path.join(folder, 'model.safetensors'))
    # HF checkpoints may also hold `*.position_ids` buffers (0..N-1), which this model does not need
    model.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in tensors.items()
                           if not k.endswith('position_ids')})
    return model


def to_openai_state_dict(model):
    """HF names -> openai/CLIP names: q/k/v concatenated into in_proj, projections transposed to (width, E)."""
    sd = hf_state_dict(model)
    out = {}

    def blocks(hf_prefix, oa_prefix, L):
        for i in range(L):
            h, o = f'{hf_prefix}.encoder.layers.{i}', f'{oa_prefix}transformer.resblocks.{i}'
            out[f'{o}.ln_1.weight'] = sd[f'{h}.layer_norm1.weight']
            out[f'{o}.ln_1.bias'] = sd[f'{h}.layer_norm1.bias']
            out[f'{o}.attn.in_proj_weight'] = torch.cat([sd[f'{h}.self_attn.{p}_proj.weight'] for p in 'qkv'], 0)
            out[f'{o}.attn.in_proj_bias'] = torch.cat([sd[f'{h}.self_attn.{p}_proj.bias'] for p in 'qkv'], 0)
            out[f'{o}.attn.out_proj.weight'] = sd[f'{h}.self_attn.out_proj.weight']
            out[f'{o}.attn.out_proj.bias'] = sd[f'{h}.self_attn.out_proj.bias']
            out[f'{o}.ln_2.weight'] = sd[f'{h}.layer_norm2.weight']
            out[f'{o}.ln_2.bias'] = sd[f'{h}.layer_norm2.bias']
            out[f'{o}.mlp.c_fc.weight'] = sd[f'{h}.mlp.fc1.weight']
            out[f'{o}.mlp.c_fc.bias'] = sd[f'{h}.mlp.fc1.bias']
            out[f'{o}.mlp.c_proj.weight'] = sd[f'{h}.mlp.fc2.weight']
            out[f'{o}.mlp.c_proj.bias'] = sd[f'{h}.mlp.fc2.bias']

    vc, tc = model.config['vision_config'], model.config['text_config']
    out['visual.class_embedding'] = sd['vision_model.embeddings.class_embedding']
    out['visual.positional_embedding'] = sd['vision_model.embeddings.position_embedding.weight']
    out['visual.conv1.weight'] = sd['vision_model.embeddings.patch_embedding.weight']
    out['visual.ln_pre.weight'] = sd['vision_model.pre_layrnorm.weight']
    out['visual.ln_pre.bias'] = sd['vision_model.pre_layrnorm.bias']
    blocks('vision_model', 'visual.', vc['num_hidden_layers'])
    out['visual.ln_post.weight'] = sd['vision_model.post_layernorm.weight']
    out['visual.ln_post.bias'] = sd['vision_model.post_layernorm.bias']
    out['visual.proj'] = sd['visual_projection.weight'].t().contiguous()      # (D, E)
    out['positional_embedding'] = sd['text_model.embeddings.position_embedding.weight']
    out['text_projection'] = sd['text_projection.weight'].t().contiguous()    # (Dt, E)
    out['logit_scale'] = sd['logit_scale']
    out['token_embedding.weight'] = sd['text_model.embeddings.token_embedding.weight']
    blocks('text_model', '', tc['num_hidden_layers'])
    out['ln_final.weight'] = sd['text_model.final_layer_norm.weight']
    out['ln_final.bias'] = sd['text_model.final_layer_norm.bias']
    return out


def save_openai(model, path, metadata=None):
    st.save(path, to_openai_state_dict(model), {'format': 'pt', **(metadata or {})})


if __name__ == '__main__':
    # smoke test: a tiny seeded CLIP runs, HF <-> OpenAI renaming round-trips the parameter count
    cfg = make_config(dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           patch_size=8, image_size=32),
                      dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           vocab_size=100, eos_token_id=99, bos_token_id=98, max_position_embeddings=16),
                      projection_dim=16)
    m = seeded_clip(cfg, 1)
    x = seeded_pixels(2, (2, 3, 32, 32))
    ids = torch.tensor([[98, 5, 6, 99] + [0] * 12, [98, 7, 99] + [99] * 13])
    s, emb, acts, g = vision_grads(m, x, cosine_score(m.encode_text(ids)[0]), ['vision.blocks.1.ln_1'])
    print('score', float(s), 'emb', tuple(emb.shape), 'grad', tuple(g['vision.blocks.1.ln_1'].shape))
    print(sorted(acts)[:6], len(acts))
    oa = to_openai_state_dict(m)
    assert sum(v.numel() for v in oa.values()) == sum(p.numel() for p in m.parameters())
    print('ok')
