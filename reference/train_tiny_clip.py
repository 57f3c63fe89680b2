"""train_tiny_clip.py: trains the small CLIP that decomcam ships, on generated scenes, deterministically.

The model is reference/clip_model.py's CLIP (HF names): a ViT image tower (64 x 64 input with 8-pixel patches,
an 8 x 8 grid; width 128, 4 layers) that sees the 128 x 128 scenes through CLIP's own preprocessing (bicubic
resize of the short side, centre crop, CLIP mean/std), and a causal text transformer (width 128, 3 layers,
16 positions) over a 561-id caption BPE (make_caption_vocab.py).
Loss: CLIP's symmetric contrastive loss with a learnable logit scale, where every text that is TRUE of an image
(it names only objects that the image contains) counts as a positive for it, so in-batch duplicates and partial
captions are not pushed apart. The texts of a step are all 36 single-object captions (dense hard negatives),
each image's caption (one object half the time, else 2-3 of its objects in random order), and one hard negative
per image (two objects' colours swapped, or one object's colour or shape changed). For the first steps a
label-free text-uniformity term spreads the 36 object captions apart (see uniformity_loss); its weight decays
linearly to zero, so the rest of training is the plain CLIP loss.

Determinism: torch.manual_seed(seed), torch.use_deterministic_algorithms(True), a fixed thread count; training
scene k of run `seed` is scenes.render_scene(seed * 100_000_000 + k) (always < 1e9, disjoint from held-out seeds).
The same seed, thread count and library versions give the same weights bit for bit (runs here repeat their
loss curves to the last digit logged).
Defaults (the shipped model): 1,700 steps of 128 scenes, 25 min 54 s on the 2-core development machine (torch 1.13,
Debian); 92.2% zero-shot on the 1,000 held-out scenes (train_log.txt).

--arch rn trains the shipped ResNet CLIP instead (weights/tiny-clip-rn): openai/CLIP's ModifiedResNet image tower
(reference/resnet_model.py; width 8, one Bottleneck per layer) at 224 x 224 input, so that its default target layer,
visual.layer4, is a 7 x 7 grid (the network downsamples by 32; the 128-pixel scenes are upsampled by CLIP's own
bicubic preprocessing). Same data, same loss, same text tower, except 2 text heads of 64 channels instead of 4 of
32: the checkpoint is an openai/CLIP state dict, whose loaders (build_model, ours) infer heads = width // 64.
The shipped ResNet (train_log.txt): --arch rn with its defaults, 1,350 steps of 128 scenes at peak learning rate
2e-3 (warm-up 100 steps; a CNN with BatchNorm takes twice the ViT's rate), 44.1 min on the 2-core machine
(~65 scenes/s); 99.7% zero-shot on the 1,000 held-out scenes (single objects 100%, shape 99.9%). An earlier
run of 600 steps of 64 scenes at 1e-3 reached 71.5%: under-trained, as its validation curve showed.

Usage:
  python3 reference/train_tiny_clip.py --out weights/tiny-clip              # train, evaluate, save, export
  python3 reference/train_tiny_clip.py --out weights/tiny-clip --export-only   # evaluate + exports only
  python3 reference/train_tiny_clip.py --arch rn                            # the ResNet: weights/tiny-clip-rn
      (--arch rn's defaults: --steps 1350 --lr 2e-3 --warmup 100 --val-every 150; the ViT's: 1700, 1e-3, 50, 250)
Writes to --out: config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json,
train_log.json, train_log.txt, sample.png, sample.json; plus weights/scenes-heldout/ (held-out scenes) and
reference/fixtures/tiny_clip_zeroshot.{json,safetensors} (--arch rn: tiny_clip_rn_zeroshot.*).
"""
import argparse
import concurrent.futures
import json
import math
import os
import platform
import sys
import time

# OpenMP threads that wait for work by sleeping, not spinning: the batch-rendering worker process shares the two
# cores with torch's two threads, and spinning threads starve it (measured here: 1.45 s a step spinning, 0.90 s
# passive, batch 128). Set before torch loads libgomp; it changes no result.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_model  # noqa: E402
import resnet_model  # noqa: E402
import scenes  # noqa: E402
import st  # noqa: E402
from make_caption_vocab import ClipBpe, build_vocab, caption_corpus, learn_merges, write_vocab  # noqa: E402

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CONTEXT = 16               # text positions: the longest caption is 13 tokens with <|startoftext|>/<|endoftext|>
SEEDS_PER_RUN = 100_000_000
VAL_FIRST_SEED = 1_050_000_000   # progress checks during training: held-out range, never exported or tested
TEST_FIRST_SEED = scenes.SEED_RANGES['heldout'][0]   # the final test (and the exported scenes, its first ones)

# ---------------------------------------------------------------------------------------------------------
# Model


def text_config(vocab_size, heads=4):
    return dict(hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=heads,
                max_position_embeddings=CONTEXT, vocab_size=vocab_size, hidden_act='quick_gelu',
                bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=0)


def tiny_config(vocab_size, width=128, layers=4, image_size=64, patch_size=8, E=128):
    vision = dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                  num_attention_heads=width // 32, patch_size=patch_size, image_size=image_size,
                  hidden_act='quick_gelu')
    return clip_model.make_config(vision, text_config(vocab_size), projection_dim=E,
                                  logit_scale_init_value=math.log(1 / 0.07))


def tiny_rn_config(vocab_size, width=8, layers=(1, 1, 1, 1), image_size=224, E=128):
    """The ResNet CLIP: text heads = 128 // 64 = 2, as openai/CLIP's build_model infers them from the checkpoint."""
    return resnet_model.rn_config(layers, width, image_size, E, text_config(vocab_size, heads=128 // 64),
                                  logit_scale_init_value=math.log(1 / 0.07))


def make_model(args, vocab_size):
    """A freshly initialised model of --arch."""
    if args.arch == 'rn':
        model = resnet_model.CLIPRN(tiny_rn_config(vocab_size, args.rn_width, args.rn_layers, args.image_size))
        resnet_model.init_weights(model)
    else:
        model = clip_model.CLIP(tiny_config(vocab_size, args.width, args.layers, args.image_size, args.patch))
        init_weights(model)
    return model


def init_weights(model):
    """OpenAI CLIP's initialisation (clip/model.py initialize_parameters) on HF names; clip_model.CLIP keeps
    PyTorch's defaults, whose N(0, 1) embeddings are too large for a transformer trained from scratch."""
    def tower(t, D, L):
        attn_std, proj_std, fc_std = D ** -0.5, D ** -0.5 * (2 * L) ** -0.5, (2 * D) ** -0.5
        for layer in t.encoder.layers:
            for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(p.weight, std=attn_std)
                torch.nn.init.zeros_(p.bias)
            torch.nn.init.normal_(layer.self_attn.out_proj.weight, std=proj_std)
            torch.nn.init.zeros_(layer.self_attn.out_proj.bias)
            torch.nn.init.normal_(layer.mlp.fc1.weight, std=fc_std)
            torch.nn.init.zeros_(layer.mlp.fc1.bias)
            torch.nn.init.normal_(layer.mlp.fc2.weight, std=proj_std)
            torch.nn.init.zeros_(layer.mlp.fc2.bias)

    vc, tc = model.config['vision_config'], model.config['text_config']
    Dv, Dt = vc['hidden_size'], tc['hidden_size']
    with torch.no_grad():
        emb = model.vision_model.embeddings
        emb.class_embedding.copy_(torch.randn(Dv) * Dv ** -0.5)
        torch.nn.init.normal_(emb.position_embedding.weight, std=Dv ** -0.5)
        tower(model.vision_model, Dv, vc['num_hidden_layers'])
        torch.nn.init.normal_(model.text_model.embeddings.token_embedding.weight, std=0.02)
        torch.nn.init.normal_(model.text_model.embeddings.position_embedding.weight, std=0.01)
        tower(model.text_model, Dt, tc['num_hidden_layers'])
        torch.nn.init.normal_(model.visual_projection.weight, std=Dv ** -0.5)
        torch.nn.init.normal_(model.text_projection.weight, std=Dt ** -0.5)


def clip_resize(image, size):
    """(H,W,3) uint8 -> (size,size,3) uint8 as OpenAI CLIP's torchvision Resize(size, BICUBIC) + CenterCrop(size)
    on a PIL image: the short side becomes size (the long side int(size * long / short)), PIL's bicubic resample,
    then a centred crop at round((side - size) / 2). The 128-pixel scenes become 64 x 64: a plain PIL resize."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    short, long = min(h, w), max(h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    im = Image.fromarray(image).resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - size) / 2)), int(round((nh - size) / 2))
    return np.asarray(im.crop((left, top, left + size, top + size)))


def preprocess(images):
    """(B,S,S,3) uint8, already clip_resize'd -> (B,3,S,S) float32 CLIP-normalised, as torchvision's
    to_tensor (x / 255) then normalize ((x - mean) / std)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(CLIP_MEAN)[:, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None]
    return x.sub(mean).div(std)


# ---------------------------------------------------------------------------------------------------------
# Training data: scenes, captions that are true of them, hard negatives


def caption_of(items):
    """[(colour, shape), ...] -> 'a red circle and a blue square'."""
    return scenes.join_captions([scenes.object_caption(c, s) for c, s in items])


def true_of(items, present):
    """A caption is true of a scene when every object it names is in the scene."""
    return all(it in present for it in items)


def hard_negative(items, rng):
    """A caption close to `items` that is false for the scene it came from (when possible): swap two objects'
    colours, else change one object's colour or shape."""
    items = list(items)
    pairs = [(i, j) for i in range(len(items)) for j in range(i + 1, len(items))
             if items[i][0] != items[j][0] and items[i][1] != items[j][1]]
    if pairs and rng.uniform() < 0.5:
        i, j = pairs[int(rng.integers(0, len(pairs)))]
        (ci, si), (cj, sj) = items[i], items[j]
        items[i], items[j] = (cj, si), (ci, sj)
        return items
    k = int(rng.integers(0, len(items)))
    c, s = items[k]
    if rng.uniform() < 0.5:
        c = [x for x in scenes.COLOUR_NAMES if x != c][int(rng.integers(0, 5))]
    else:
        s = [x for x in scenes.SHAPES if x != s][int(rng.integers(0, 5))]
    items[k] = (c, s)
    return items


def training_example(scene_seed, size):
    """(image uint8 (S,S,3) at the model's input size, present objects, caption items, hard-negative items)."""
    sc = scenes.render_scene(scene_seed)
    present = [(o['colour'], o['shape']) for o in sc['objects']]
    rng = np.random.default_rng([scene_seed, 7])   # caption choice: its own stream, same seed
    k = len(present)
    m = 1 if k == 1 or rng.uniform() < 0.5 else int(rng.integers(2, k + 1))   # half of captions name one object
    pick = rng.permutation(k)[:m]
    items = [present[i] for i in pick]                                       # random subset, random order
    return clip_resize(sc['image'], size), present, items, hard_negative(items, rng)


def worker_init():
    """The scene worker ends with the training process (Linux prctl PR_SET_PDEATHSIG), even when it is killed."""
    try:
        import ctypes
        import signal
        ctypes.CDLL('libc.so.6').prctl(1, signal.SIGTERM)
    except OSError:
        pass


def make_batch(args):
    """One batch, computed in a worker process while the previous step trains."""
    first_seed, batch, size = args
    return [training_example(first_seed + i, size) for i in range(batch)]


def contrastive_loss(img_emb, txt_emb, logit_scale, truth):
    """Symmetric InfoNCE with several positives: img_emb (B,E), txt_emb (Bt,E), truth (B,Bt) bool.
    Image -> text: cross-entropy against the uniform distribution over the texts true of the image.
    Text -> image: the same over images, for texts that are true of at least one image."""
    v = F.normalize(img_emb, dim=-1)
    t = F.normalize(txt_emb, dim=-1)
    logits = logit_scale.clamp(max=math.log(100)).exp() * v @ t.T                 # (B,Bt)
    target = truth.float()
    i2t = -(F.log_softmax(logits, dim=1) * target / target.sum(1, keepdim=True)).sum(1).mean()
    cols = truth.any(0)
    tc = target[:, cols]
    t2i = -(F.log_softmax(logits[:, cols], dim=0) * tc / tc.sum(0, keepdim=True)).sum(0).mean()
    return (i2t + t2i) / 2, logits


def uniformity_loss(emb):
    """Wang & Isola's uniformity, log mean over pairs i != j of exp(-2 |t_i - t_j|^2) on unit vectors: spreads the
    36 object captions apart early in training. At initialisation every caption embeds almost alike (cosines
    ~0.9, the end-of-text token dominates its own output), so images get no shape-specific target and the text
    tower no shape-specific image to follow; spreading the texts breaks that symmetry. Label-free, and its
    weight decays to zero, so the end of training is plain CLIP."""
    t = F.normalize(emb, dim=-1)
    sq = (2 - 2 * t @ t.T).clamp(min=0)                                     # |t_i - t_j|^2
    off = ~torch.eye(len(t), dtype=torch.bool)
    return torch.log(torch.exp(-2 * sq[off]).mean())


# ---------------------------------------------------------------------------------------------------------
# Zero-shot evaluation


@torch.no_grad()
def embed_texts(model, bpe, texts):
    ids = torch.tensor(bpe.tokenize(texts, CONTEXT), dtype=torch.long)
    return model.encode_text(ids), ids


def image_size(model):
    return model.config['vision_config']['image_size']


def model_inputs(model, images):
    """(B,H,W,3) uint8 scenes -> (B,3,S,S) float32: CLIP's preprocessing at the model's input size."""
    return preprocess(np.stack([clip_resize(im, image_size(model)) for im in images]))


@torch.no_grad()
def embed_images(model, images, batch=100):
    out = [model.encode_image(model_inputs(model, images[i:i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(out)


def zero_shot(model, bpe, images, present, text_emb=None):
    """Scores every image against all single-object captions (scenes.ALL_OBJECT_CAPTIONS).
    present: per image, the class indices of its objects. Returns a dict of accuracies:
      any_object    top-1 caption names an object in the scene (the issue's rule for several objects)
      single        top-1 is the object, over one-object scenes only
      multi_any     the any-object rule over scenes with 2-3 objects
      multi_all     the top-k captions (k = number of objects) are exactly the scene's objects
      per_object    for each object, its caption outranks every caption of an absent object (mean over objects)
      colour, shape the top-1 caption's colour (shape) is that of an object in the scene
    """
    if text_emb is None:
        text_emb, _ = embed_texts(model, bpe, scenes.ALL_OBJECT_CAPTIONS)
    img_emb = embed_images(model, images)
    cos = F.normalize(img_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T     # (n, 36)
    top = cos.argmax(1).tolist()
    order = cos.argsort(1, descending=True).tolist()
    hit_any, single, multi_any, multi_all, per_obj, colour_ok, shape_ok = [], [], [], [], [], [], []
    n_shapes = len(scenes.SHAPES)
    for i, objs in enumerate(present):
        hit = top[i] in objs
        hit_any.append(hit)
        colour_ok.append(any(top[i] // n_shapes == c // n_shapes for c in objs))
        shape_ok.append(any(top[i] % n_shapes == c % n_shapes for c in objs))
        if len(objs) == 1:
            single.append(hit)
        else:
            multi_any.append(hit)
            multi_all.append(set(order[i][:len(objs)]) == set(objs))
        absent_best = max(float(cos[i, c]) for c in range(len(scenes.ALL_OBJECT_CAPTIONS)) if c not in objs)
        per_obj += [float(cos[i, c]) > absent_best for c in objs]
    mean = lambda xs: float(np.mean(xs)) if xs else float('nan')   # noqa: E731
    return dict(n=len(present), any_object=mean(hit_any), single=mean(single), n_single=len(single),
                multi_any=mean(multi_any), multi_all=mean(multi_all), n_multi=len(multi_any),
                per_object=mean(per_obj), n_objects=len(per_obj), colour=mean(colour_ok),
                shape=mean(shape_ok)), cos, top


def rendered_set(first_seed, count):
    images, present = [], []
    for i in range(count):
        sc = scenes.render_scene(first_seed + i)
        images.append(sc['image'])
        present.append([scenes.ALL_OBJECT_CAPTIONS.index(o['caption']) for o in sc['objects']])
    return np.stack(images), present


def exported_set(folder):
    """The exported held-out scenes, read back from their PNG files (exactly what TypeScript reads)."""
    with open(os.path.join(folder, 'annotations.json')) as f:
        ann = json.load(f)
    images = np.stack([np.asarray(Image.open(os.path.join(folder, s['file'])).convert('RGB')) for s in ann['scenes']])
    present = [[o['class_index'] for o in s['objects']] for s in ann['scenes']]
    return images, present, ann


# ---------------------------------------------------------------------------------------------------------
# Training


def lr_at(step, steps, peak, warmup):
    """Linear warm-up, then cosine decay to 0."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train(args, bpe, log):
    torch.manual_seed(args.seed)
    model = make_model(args, len(bpe.encoder))
    # weight decay on matrices only (not on biases, layer norms, embeddings or the logit scale)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'embedding' not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'embedding' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    val_images, val_present = rendered_set(VAL_FIRST_SEED, args.val_count)
    first = args.seed * SEEDS_PER_RUN
    assert first + args.steps * args.batch < scenes.SEED_RANGES['train'][1], 'training seeds must stay below 1e9'
    log['training_scene_seeds'] = [first, first + args.steps * args.batch - 1]
    pool = concurrent.futures.ProcessPoolExecutor(1, initializer=worker_init)
    pending = pool.submit(make_batch, (first, args.batch, args.image_size))
    t0 = time.time()
    for step in range(args.steps):
        batch = pending.result()
        if step + 1 < args.steps:
            pending = pool.submit(make_batch, (first + (step + 1) * args.batch, args.batch, args.image_size))
        images = np.stack([b[0] for b in batch])
        # all 36 object captions, then the batch's captions and hard negatives, each distinct text once
        texts = {}
        for c in scenes.COLOUR_NAMES:      # every single-object caption, every step: the dense hard negatives
            for sh in scenes.SHAPES:
                texts[scenes.object_caption(c, sh)] = [(c, sh)]
        for b in batch:
            for it in (b[2], b[3]):
                texts.setdefault(caption_of(it), it)
        truth = torch.tensor([[true_of(it, set(b[1])) for it in texts.values()] for b in batch])  # (B, Bt)
        ids = torch.tensor(bpe.tokenize(list(texts), CONTEXT), dtype=torch.long)                 # (Bt, T)
        # positions after the last end-of-text token cannot change any pooled output (causal attention): skip them
        ids = ids[:, :int((ids != 0).sum(1).max())]
        for group in opt.param_groups:
            group['lr'] = lr_at(step, args.steps, args.lr, args.warmup)
        model.train()
        img_emb = model.encode_image(preprocess(images))                                       # (B, E)
        txt_emb = model.encode_text(ids)                                                       # (Bt, E)
        clip_loss, logits = contrastive_loss(img_emb, txt_emb, model.logit_scale, truth)
        loss = clip_loss
        w_unif = args.text_uniformity * max(0.0, 1.0 - step / args.uniformity_steps) if args.uniformity_steps else 0.0
        unif = uniformity_loss(txt_emb[:len(scenes.ALL_OBJECT_CAPTIONS)])
        if w_unif > 0:
            loss = loss + w_unif * unif
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
            acc = float(truth[torch.arange(args.batch), logits.argmax(1)].float().mean())  # top text is true
        if step % args.log_every == 0 or step == args.steps - 1:
            rec = dict(step=step, loss=round(float(clip_loss), 5), uniformity=round(float(unif), 4),
                       uniformity_weight=round(w_unif, 4), batch_acc=round(acc, 4), lr=lr_at(step, args.steps,
                       args.lr, args.warmup), logit_scale=round(float(model.logit_scale.exp()), 3),
                       grad_norm=round(float(gnorm), 4), seconds=round(time.time() - t0, 1))
            log['curve'].append(rec)
            say(log, f"step {step:5d}  loss {rec['loss']:.4f}  unif {rec['uniformity']:.3f} x{w_unif:.2f}  "
                     f"batch-acc {acc:.3f}  scale {rec['logit_scale']:.1f}  "
                     f"lr {rec['lr']:.2e}  |g| {rec['grad_norm']:.2f}  {rec['seconds']:.0f}s")
        if (step + 1) % args.val_every == 0 or step == args.steps - 1:
            model.eval()
            res, _, _ = zero_shot(model, bpe, val_images, val_present)
            log['val'].append(dict(step=step, **res))
            say(log, f"  val@{step}: any-object {res['any_object']:.3f}  single {res['single']:.3f}  "
                     f"multi-all {res['multi_all']:.3f}  per-object {res['per_object']:.3f}  "
                     f"colour {res['colour']:.3f}  shape {res['shape']:.3f}")
        if args.checkpoint and args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            # a fallback on a busy machine: --finish-from exports this state (the schedule is then not finished)
            log['train_seconds'] = round(time.time() - t0, 1)
            torch.save(dict(step=step, model=model.state_dict(), log=log), args.checkpoint + '.tmp')
            os.replace(args.checkpoint + '.tmp', args.checkpoint)
    pool.shutdown()
    log['train_seconds'] = round(time.time() - t0, 1)
    model.eval()
    return model


def say(log, line, key='lines'):
    """Print a line and keep it in the log (training lines under 'lines', evaluation lines under 'eval_lines')."""
    print(line, flush=True)
    log.setdefault(key, []).append(line)


def note(log, line):
    say(log, line, 'eval_lines')


# ---------------------------------------------------------------------------------------------------------
# Exports: vocabulary, held-out scenes, sample scene, TS fixture


def make_vocab(out_dir):
    merges = learn_merges(caption_corpus())
    write_vocab(out_dir, build_vocab(merges), merges)
    return ClipBpe.from_files(os.path.join(out_dir, 'vocab.json'), os.path.join(out_dir, 'merges.txt'))


def write_preprocessor_config(out_dir, size):
    """HF CLIPImageProcessor settings: documents the preprocessing (bicubic resize of the short side, centre crop,
    CLIP mean and std)."""
    cfg = dict(image_processor_type='CLIPImageProcessor', do_resize=True, size={'shortest_edge': size},
               resample=3, do_center_crop=True, crop_size={'height': size, 'width': size},
               do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=list(CLIP_MEAN),
               image_std=list(CLIP_STD), do_convert_rgb=True)
    with open(os.path.join(out_dir, 'preprocessor_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')


def sample_candidates():
    """Scenes of the sample seed range, in seed order, with two or three objects of different colours and shapes,
    each at least 500 visible pixels, with non-overlapping boxes (geometry only)."""
    lo, hi = scenes.SEED_RANGES['sample']
    for seed in range(lo, hi):
        sc = scenes.render_scene(seed)
        objs = sc['objects']
        if len(objs) < 2 or len({o['colour'] for o in objs}) < len(objs) or len({o['shape'] for o in objs}) < len(objs):
            continue
        if min(o['area'] for o in objs) < 500:
            continue
        boxes = [o['box'] for o in objs]
        if any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
               for i, a in enumerate(boxes) for b in boxes[i + 1:]):
            continue
        yield sc


def write_sample(model, bpe, out_dir, text_emb):
    """The default scene of tools/explain.js: the first candidate whose top caption among the 36 object captions
    (this model's zero-shot answer) names one of its objects; the default text is that caption. A demo should
    explain what the model sees, so a scene it misreads is passed over (how often it misreads: train_log)."""
    skipped = []
    for sc in sample_candidates():
        present = [scenes.ALL_OBJECT_CAPTIONS.index(o['caption']) for o in sc['objects']]
        _, cos, top = zero_shot(model, bpe, sc['image'][None], [present], text_emb)
        if int(top[0]) in present:
            break
        skipped.append(sc['seed'])
    else:
        raise RuntimeError('no sample scene found')
    Image.fromarray(sc['image']).save(os.path.join(out_dir, 'sample.png'), optimize=True)
    target = present.index(int(top[0]))
    ranked = cos[0].argsort(descending=True).tolist()
    info = dict(
        image='sample.png', seed=sc['seed'], width=scenes.SIZE, height=scenes.SIZE,
        text=sc['objects'][target]['caption'], target_object=target, caption=sc['caption'],
        note=('The default scene and text of tools/explain.js: `text` names objects[target_object]. The scene is the '
              'first of the sample seed range with 2-3 objects of distinct colours and shapes, >= 500 pixels each, '
              'boxes apart, whose top caption (this model, zero-shot) names one of its objects: that caption is the '
              'text. skipped_seeds: earlier candidates the model misread. Boxes are xyxy in pixels of the visible '
              'mask (x2, y2 exclusive); objects in drawing order.'),
        skipped_seeds=skipped,
        objects=[dict(colour=o['colour'], shape=o['shape'], caption=o['caption'], box_xyxy=o['box'], area=o['area'])
                 for o in sc['objects']],
        model_top_captions=[dict(caption=scenes.ALL_OBJECT_CAPTIONS[c], cosine=round(float(cos[0, c]), 5))
                            for c in ranked[:5]])
    with open(os.path.join(out_dir, 'sample.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return info


def write_fixture(model, bpe, heldout_dir, ann, count, command, fx, name='tiny_clip', model_dir='weights/tiny-clip'):
    """The PyTorch model's numbers on the first `count` exported held-out scenes, for a TS test: pixel values,
    image embeddings, the token ids and embeddings of all object captions, cosines, logits and argmax."""
    files = [s['file'] for s in ann['scenes'][:count]]
    images = np.stack([np.asarray(Image.open(os.path.join(heldout_dir, f)).convert('RGB')) for f in files])
    with torch.no_grad():
        pixels = model_inputs(model, images)
        img_emb = model.encode_image(pixels)
        txt_emb, ids = embed_texts(model, bpe, scenes.ALL_OBJECT_CAPTIONS)
        cos = F.normalize(img_emb, dim=-1) @ F.normalize(txt_emb, dim=-1).T
        logits = model.logit_scale.exp() * cos
    os.makedirs(fx, exist_ok=True)
    st.save(os.path.join(fx, f'{name}_zeroshot.safetensors'), {
        'pixel_values': pixels, 'image_embeds': img_emb, 'text_ids': ids.to(torch.int64), 'text_embeds': txt_emb,
        'cosine': cos, 'logits_per_image': logits}, {'model': model_dir})
    argmax = cos.argmax(1).tolist()
    info = dict(
        note=(f'{os.path.basename(model_dir)} ({model_dir}) on the first held-out scenes of weights/scenes-heldout, '
              'as PyTorch computes it (reference/train_tiny_clip.py --export-only). cosine = cos(image_embeds, '
              'text_embeds); logits_per_image = exp(logit_scale) * cosine; texts = object_captions in order, '
              f'tokenised to text_ids (context 16, zero-padded). Tensors in {name}_zeroshot.safetensors.'),
        model=model_dir, scenes_dir='weights/scenes-heldout', images=files,
        object_captions=scenes.ALL_OBJECT_CAPTIONS, logit_scale=float(model.logit_scale),
        argmax=argmax, argmax_caption=[scenes.ALL_OBJECT_CAPTIONS[a] for a in argmax],
        present=[[o['class_index'] for o in s['objects']] for s in ann['scenes'][:count]],
        cosine=[[round(float(x), 6) for x in row] for row in cos],
        torch=torch.__version__, numpy=np.__version__, command=command)
    info['hit'] = [a in p for a, p in zip(argmax, info['present'])]
    with open(os.path.join(fx, f'{name}_zeroshot.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    return info


def versions():
    return dict(torch=torch.__version__, numpy=np.__version__, python=platform.python_version(),
                threads=torch.get_num_threads())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--arch', choices=['vit', 'rn'], default='vit',
                    help='image tower: vit (weights/tiny-clip) or rn, the ModifiedResNet (weights/tiny-clip-rn)')
    ap.add_argument('--out', default=None, help='model folder (default weights/tiny-clip, --arch rn: weights/tiny-clip-rn)')
    ap.add_argument('--heldout-dir', default=os.path.join(HERE, '..', 'weights', 'scenes-heldout'))
    ap.add_argument('--heldout-count', type=int, default=1000,
                    help='exported held-out scenes (the first of the test set: all of it by default)')
    ap.add_argument('--fixtures', default=os.path.join(HERE, 'fixtures'), help='where tiny_clip_zeroshot.* go')
    ap.add_argument('--test-count', type=int, default=1000, help='held-out scenes for the final Python test')
    ap.add_argument('--val-count', type=int, default=300)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--width', type=int, default=128, help='image tower width (heads of 32 channels)')
    ap.add_argument('--layers', type=int, default=4, help='image tower layers')
    ap.add_argument('--image-size', type=int, default=None,
                    help='model input size (scenes are resized to it): default 64 (vit), 224 (rn: a 7 x 7 layer4 grid)')
    ap.add_argument('--patch', type=int, default=8)
    ap.add_argument('--rn-width', type=int, default=8, help='--arch rn: stem width (layer4 has 32 x width channels)')
    ap.add_argument('--rn-layers', default='1,1,1,1', help='--arch rn: Bottleneck blocks per layer')
    ap.add_argument('--text-uniformity', type=float, default=1.0, help='weight of the text uniformity warm-up')
    ap.add_argument('--uniformity-steps', type=int, default=250, help='its weight decays linearly to 0 over these')
    ap.add_argument('--steps', type=int, default=None, help='default 1700 (vit), 1350 (rn)')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=None, help='peak learning rate: default 1e-3 (vit), 2e-3 (rn)')
    ap.add_argument('--warmup', type=int, default=None, help='default 50 (vit), 100 (rn)')
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--clip', type=float, default=1.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--log-every', type=int, default=10)
    ap.add_argument('--val-every', type=int, default=None, help='default 250 (vit), 150 (rn)')
    ap.add_argument('--export-only', action='store_true', help='load --out instead of training')
    ap.add_argument('--checkpoint', default=None, help='save model + log here every --checkpoint-every steps')
    ap.add_argument('--checkpoint-every', type=int, default=100)
    ap.add_argument('--finish-from', default=None,
                    help='skip training: take the model from this --checkpoint file (logged), then save and export')
    ap.add_argument('--no-export', action='store_true', help='skip held-out scenes, sample and fixture')
    args = ap.parse_args()
    rn = args.arch == 'rn'
    if args.image_size is None:
        args.image_size = 224 if rn else 64
    for name, vit, resnet in (('steps', 1700, 1350), ('lr', 1e-3, 2e-3), ('warmup', 50, 100), ('val_every', 250, 150)):
        if getattr(args, name) is None:
            setattr(args, name, resnet if rn else vit)
    if args.out is None:
        args.out = os.path.join(HERE, '..', 'weights', 'tiny-clip-rn' if rn else 'tiny-clip')
    args.rn_layers = [int(n) for n in str(args.rn_layers).split(',')] if not isinstance(args.rn_layers, list) else args.rn_layers
    assert 0 <= args.seed < 10, 'the seed picks 1e8 training scenes below 1e9: 0-9'

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    command = 'python3 reference/train_tiny_clip.py ' + ' '.join(sys.argv[1:])
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    bpe = make_vocab(out)
    log_path = os.path.join(out, 'train_log.json')
    if args.export_only:
        model = resnet_model.load(out) if rn else clip_model.load_hf(out)
        model.eval()
        with open(log_path) as f:
            log = json.load(f)
        log['eval_command'] = command
    else:
        log = dict(command=command, args=vars(args), versions=versions(), curve=[], val=[], lines=[],
                   seed_ranges=dict(scenes.SEED_RANGES, val=[VAL_FIRST_SEED, VAL_FIRST_SEED + args.val_count - 1]))
        if args.finish_from:
            ck = torch.load(args.finish_from)
            model = make_model(args, len(bpe.encoder))
            model.load_state_dict(ck['model'])
            model.eval()
            log = ck['log']
            say(log, f"training stopped after step {ck['step']} of {args.steps} (the schedule unfinished): "
                     f"exported from checkpoint {args.finish_from} by: {command}")
        else:
            model = train(args, bpe, log)
        log['config'] = model.config
        n_params = sum(p.numel() for p in model.parameters())
        log['parameters'] = n_params
        log['image_tower_parameters'] = sum(p.numel() for n, p in model.named_parameters() if n.startswith(('visual.', 'vision_model.', 'visual_projection.')))
        meta = {'trained_by': 'reference/train_tiny_clip.py' + (' --arch rn' if rn else ''), 'seed': args.seed}
        (resnet_model.save if rn else clip_model.save_hf)(model, out, meta)
        say(log, f'saved {out}: {n_params} parameters, '
                 f"{os.path.getsize(os.path.join(out, 'model.safetensors')) / 1e6:.2f} MB")
    log['eval_lines'] = []
    write_preprocessor_config(out, image_size(model))

    # Final test: held-out scenes never seen in training (the exported ones are the first of them).
    text_emb, _ = embed_texts(model, bpe, scenes.ALL_OBJECT_CAPTIONS)
    test_images, test_present = rendered_set(TEST_FIRST_SEED, args.test_count)
    res, _, _ = zero_shot(model, bpe, test_images, test_present, text_emb)
    log['test'] = dict(first_seed=TEST_FIRST_SEED, **res)
    note(log, f"test ({res['n']} held-out scenes, seeds {TEST_FIRST_SEED}..{TEST_FIRST_SEED + res['n'] - 1}): "
             f"any-object {res['any_object']:.4f}  single-object scenes {res['single']:.4f} (n={res['n_single']})  "
             f"multi any {res['multi_any']:.4f}  multi all-objects-top-k {res['multi_all']:.4f}  "
             f"per-object {res['per_object']:.4f}")
    if not args.no_export:
        scenes.export(args.heldout_dir, TEST_FIRST_SEED, args.heldout_count)
        ex_images, ex_present, ann = exported_set(args.heldout_dir)
        res, _, _ = zero_shot(model, bpe, ex_images, ex_present, text_emb)
        log['test_exported'] = dict(folder='weights/scenes-heldout', **res)
        note(log, f"exported held-out scenes ({res['n']}, read back from PNG): any-object {res['any_object']:.4f}  "
                 f"single {res['single']:.4f}  multi all {res['multi_all']:.4f}  per-object {res['per_object']:.4f}")
        sample = write_sample(model, bpe, out, text_emb)
        log['sample'] = dict(seed=sample['seed'], text=sample['text'], top=sample['model_top_captions'][:3])
        note(log, f"sample scene seed {sample['seed']}: '{sample['caption']}', default text '{sample['text']}', "
                 f"model's top caption '{sample['model_top_captions'][0]['caption']}'")
        fx = write_fixture(model, bpe, args.heldout_dir, ann, 6, command, args.fixtures,
                           *(('tiny_clip_rn', 'weights/tiny-clip-rn') if rn else ()))
        note(log, f"fixture: {len(fx['images'])} scenes, argmax hits {sum(fx['hit'])}/{len(fx['hit'])}")
    with open(log_path, 'w') as f:
        json.dump(log, f, indent=1)
        f.write('\n')
    with open(os.path.join(out, 'train_log.txt'), 'w') as f:
        f.write('\n'.join(log['lines'] + log['eval_lines']) + '\n')


if __name__ == '__main__':
    main()
