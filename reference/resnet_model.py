"""resnet_model.py: openai/CLIP's ModifiedResNet image tower, written here in plain PyTorch, and a CLIP that pairs it
with reference/clip_model.py's text transformer (the model reference/train_tiny_clip.py --arch rn trains).

The image tower is OpenAI's architecture (clip/model.py: Bottleneck, AttentionPool2d, ModifiedResNet) with its
parameter names: a 3-conv stem (3x3 stride 2, 3x3, 3x3, each BatchNorm + ReLU) and a 2x2 average pool; four layers
of Bottleneck blocks whose stride-2 downsampling is anti-aliased (AvgPool(stride) before conv3, and downsample =
AvgPool -> 1x1 conv -> BN); an attention pool (mean token prepended, positional embedding, multi-head attention
with the mean token as the only query, c_proj). The whole network downsamples by 32.
`to_openai_state_dict` gives openai/CLIP's state dict (visual.*, transformer.resblocks.*, ...), which build_model
accepts; `from_openai_state_dict` is its inverse (the config is inferred from shapes, the way build_model does).

Shape letters: B images, C channels, S input size, h, w grid, N = 1 + h*w tokens, Dp = 32 * width (the pooled
feature width), H heads (hd = 64 each, as OpenAI's heads = width * 32 // 64), E embedding.
Every vision intermediate can be read by name: `vision_forward(pixels, acts={})` fills 'visual.stem' (after the
2x2 pool), 'visual.layerL.N' (each block's output, after its final ReLU), 'visual.layerL' (= its last block),
'visual.attnpool.tokens' (B,N,Dp: mean token + grid, with positions), 'visual.attnpool.att' (B,H,1,N),
'visual.attnpool' (B,E, the unnormalised image embedding, = 'vision.embeds').
"""
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402
from clip_model import rec  # noqa: E402
import st  # noqa: E402

EXPANSION = 4   # Bottleneck output channels = 4 * planes


# ---------------------------------------------------------------------------------------------------------
# Image tower (OpenAI names)

class Bottleneck(nn.Module):
    """1x1 conv -> BN -> ReLU, 3x3 conv -> BN -> ReLU, AvgPool(stride) when stride > 1, 1x1 conv -> BN, plus the
    identity (or downsample(x) = BN(conv1x1(AvgPool(stride)(x))) when the shape changes), then ReLU."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.downsample = None
        if stride > 1 or inplanes != planes * EXPANSION:
            # OpenAI's keys: downsample.0 (conv), downsample.1 (BN); the pool ("-1") has no parameters
            self.downsample = nn.Sequential(OrderedDict([
                ('-1', nn.AvgPool2d(stride)),
                ('0', nn.Conv2d(inplanes, planes * EXPANSION, 1, bias=False)),
                ('1', nn.BatchNorm2d(planes * EXPANSION)),
            ]))

    def forward(self, x):                                     # (B,Cin,h,w) -> (B,4*planes,h/stride,w/stride)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    """(B,Dp,h,w) -> (B,E): tokens = [mean over the grid; the grid row-major] + positional_embedding, then one
    multi-head attention query (from the mean token) over all N tokens, heads concatenated, c_proj."""

    def __init__(self, grid, Dp, H, E):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, Dp) / Dp ** 0.5)
        self.k_proj = nn.Linear(Dp, Dp)
        self.q_proj = nn.Linear(Dp, Dp)
        self.v_proj = nn.Linear(Dp, Dp)
        self.c_proj = nn.Linear(Dp, E)
        self.H = H

    def forward(self, x, acts=None):
        B, Dp, h, w = x.shape
        H, hd = self.H, Dp // self.H
        grid = x.flatten(2).transpose(1, 2)                    # (B,h*w,Dp)
        tokens = torch.cat([grid.mean(dim=1, keepdim=True), grid], dim=1) + self.positional_embedding  # (B,N,Dp)
        rec(acts, 'visual.attnpool.tokens', tokens)
        N = tokens.shape[1]
        q = self.q_proj(tokens[:, :1]).view(B, 1, H, hd).transpose(1, 2)   # (B,H,1,hd)
        k = self.k_proj(tokens).view(B, N, H, hd).transpose(1, 2)          # (B,H,N,hd)
        v = self.v_proj(tokens).view(B, N, H, hd).transpose(1, 2)
        att = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), dim=-1)  # (B,H,1,N)
        rec(acts, 'visual.attnpool.att', att)
        ctx = (att @ v).transpose(1, 2).reshape(B, Dp)         # (B,Dp), heads concatenated
        return self.c_proj(ctx)


class ModifiedResNet(nn.Module):
    """OpenAI's ModifiedResNet: layers (4 block counts), width (stem output; layer L has planes width * 2^(L-1)),
    heads, image size S (a multiple of 32: the grid at layer4 is S/32), output E."""

    def __init__(self, layers, E, H, image_size=224, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        inplanes = width
        for L, blocks in enumerate(layers, start=1):
            planes, stride = width * 2 ** (L - 1), 1 if L == 1 else 2
            seq = []
            for i in range(blocks):
                seq.append(Bottleneck(inplanes, planes, stride if i == 0 else 1))
                inplanes = planes * EXPANSION
            setattr(self, f'layer{L}', nn.Sequential(*seq))
        self.attnpool = AttentionPool2d(image_size // 32, width * 32, H, E)

    def forward(self, x, acts=None):                           # (B,3,S,S) -> (B,E)
        x = F.relu(self.bn1(self.conv1(x)))                    # (B,width/2,S/2,S/2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))                    # (B,width,S/2,S/2)
        x = rec(acts, 'visual.stem', self.avgpool(x))          # (B,width,S/4,S/4)
        for L in range(1, 5):
            for i, block in enumerate(getattr(self, f'layer{L}')):
                x = rec(acts, f'visual.layer{L}.{i}', block(x))
            rec(acts, f'visual.layer{L}', x)                   # layer4: (B,32*width,S/32,S/32)
        return rec(acts, 'visual.attnpool', self.attnpool(x, acts))


# ---------------------------------------------------------------------------------------------------------
# CLIP with the ResNet image tower

def rn_config(layers, width, image_size, E, text, logit_scale_init_value=2.6592):
    """The config of a ResNet CLIP: vision_config holds build_model's arguments (layers, width, heads =
    width * 32 // 64, image_resolution), text_config is an HF CLIPTextConfig dict (clip_model.TEXT_DEFAULTS)."""
    assert image_size % 32 == 0, 'the ResNet downsamples by 32'
    return {
        'model_type': 'clip_resnet',
        'state_dict_layout': 'openai',
        'projection_dim': E,
        'logit_scale_init_value': logit_scale_init_value,
        'vision_config': dict(model_type='modified_resnet', layers=list(layers), width=width, heads=width * 32 // 64,
                              image_size=image_size, image_resolution=image_size, num_channels=3,
                              feature_width=width * 32, grid=image_size // 32),
        'text_config': {**clip_model.TEXT_DEFAULTS, **text},
    }


class CLIPRN(clip_model.ClipScoring):
    """visual (ModifiedResNet, OpenAI names) + clip_model's text transformer and projections; the same methods as
    clip_model.CLIP (encode_image, encode_text, vision_forward, forward)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        vc, tc, E = config['vision_config'], config['text_config'], config['projection_dim']
        self.visual = ModifiedResNet(vc['layers'], E, vc['heads'], vc['image_size'], vc['width'])
        self.text_model = clip_model.TextTransformer(tc)
        self.text_projection = nn.Linear(tc['hidden_size'], E, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config['logit_scale_init_value'])))

    def vision_forward(self, pixels, acts=None):
        """pixels (B,3,S,S) -> image embeddings (B,E), unnormalised; intermediates go into `acts`."""
        return rec(acts, 'vision.embeds', self.visual(pixels, acts))


def init_weights(model):
    """OpenAI's initialize_parameters for a ResNet CLIP: attention-pool projections N(0, Dp^-1/2), every bn3
    weight zero (each block starts as the identity), PyTorch's defaults for the convolutions; the text tower as
    OpenAI (std width^-1/2 for attention, (2 width)^-1/2 for c_fc, width^-1/2 (2 L)^-1/2 for output projections;
    token embeddings 0.02, positions 0.01), text_projection width^-1/2."""
    ap = model.visual.attnpool
    tc = model.config['text_config']
    D, L = tc['hidden_size'], tc['num_hidden_layers']
    attn_std, proj_std, fc_std = D ** -0.5, D ** -0.5 * (2 * L) ** -0.5, (2 * D) ** -0.5
    with torch.no_grad():
        std = ap.c_proj.in_features ** -0.5
        for p in (ap.q_proj, ap.k_proj, ap.v_proj, ap.c_proj):
            nn.init.normal_(p.weight, std=std)
        for L_ in range(1, 5):
            for name, p in getattr(model.visual, f'layer{L_}').named_parameters():
                if name.endswith('bn3.weight'):
                    nn.init.zeros_(p)
        t = model.text_model
        nn.init.normal_(t.embeddings.token_embedding.weight, std=0.02)
        nn.init.normal_(t.embeddings.position_embedding.weight, std=0.01)
        for layer in t.encoder.layers:
            for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                nn.init.normal_(p.weight, std=attn_std)
                nn.init.zeros_(p.bias)
            nn.init.normal_(layer.self_attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(layer.self_attn.out_proj.bias)
            nn.init.normal_(layer.mlp.fc1.weight, std=fc_std)
            nn.init.zeros_(layer.mlp.fc1.bias)
            nn.init.normal_(layer.mlp.fc2.weight, std=proj_std)
            nn.init.zeros_(layer.mlp.fc2.bias)
        nn.init.normal_(model.text_projection.weight, std=D ** -0.5)


# ---------------------------------------------------------------------------------------------------------
# openai/CLIP state dicts

TEXT_BLOCK = [  # (our name in clip_model's EncoderLayer, OpenAI's name in a ResidualAttentionBlock)
    ('layer_norm1.weight', 'ln_1.weight'), ('layer_norm1.bias', 'ln_1.bias'),
    ('self_attn.out_proj.weight', 'attn.out_proj.weight'), ('self_attn.out_proj.bias', 'attn.out_proj.bias'),
    ('layer_norm2.weight', 'ln_2.weight'), ('layer_norm2.bias', 'ln_2.bias'),
    ('mlp.fc1.weight', 'mlp.c_fc.weight'), ('mlp.fc1.bias', 'mlp.c_fc.bias'),
    ('mlp.fc2.weight', 'mlp.c_proj.weight'), ('mlp.fc2.bias', 'mlp.c_proj.bias'),
]


def to_openai_state_dict(model):
    """OpenAI's keys: visual.* (parameters and BN buffers: running_mean, running_var, num_batches_tracked) as
    they are; the text tower renamed, q/k/v stacked into in_proj, text_projection stored (width, E)."""
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    out = {k: v for k, v in sd.items() if k.startswith('visual.')}
    out['positional_embedding'] = sd['text_model.embeddings.position_embedding.weight']
    out['text_projection'] = sd['text_projection.weight'].t().contiguous()
    out['logit_scale'] = sd['logit_scale']
    out['token_embedding.weight'] = sd['text_model.embeddings.token_embedding.weight']
    for i in range(model.config['text_config']['num_hidden_layers']):
        h, o = f'text_model.encoder.layers.{i}', f'transformer.resblocks.{i}'
        out[f'{o}.attn.in_proj_weight'] = torch.cat([sd[f'{h}.self_attn.{p}_proj.weight'] for p in 'qkv'], 0)
        out[f'{o}.attn.in_proj_bias'] = torch.cat([sd[f'{h}.self_attn.{p}_proj.bias'] for p in 'qkv'], 0)
        for ours, theirs in TEXT_BLOCK:
            out[f'{o}.{theirs}'] = sd[f'{h}.{ours}']
    out['ln_final.weight'] = sd['text_model.final_layer_norm.weight']
    out['ln_final.bias'] = sd['text_model.final_layer_norm.bias']
    return out


def from_openai_state_dict(sd):
    """The inverse: OpenAI keys -> (our state dict, config), the config from shapes as build_model infers it
    (block counts, width, grid; text heads = width // 64; eot = the last vocabulary id)."""
    layers = [len({k.split('.')[2] for k in sd if k.startswith(f'visual.layer{b}.')}) for b in (1, 2, 3, 4)]
    width = sd['visual.layer1.0.conv1.weight'].shape[0]
    grid = round((sd['visual.attnpool.positional_embedding'].shape[0] - 1) ** 0.5)
    tw = sd['ln_final.weight'].shape[0]
    vocab = sd['token_embedding.weight'].shape[0]
    tlayers = len({k.split('.')[2] for k in sd if k.startswith('transformer.resblocks.')})
    text = dict(hidden_size=tw, intermediate_size=sd['transformer.resblocks.0.mlp.c_fc.weight'].shape[0],
                num_hidden_layers=tlayers, num_attention_heads=tw // 64,
                max_position_embeddings=sd['positional_embedding'].shape[0], vocab_size=vocab,
                eos_token_id=vocab - 1, bos_token_id=vocab - 2, pad_token_id=0)
    config = rn_config(layers, width, grid * 32, sd['text_projection'].shape[1], text)
    ours = {k: v for k, v in sd.items() if k.startswith('visual.')}
    ours['text_model.embeddings.position_embedding.weight'] = sd['positional_embedding']
    ours['text_model.embeddings.token_embedding.weight'] = sd['token_embedding.weight']
    ours['text_projection.weight'] = sd['text_projection'].t().contiguous()
    ours['logit_scale'] = sd['logit_scale']
    for i in range(tlayers):
        h, o = f'text_model.encoder.layers.{i}', f'transformer.resblocks.{i}'
        for j, p in enumerate('qkv'):
            ours[f'{h}.self_attn.{p}_proj.weight'] = sd[f'{o}.attn.in_proj_weight'][j * tw:(j + 1) * tw]
            ours[f'{h}.self_attn.{p}_proj.bias'] = sd[f'{o}.attn.in_proj_bias'][j * tw:(j + 1) * tw]
        for o_name, t_name in TEXT_BLOCK:
            ours[f'{h}.{o_name}'] = sd[f'{o}.{t_name}']
    ours['text_model.final_layer_norm.weight'] = sd['ln_final.weight']
    ours['text_model.final_layer_norm.bias'] = sd['ln_final.bias']
    return ours, config


def save(model, folder, metadata=None):
    """model.safetensors (openai/CLIP names) in `folder`, and no config.json: the state dict alone defines the model
    (build_model's inference), and a config.json marks a Hugging Face folder, which is always a ViT (HF has no CLIP
    ResNet), so decomcam's loader refuses a ResNet state dict beside one. The trainer logs the config instead."""
    os.makedirs(folder, exist_ok=True)
    st.save(os.path.join(folder, 'model.safetensors'), to_openai_state_dict(model), {'format': 'pt', **(metadata or {})})


def load(folder, dtype=torch.float32):
    """A CLIPRN from `folder`'s model.safetensors (OpenAI names), the config inferred from its shapes; a
    config.json, when there, must agree with them."""
    tensors, _ = st.load(os.path.join(folder, 'model.safetensors'))
    sd = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    ours, config = from_openai_state_dict(sd)
    path = os.path.join(folder, 'config.json')
    if os.path.exists(path):
        with open(path) as f:
            given = json.load(f)
        for key in ('layers', 'width', 'heads', 'image_size'):
            assert given['vision_config'][key] == config['vision_config'][key], f'config.json {key} vs shapes'
        config = given
    model = CLIPRN(config)
    model.load_state_dict({k: (v if k.endswith('num_batches_tracked') else v.to(dtype)) for k, v in ours.items()})
    return model.to(dtype)


def is_rn_folder(folder):
    path = os.path.join(folder, 'config.json')
    if not os.path.exists(path):
        return False
    with open(path) as f:
        return json.load(f).get('model_type') == 'clip_resnet'


if __name__ == '__main__':
    # smoke test: shapes, the attention pool against torch's multi_head_attention_forward (OpenAI's own call),
    # and the OpenAI state dict round trip
    torch.manual_seed(0)
    cfg = rn_config([1, 2, 1, 1], 8, 64, 16, dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                                   num_attention_heads=1, vocab_size=100, eos_token_id=99,
                                                   bos_token_id=98, max_position_embeddings=16, pad_token_id=0))
    m = CLIPRN(cfg).eval()
    for mod in m.modules():   # non-trivial BN statistics
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    x = torch.randn(3, 3, 64, 64)
    acts = {}
    emb = m.vision_forward(x, acts)
    print({k: tuple(v.shape) for k, v in acts.items()})
    ap = m.visual.attnpool
    t = acts['visual.attnpool.tokens'].transpose(0, 1)   # (N,B,Dp)
    ref, _ = F.multi_head_attention_forward(
        query=t[:1], key=t, value=t, embed_dim_to_check=t.shape[-1], num_heads=ap.H,
        q_proj_weight=ap.q_proj.weight, k_proj_weight=ap.k_proj.weight, v_proj_weight=ap.v_proj.weight,
        in_proj_weight=None, in_proj_bias=torch.cat([ap.q_proj.bias, ap.k_proj.bias, ap.v_proj.bias]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0, out_proj_weight=ap.c_proj.weight,
        out_proj_bias=ap.c_proj.bias, use_separate_proj_weight=True, training=False, need_weights=False)
    err = float((ref.squeeze(0) - emb).abs().max())
    print('attnpool vs torch MHA max |diff|', err)
    assert err < 1e-5
    oa = to_openai_state_dict(m)
    ours, cfg2 = from_openai_state_dict(oa)
    assert cfg2['vision_config'] == cfg['vision_config'], (cfg2['vision_config'], cfg['vision_config'])
    m2 = CLIPRN(cfg2).eval()
    m2.load_state_dict(ours)
    ids = torch.tensor([[98, 5, 6, 99] + [0] * 12])
    assert torch.equal(m2.encode_image(x), emb) and torch.equal(m2.encode_text(ids), m.encode_text(ids))
    print(len(oa), 'OpenAI tensors, e.g.', [k for k in oa if 'layer2.0.downsample' in k][:3], 'ok')
