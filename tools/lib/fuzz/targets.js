// tools/lib/fuzz/targets.js: the library fuzz targets. Each has prepare() (read the project's own pristine inputs
// once), generate(rng, ctx) → a case { desc, files, params } made only from the rng and those inputs, and
// run(case, dir, ctx) which feeds it to the library and throws on a wrong answer. A case's files are written to
// `dir` only where the library reads files (tokenizer files, model folders).
import { readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync, linkSync, copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseSafetensors, getTensor, decodeImage, ClipTokenizer, loadClip, encodeTexts, encodeImages, zeros,
  parseTorchCheckpoint, unpickle, storageFromPid, readZip, zipEntryBytes,
} from 'decomcam';
import { repoRoot } from '../cli.js';
import { mutateBytes } from './bytes.js';
import { mutatePng } from './png.js';
import { mutateJpeg } from './jpeg.js';
import { mutateSafetensors, splitSafetensors, headerText } from './safetensors.js';

const fixtures = join(repoRoot, 'reference', 'fixtures');
const read = (p) => new Uint8Array(readFileSync(p));
const utf8 = (s) => new TextEncoder().encode(s);

function fixtureFiles(ext) {
  return readdirSync(fixtures).filter((f) => f.endsWith(ext)).sort().map((f) => ({ name: f, bytes: read(join(fixtures, f)) }));
}

function checkImage(img) {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1 ||
    !(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
    throw new Error(`wrong answer: decoded ${img.width}×${img.height} with ${img.data?.length} bytes`);
  }
  return `${img.width}×${img.height}`;
}

// Writes a case's files into dir: bytes, or { link: pristinePath } (a hard link, no copy), { dir: true }, { symlink }.
export function writeCaseFiles(dir, files) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, f] of Object.entries(files)) {
    const p = join(dir, name);
    if (f instanceof Uint8Array || typeof f === 'string') writeFileSync(p, f);
    else if (f.dir) mkdirSync(p);
    else if (f.symlink) symlinkSync(f.symlink, p);
    else if (f.link) { try { linkSync(f.link, p); } catch { copyFileSync(f.link, p); } }
  }
}

const imageTarget = (ext, mutate) => ({
  prepare: () => ({ files: fixtureFiles(ext) }),
  generate(rng, ctx) {
    const src = rng.pick(ctx.files);
    const [bytes, what] = mutate(rng, src.bytes);
    return { desc: `${src.name}: ${what}`, files: { [`case${ext}`]: bytes } };
  },
  run(c) { return checkImage(decodeImage(Object.values(c.files)[0], `image "case${ext}"`)); },
});

// ---------------------------------------------------------------------------------------------------------------
// tokenizer: hostile texts and context lengths over the tiny model's byte-level vocabulary, over an "all letter
// pairs" vocabulary (many merges per long word: the quadratic case), and over mutated vocab.json / merges.txt.
// String.fromCharCode in slices: spreading a million arguments overflows the stack
function fromCodes(n, code) {
  let s = '';
  for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...Array.from({ length: Math.min(8192, n - i) }, code));
  return s;
}

const TEXT_KINDS = {
  letters: (rng, n) => { const a = 'abcdefghijklmnopqrstuvwxyz'.slice(0, rng.range(1, 26)); let s = ''; for (let i = 0; i < n; i++) s += a[rng.int(a.length)]; return s; },
  cjk: (rng, n) => fromCodes(n, () => 0x4e00 + rng.int(0x5200)),
  url: (rng, n) => 'https://example.com/' + 'a/b?c=d&e=%20'.repeat(Math.ceil(n / 13)).slice(0, n),
  base64: (rng, n) => Buffer.from(rng.bytes(Math.ceil(n * 0.75))).toString('base64').slice(0, n),
  codepoints: (rng, n) => { const a = []; for (let i = 0; i < n; i++) { const c = rng.int(0x110000); a.push(c >= 0xd800 && c < 0xe000 ? 'x' : String.fromCodePoint(c)); } return a.join(''); },
  surrogate: (rng, n) => 'a'.repeat(rng.int(n)) + rng.pick(['\ud800', '\udfff', '\ud83d']) + 'b',
  control: (rng, n) => fromCodes(n, () => rng.int(32)),
  html: (rng, n) => rng.pick(['&#x110000;', '&#99999999999999999999;', '&amp;', '&#0;', '&lt;&gt;', '&#xd800;', '&nosuch;', '&amp;amp;']).repeat(Math.max(1, n >> 3)),
  spaces: (rng, n) => rng.pick([' ', '\t', '\n', '\u00a0', '\u3000']).repeat(n),
  words: (rng, n) => Array.from({ length: Math.max(1, n >> 3) }, () => rng.pick(['a', 'photo', 'of', 'the', 'cat', 'ﬁ', 'é', '😀', "'s", '123'])).join(' '),
  emoji: (rng, n) => '😀👍🏽🇫🇷'.repeat(Math.max(1, n >> 3)),
};
const LENGTHS = [0, 1, 5, 76, 77, 78, 300, 5000, 30000, 100000, 1000000];
const CONTEXT = [77, 77, 77, 2, 1, 0, -1, 3, 16, 2 ** 31, 2 ** 53, 1e300, NaN, 1.5, 1e6, Infinity, '77', null];

function pairsVocab(base, letters) {
  const vocab = { ...base.vocab };
  const merges = [...base.merges];
  let next = Math.max(...Object.values(vocab)) + 1;
  for (const a of letters) {
    for (const b of letters) {
      for (const tail of ['', '</w>']) {
        merges.push(`${a} ${b}${tail}`);
        if (vocab[a + b + tail] === undefined) vocab[a + b + tail] = next++;
      }
    }
  }
  return { vocab, merges };
}

const tokenizerTarget = {
  prepare() {
    const dir = join(repoRoot, 'weights', 'tiny-clip');
    const vocabText = readFileSync(join(dir, 'vocab.json'), 'utf8');
    const mergesText = readFileSync(join(dir, 'merges.txt'), 'utf8');
    const merges = mergesText.split('\n').filter((l) => l && !l.startsWith('#version'));
    return { vocabText, mergesText, base: { vocab: JSON.parse(vocabText), merges }, cache: new Map() };
  },
  generate(rng, ctx) {
    const kind = rng.pick(Object.keys(TEXT_KINDS));
    const n = rng.pick(LENGTHS);
    const text = TEXT_KINDS[kind](rng, n);
    const contextLength = rng.pick(CONTEXT);
    const truncate = rng.chance(0.7);
    const vocabKind = rng.pick(['tiny', 'tiny', 'pairs', 'pairs', 'files']);
    const params = { text, contextLength, truncate, vocabKind, letters: 'abcdefghijklmnopqrstuvwxyz'.slice(0, rng.range(2, 26)) };
    const files = {};
    let what = '';
    if (vocabKind === 'files') {
      const [v, wv] = rng.chance(0.5) ? mutateBytes(rng, utf8(ctx.vocabText), 2) : [utf8(ctx.vocabText), 'as is'];
      const [m, wm] = rng.chance(0.7) ? mutateBytes(rng, utf8(ctx.mergesText), 3) : [utf8(ctx.mergesText), 'as is'];
      files['vocab.json'] = v;
      files['merges.txt'] = m;
      what = `, vocab.json ${wv}, merges.txt ${wm}`;
    }
    return { desc: `${kind} text of ${text.length} chars, contextLength ${contextLength}, truncate ${truncate}, ${vocabKind} vocabulary${what}`, files, params };
  },
  run(c, dir, ctx) {
    const p = c.params;
    let tok;
    if (p.vocabKind === 'files') {
      writeCaseFiles(dir, c.files);
      tok = ClipTokenizer.fromFolder(dir);
    } else {
      const key = p.vocabKind === 'tiny' ? 'tiny' : p.letters;
      tok = ctx.cache.get(key);
      if (!tok) {
        const v = p.vocabKind === 'tiny' ? ctx.base : pairsVocab(ctx.base, p.letters);
        tok = ClipTokenizer.fromVocabMerges(v.vocab, v.merges, `${p.vocabKind} vocabulary`);
        if (ctx.cache.size > 64) ctx.cache.clear();
        ctx.cache.set(key, tok);
      }
    }
    const ids = tok.tokenize(p.text, p.contextLength, { truncate: p.truncate });
    if (!(ids instanceof Int32Array) || ids.length !== p.contextLength || ids[0] !== tok.sot) {
      throw new Error(`wrong answer: ${ids?.length} ids for contextLength ${p.contextLength}`);
    }
    return `${ids.length} ids`;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// model-folder: the tiny HF and OpenAI fixture models with one part made hostile: a config.json field set to an
// extreme or the wrong type, the checkpoint's header edited, tensors dropped, the tokenizer files broken, files
// missing or replaced by folders, shards listed wrongly. Unchanged files are hard links to the pristine copy.
const CONFIG_VALUES = ['1e9', '65536', '1e300', '9007199254740992', '1e400', '-1e400', '-1', '0', '"x"', 'null', 'true', '[]', '{}',
  '1.5', '3', '2147483648', '1e-300', '-0', '1e-400', '"32"', '4294967297'];

function configPaths(obj, prefix = []) {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...configPaths(v, [...prefix, k]));
    else out.push([...prefix, k]);
  }
  return out;
}

function setRaw(obj, path, raw) {
  const copy = JSON.parse(JSON.stringify(obj));
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]] = '\u0001FUZZ\u0001';
  return JSON.stringify(copy, null, 1).replace('"\\u0001FUZZ\\u0001"', raw);
}

const modelFolderTarget = {
  prepare() {
    const hfDir = join(fixtures, 'tiny_clip_hf');
    const oaDir = join(fixtures, 'tiny_clip_openai');
    const config = JSON.parse(readFileSync(join(hfDir, 'config.json'), 'utf8'));
    const st = read(join(hfDir, 'model.safetensors'));
    return {
      hfDir, oaDir, config, st, oa: read(join(oaDir, 'tiny_clip.safetensors')),
      names: Object.keys(splitSafetensors(st).header).filter((k) => k !== '__metadata__'),
    };
  },
  generate(rng, ctx) {
    const openai = rng.chance(0.2);
    const dir = openai ? ctx.oaDir : ctx.hfDir;
    const files = Object.fromEntries(readdirSync(dir).sort().map((f) => [f, { link: join(dir, f) }]));
    const weights = openai ? 'tiny_clip.safetensors' : 'model.safetensors';
    const did = [];
    const n = rng.range(1, 2);
    for (let k = 0; k < n; k++) {
      const what = rng.int(openai ? 5 : 9);
      if (what === 0 || what === 1) { // the checkpoint
        const base = files[weights] instanceof Uint8Array ? files[weights] : openai ? ctx.oa : ctx.st;
        const [b, d] = mutateSafetensors(rng, base);
        files[weights] = b;
        did.push(`${weights}: ${d}`);
      } else if (what === 2) {
        const name = rng.pick(['vocab.json', 'merges.txt']);
        // an earlier edit may have deleted the file or made it a folder: mutate an empty one then
        const base = files[name] instanceof Uint8Array ? files[name] : files[name]?.link ? read(files[name].link) : new Uint8Array(0);
        const [b, d] = mutateBytes(rng, base, 3);
        files[name] = b;
        did.push(`${name}: ${d}`);
      } else if (what === 3) {
        const name = rng.pick(Object.keys(files));
        if (rng.chance(0.5)) { delete files[name]; did.push(`no ${name}`); } else { files[name] = { dir: true }; did.push(`${name} is a folder`); }
      } else if (what === 4) {
        files[rng.pick(['extra.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json'])] = rng.pick([utf8('{}'), new Uint8Array(0), rng.bytes(64)]);
        did.push('an extra file');
      } else if (what === 5 || what === 6 || what === 7) { // config.json fields
        const path = rng.pick(configPaths(ctx.config));
        const raw = rng.pick(CONFIG_VALUES);
        files['config.json'] = utf8(setRaw(ctx.config, path, raw));
        did.push(`config ${path.join('.')} = ${raw}`);
      } else { // config.json as a whole, or sharded weights
        const v = rng.int(4);
        if (v === 0) {
          const [b, d] = mutateBytes(rng, utf8(JSON.stringify(ctx.config, null, 1)), 3);
          files['config.json'] = b;
          did.push(`config.json bytes: ${d}`);
        } else if (v === 1) {
          files['config.json'] = utf8(rng.pick(['[]', '1', 'null', '', '{"vision_config":' + '['.repeat(10000) + ']'.repeat(10000) + '}', '{}', '{"vision_config":{},"text_config":{}}']));
          did.push('config.json of the wrong shape');
        } else {
          delete files['model.safetensors'];
          const shard = rng.pick(['model-1.safetensors', '../model.safetensors', '/dev/zero', 'missing.safetensors', '', 'config.json']);
          const map = Object.fromEntries(ctx.names.map((nm) => [nm, rng.chance(0.9) ? shard : 'model-2.safetensors']));
          files['model-1.safetensors'] = { link: join(ctx.hfDir, 'model.safetensors') };
          files['model.safetensors.index.json'] = utf8(JSON.stringify(rng.chance(0.8) ? { weight_map: map } : { weight_map: rng.pick([[], 'x', null, 1]) }));
          did.push(`sharded: weight_map names "${shard}"`);
        }
      }
    }
    return { desc: `${openai ? 'openai' : 'hf'} tiny model: ${did.join('; ')}`, files };
  },
  run(c, dir) {
    writeCaseFiles(dir, c.files);
    const model = loadClip(dir);
    const S = model.config.vision.imageSize;
    if (model.tokenizer) encodeTexts(model, ['a photo of a cat']);
    if (S <= 512) encodeImages(model, zeros([1, 3, S, S]));
    return `loaded (image ${S})`;
  },
};

export const LIBRARY_TARGETS = {
  safetensors: {
    prepare: () => ({ files: ['dtypes.safetensors', 'seeded.safetensors', 'clip_ops_f32.safetensors'].map((f) => ({ name: f, bytes: read(join(fixtures, f)) })) }),
    generate(rng, ctx) {
      const src = rng.pick(ctx.files);
      const [bytes, what] = mutateSafetensors(rng, src.bytes);
      return { desc: `${src.name}: ${what}`, files: { 'case.safetensors': bytes } };
    },
    run(c) {
      const f = parseSafetensors(c.files['case.safetensors'], 'case.safetensors');
      let floats = 0;
      for (const [name, t] of f.tensors) {
        if (t.data instanceof Float32Array || t.data instanceof Float64Array) { getTensor(f, name, 'case.safetensors'); floats++; }
      }
      return `${f.tensors.size} tensors (${floats} float)`;
    },
  },
  png: imageTarget('.png', mutatePng),
  jpeg: imageTarget('.jpg', mutateJpeg),
  tokenizer: tokenizerTarget,
  'model-folder': modelFolderTarget,
  // PyTorch archives (src/io/torch.ts): the data.pkl of each fixture archive mutated and unpickled (storages as
  // torch names them), and whole archives mutated (zip records, pickle and tensor data alike) and read.
  pickle: {
    prepare: () => ({ files: TORCH_FIXTURES.map((f) => { const zip = readZip(read(join(fixtures, f)), f); const pkl = [...zip.entries.keys()].find((k) => k.endsWith('/data.pkl')); return { name: `${f}:${pkl}`, bytes: zipEntryBytes(zip, pkl).slice() }; }) }),
    generate(rng, ctx) {
      const src = rng.pick(ctx.files);
      const [bytes, what] = mutateBytes(rng, src.bytes, 4);
      return { desc: `${src.name}: ${what}`, files: { 'data.pkl': bytes } };
    },
    run(c) {
      const v = unpickle(c.files['data.pkl'], 'data.pkl', { persistentLoad: (pid) => storageFromPid(pid, 'data.pkl') });
      return `unpickled ${v === null ? 'None' : typeof v}`;
    },
  },
  zip: {
    prepare: () => ({ files: TORCH_FIXTURES.map((f) => ({ name: f, bytes: read(join(fixtures, f)) })) }),
    generate(rng, ctx) {
      const src = rng.pick(ctx.files);
      const [bytes, what] = mutateBytes(rng, src.bytes, 3);
      return { desc: `${src.name}: ${what}`, files: { 'case.pt': bytes } };
    },
    run(c) {
      const ck = parseTorchCheckpoint(c.files['case.pt'], 'case.pt');
      return `${ck.tensors.size} tensors (${ck.format})`;
    },
  },
};
const TORCH_FIXTURES = ['torch_tiny/state_dict.pt', 'torch_tiny/ViT-tiny.pt', 'torch_tiny_hf/pytorch_model-00001-of-00002.bin',
  'torch_hostile.pt', 'torch_unknown_class.pt'];

export { headerText };
