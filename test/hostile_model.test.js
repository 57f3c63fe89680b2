// test/hostile_model.test.js: loadClip against hostile model folders (issue 13, defects 4 and 10). Each folder
// is reference/fixtures/tiny_clip_hf with one file changed (the 1 MB checkpoint is linked, not copied). Absurd
// sizes must be refused by field name before anything is allocated or looped over; a config that disagrees
// with its checkpoint is refused on the first tensor shape, before the parameters are allocated; non-finite
// values are called that, not "null"; malformed tokenizer files and special files get clear errors.
import test from 'tape';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DecomcamError } from '../dist/errors.js';
import { loadClip } from '../dist/clip/load.js';
import { fixturesDir } from './helpers/compare.js';

const src = join(fixturesDir, 'tiny_clip_hf');
const configText = readFileSync(join(src, 'config.json'), 'utf8');

// A model folder: the fixture's files, with `files` ({name: text}) written over them.
function folder(files = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-hostile-'));
  for (const name of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) {
    if (name in files) {
      if (files[name] === 'DIRECTORY') mkdirSync(join(dir, name));
      else writeFileSync(join(dir, name), files[name]);
    } else symlinkSync(join(src, name), join(dir, name));
  }
  return dir;
}

// config.json with `"key": value` of one tower replaced by raw JSON text (so 1e400 stays as written).
function configWith(tower, key, raw) {
  const start = configText.indexOf(`"${tower}"`);
  const at = configText.indexOf(`"${key}"`, start);
  const end = configText.slice(at).search(/[,\n]/) + at;
  return configText.slice(0, at) + `"${key}": ${raw}` + configText.slice(end);
}

function refused(t, files, re, msg) {
  const dir = folder(files);
  try { loadClip(dir); t.fail(`${msg}: loaded`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e instanceof DecomcamError ? '' : e.name + ': '}${e.message}`);
  } finally { rmSync(dir, { recursive: true }); }
}

test('hostile model: the unchanged fixture folder loads', (t) => {
  const dir = folder();
  t.equal(loadClip(dir).config.vision.layers, 3, 'tiny_clip_hf through a folder of links');
  rmSync(dir, { recursive: true });
  t.end();
});

test('hostile model: absurd sizes are refused by field name before any loop or allocation', (t) => {
  refused(t, { 'config.json': configWith('vision_config', 'num_hidden_layers', '1e9') },
    /vision_config\.num_hidden_layers is 1000000000, more than 1024/, 'num_hidden_layers 1e9 (used to hang)');
  refused(t, { 'config.json': configWith('vision_config', 'hidden_size', '65536') },
    /vision_config\.hidden_size is 65536, more than 16384/, 'hidden_size 65536');
  refused(t, { 'config.json': configWith('vision_config', 'image_size', '1e300') },
    /vision_config\.image_size is 1e\+300, more than 8192/, 'image_size 1e300');
  refused(t, { 'config.json': configWith('text_config', 'vocab_size', '9007199254740992') },
    /text_config\.vocab_size is 9007199254740992, more than 2097152/, 'vocab_size 2^53');
  refused(t, { 'config.json': configWith('text_config', 'max_position_embeddings', '4294967296') },
    /max_position_embeddings is 4294967296, more than 65536/, 'max_position_embeddings 2^32');
  t.end();
});

test('hostile model: a config the checkpoint does not back fails on tensor shapes before allocating', (t) => {
  // within every bound, but 4 layers of width 8192 and MLP 32768 are 3.2e9 parameters (13 GB as float32): the
  // first tensor's shape must refuse it, where loadClip used to allocate first
  let cfg = configWith('vision_config', 'hidden_size', '8192');
  cfg = cfg.replace(/"intermediate_size": 256/, '"intermediate_size": 32768');
  refused(t, { 'config.json': cfg },
    /tensor "vision_model\.embeddings\.patch_embedding\.weight" in .* has shape \[128, 3, 8, 8\], but .*config\.json implies \[8192, 3, 8, 8\]/,
    '13 GB config, 1 MB checkpoint');
  t.end();
});

test('hostile model: non-finite values are "not a finite number", not "null"', (t) => {
  refused(t, { 'config.json': configWith('vision_config', 'layer_norm_eps', '1e400') },
    /vision_config\.layer_norm_eps is Infinity: not a finite number/, 'layer_norm_eps 1e400');
  refused(t, { 'config.json': configWith('text_config', 'hidden_size', '-1e400') },
    /text_config\.hidden_size is -Infinity: not a finite number/, 'hidden_size -1e400');
  refused(t, { 'config.json': configText.replace('"logit_scale_init_value": 2.6592', '"logit_scale_init_value": 1e999') },
    /logit_scale_init_value is Infinity .*expected a finite number/, 'logit_scale_init_value 1e999');
  t.end();
});

test('hostile model: malformed files of the folder get clear errors', (t) => {
  refused(t, { 'config.json': '{"vision_config": {' }, /config\.json is not valid JSON/, 'config.json cut short');
  refused(t, { 'config.json': 'DIRECTORY' }, /config\.json is not a regular file/, 'config.json a directory');
  refused(t, { 'config.json': Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, /config\.json is not UTF-8 text/, 'config.json not UTF-8');
  refused(t, { 'vocab.json': '{"a": 0, "b": ' }, /vocab\.json: not a JSON vocabulary/, 'vocab.json cut short');
  refused(t, { 'vocab.json': '{"a": 1e400}' }, /token "a" has id Infinity/, 'vocab id 1e400');
  refused(t, { 'merges.txt': '#version: 0.2\na b c\n' }, /merge 1 is "a b c"; expected two symbols/, 'a merge of three symbols');
  refused(t, { 'model.safetensors': 'DIRECTORY' }, /model\.safetensors: is a directory/, 'model.safetensors a directory');
  try { loadClip('/dev/null'); t.fail('/dev/null: loaded'); } catch (e) {
    t.ok(e instanceof DecomcamError && /neither a folder nor a \.safetensors file/.test(e.message), `/dev/null: ${e.message}`);
  }
  t.end();
});
