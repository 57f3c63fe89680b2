#!/usr/bin/env node
// tools/convert.js: any model loadClip reads (PyTorch .pt/.bin, TorchScript, sharded HF, safetensors) into a
// safetensors model folder, so later loads skip the pickle and the widening:
//   node tools/convert.js ~/.cache/clip/ViT-B-16.pt ./vit-b16 --vocab ./bpe_simple_vocab_16e6.txt.gz
// --names hf (default): config.json + model.safetensors with Hugging Face names; --names openai: one
// <name>.safetensors with openai/CLIP's names (its configuration is then inferred from shapes, as OpenAI's is).
// The tokenizer files (from --vocab, or beside IN) are copied along. The folder is written whole or not at all.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, parseArgs, helpText, packageVersion, UsageError, writeOutputsAtomically } from './lib/cli.js';
import { loadClip } from '../dist/clip/load.js';
import { hfPartShape } from '../dist/clip/weights.js';
import { serializeSafetensors } from '../dist/io/safetensors.js';

const SPEC = {
  names: { type: 'string', default: 'hf', choices: ['hf', 'openai'], help: 'tensor names: hf (config.json + model.safetensors) or openai (one .safetensors)' },
  dtype: { type: 'string', default: 'F32', choices: ['F32', 'F16', 'BF16'], help: 'stored dtype (F16 keeps an fp16 checkpoint exact at half the size)' },
  vocab: { type: 'string', help: 'tokenizer folder or a file in it (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz); default: beside IN' },
  help: { type: 'bool', help: 'show this help' },
  version: { type: 'bool', help: 'show the version' },
};
const USAGE = 'usage: node tools/convert.js IN OUT_DIR [--names hf|openai] [--dtype F32|F16|BF16] [--vocab PATH]';
const TOKENIZER_FILES = [['vocab.json', 'merges.txt'], ['bpe_simple_vocab_16e6.txt.gz']];
const log = (msg) => process.stderr.write(`${msg}\n`);

// HF CLIPConfig fields for our configuration (the ones parseHfConfig reads).
export function hfConfig(c) {
  const tower = (t) => ({ hidden_size: t.width, intermediate_size: t.mlpWidth, num_hidden_layers: t.layers,
    num_attention_heads: t.heads, hidden_act: t.act, layer_norm_eps: t.eps });
  return {
    architectures: ['CLIPModel'], model_type: 'clip', projection_dim: c.embedDim, logit_scale_init_value: c.logitScaleInit,
    vision_config: { ...tower(c.vision), patch_size: c.vision.patchSize, image_size: c.vision.imageSize, num_channels: c.vision.channels },
    text_config: { ...tower(c.text), max_position_embeddings: c.text.contextLength, vocab_size: c.text.vocabSize, eos_token_id: c.text.eotId },
  };
}

// The model's parameters under checkpoint names: HF splits qkv into q, k, v; OpenAI stores projections (width, E).
export function checkpointTensors(model, names, dtype) {
  const tensors = new Map();
  for (const s of model.params.specs) {
    const view = model.params.views.get(s.name);
    if (names === 'hf') {
      const part = hfPartShape(s);
      const n = part.reduce((a, b) => a * b, 1);
      s.hf.forEach((key, i) => tensors.set(key, { dtype, shape: part, data: Float32Array.from(view.subarray(i * n, (i + 1) * n)) }));
    } else if (s.openaiTransposed) {
      const [rows, cols] = s.shape;
      const t = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = view[r * cols + c];
      tensors.set(s.openai, { dtype, shape: [cols, rows], data: t });
    } else {
      tensors.set(s.openai, { dtype, shape: s.shape, data: Float32Array.from(view) });
    }
  }
  return tensors;
}

async function main(argv) {
  const positional = [];
  while (argv.length && !argv[0].startsWith('--')) positional.push(argv.shift());
  const opts = parseArgs(argv, SPEC);
  if (opts.help) { console.log(helpText(USAGE, SPEC)); return; }
  if (opts.version) { console.log(`decomcam ${packageVersion()}`); return; }
  if (positional.length !== 2) throw new UsageError(`expected IN and OUT_DIR, got ${positional.length} argument(s)\n${USAGE}`);
  const [input, out] = positional;
  if (!existsSync(input)) throw new UsageError(`${input} does not exist`);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
    throw new UsageError(`${out} already exists and is not an empty folder: choose a new OUT_DIR (nothing is overwritten)`);
  }

  const t0 = performance.now();
  const model = loadClip(input, { vocab: opts.vocab });
  log(`read ${model.source} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  const c = model.config;
  if (opts.names === 'openai') {
    const off = [c.vision, c.text].filter((t) => t.act !== 'quick_gelu' || t.heads * 64 !== t.width || t.eps !== 1e-5);
    if (off.length > 0 || c.text.eotId !== c.text.vocabSize - 1) {
      throw new UsageError('--names openai: an OpenAI state dict carries no configuration, and this model\'s ' +
        '(activation, heads, epsilon or end-of-text id) would not be inferred back from its shapes; use --names hf');
    }
  }

  const files = {};
  const meta = { format: 'pt', converted_from: basename(resolve(input)), converter: `decomcam ${packageVersion()} tools/convert.js` };
  const tensors = checkpointTensors(model, opts.names, opts.dtype);
  if (opts.names === 'hf') {
    files['model.safetensors'] = serializeSafetensors(tensors, meta);
    files['config.json'] = `${JSON.stringify(hfConfig(c), null, 2)}\n`;
  } else {
    const stem = basename(resolve(input)).replace(/\.[^.]*$/, '') || 'model';
    files[`${stem}.safetensors`] = serializeSafetensors(tensors, meta);
  }
  // the tokenizer: copied from where loadClip found it
  const vocabDir = opts.vocab ? (statSync(opts.vocab).isFile() ? dirname(opts.vocab) : opts.vocab)
    : statSync(input).isFile() ? dirname(input) : input;
  const set = TOKENIZER_FILES.find((fs) => fs.every((f) => existsSync(join(vocabDir, f))));
  if (set) for (const f of set) files[f] = readFileSync(join(vocabDir, f));
  else log(`warning: no tokenizer files (vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz) in ${vocabDir}: ` +
    'the converted model can encode images but not texts until they are added (or give --vocab)');
  writeOutputsAtomically(out, files);
  log(`wrote ${Object.keys(files).join(', ')} to ${resolve(out)} (${tensors.size} tensors, ${opts.dtype}, ${opts.names} names) ` +
    `in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

// (run as a command, also through the decomcam-convert link; imported by tools/bench_load.js for its helpers)
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) runMain('convert', main);
