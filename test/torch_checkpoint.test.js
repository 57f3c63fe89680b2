// test/torch_checkpoint.test.js: PyTorch checkpoints (reference/torch_checkpoint_fixtures.py) read by
// src/io/torch.ts equal the safetensors reference of the same seeded weights bit for bit (float32), or its
// float16 / bfloat16 rounding where the file holds those; hostile pickles are refused by name, and every kind
// of broken archive gets a clear DecomcamError. Archives for the bad cases are built here, byte by byte.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTorchCheckpoint, parseTorchCheckpoint, findTorchWeights } from '../dist/io/torch.js';
import { unpickle, MAX_NESTING } from '../dist/io/pickle.js';
import { readZip, zipEntryBytes } from '../dist/io/zip.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { floatToHalf, halfToFloat, floatToBf16, bf16ToFloat } from '../dist/io/half.js';
import { loadClip } from '../dist/clip/load.js';
import { DecomcamError } from '../dist/errors.js';
import { repoRoot, fixturesDir } from './helpers/compare.js';

const TINY = join(fixturesDir, 'torch_tiny');
const HF = join(fixturesDir, 'torch_tiny_hf');
const info = JSON.parse(readFileSync(join(fixturesDir, 'torch_tiny.json'), 'utf8'));
const ref = readSafetensors(join(TINY, 'reference.safetensors')).tensors;
const tmp = mkdtempSync(join(tmpdir(), 'decomcam-torch-'));

// Bit-level equality of two float arrays (so -0 and NaN payloads count); returns the first index that differs.
function firstDiff(a, b) {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const fa = Float64Array.from(a), fb = Float64Array.from(b);
  const ua = new BigUint64Array(fa.buffer), ub = new BigUint64Array(fb.buffer);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `[${i}] ${fa[i]} vs ${fb[i]}`;
  return null;
}
const roundHalf = (x) => halfToFloat(floatToHalf(x));
const roundBf16 = (x) => bf16ToFloat(floatToBf16(x));

function throwsClear(t, fn, pattern, label) {
  try {
    fn();
    t.fail(`${label}: no error`);
  } catch (e) {
    t.ok(e instanceof DecomcamError && pattern.test(e.message), `${label}: ${e.message.slice(0, 160)}`);
  }
}

// ---- the fixtures --------------------------------------------------------------------------------------

test('torch.save state dict (float32, transposed view, shared storage): every tensor equals the safetensors reference bit for bit', (t) => {
  const ck = readTorchCheckpoint(join(TINY, 'state_dict.pt'));
  t.equal(ck.format, 'torch.save', 'read as a torch.save file (its state dict found under "state_dict")');
  t.deepEqual([...ck.tensors.keys()].sort(), [...ref.keys()].sort(), `the same ${ref.size} names`);
  for (const [name, r] of ref) {
    const g = ck.tensors.get(name);
    const d = firstDiff(g.data, r.data);
    t.ok(g.dtype === 'F32' && JSON.stringify(g.shape) === JSON.stringify(r.shape) && d === null,
      `${name} F32 [${g.shape}] ${d ?? 'identical'}`);
  }
  t.end();
});

test('TorchScript archive (float16, OpenAI module names): the state dict torch.jit.load gives, widened to the fp16-rounded reference', (t) => {
  const ck = readTorchCheckpoint(join(TINY, 'ViT-tiny.pt'));
  t.equal(ck.format, 'torchscript', 'read as a TorchScript archive');
  t.deepEqual([...ck.tensors.keys()].sort(), info.torchscript_state_dict_keys,
    'exactly the names torch.jit.load(...).state_dict() gives (attn_mask attributes left out)');
  for (const [name, r] of ref) {
    const g = ck.tensors.get(name);
    const d = firstDiff(g.data, Array.from(r.data, roundHalf));
    t.ok(g.dtype === 'F16' && g.data instanceof Float32Array && d === null, `${name} F16 -> F32 ${d ?? 'identical to the rounded reference'}`);
  }
  const ints = ['input_resolution', 'context_length', 'vocab_size'].map((k) => ck.tensors.get(k).data[0]);
  t.deepEqual(ints, [BigInt(info.config.vision_config.image_size), 77n, BigInt(info.vocab_size)], 'int64 buffers read as they are');
  t.end();
});

test('loadClip: .pt file, TorchScript file and sharded bfloat16 HF folder fill the same parameters as the safetensors path', (t) => {
  const want = loadClip(join(TINY, 'reference.safetensors')).params.data;
  const pt = loadClip(join(TINY, 'state_dict.pt'));
  t.equal(firstDiff(pt.params.data, want), null, `state_dict.pt: all ${want.length} parameters bit for bit`);
  const jit = loadClip(join(TINY, 'ViT-tiny.pt'));
  t.equal(firstDiff(jit.params.data, want.map(roundHalf)), null, 'ViT-tiny.pt: all parameters equal the fp16-rounded ones');
  t.ok(jit.tokenizer !== null, 'the tokenizer beside the file is picked up');
  const hf = loadClip(HF);
  t.equal(firstDiff(hf.params.data, want.map(roundBf16)), null,
    'torch_tiny_hf/ (2 shards + index + config.json): all parameters equal the bf16-rounded ones');
  const f64 = loadClip(join(TINY, 'ViT-tiny.pt'), { dtype: 'float64' });
  t.equal(firstDiff(f64.params.data, want.map(roundHalf)), null, 'float64 mode: the same values, widened');
  const vocabbed = loadClip(join(TINY, 'state_dict.pt'), { vocab: join(HF, 'vocab.json') });
  t.ok(vocabbed.tokenizer !== null, 'opts.vocab (a file in the tokenizer folder) gives the tokenizer');
  t.end();
});

test('loadClip: a folder holding one PyTorch checkpoint loads it; safetensors win where both are present', (t) => {
  const dir = join(tmp, 'one-pt');
  mkdirSync(dir);
  copyFileSync(join(TINY, 'state_dict.pt'), join(dir, 'open_clip_pytorch_model.bin'));
  const m = loadClip(dir);
  t.ok(m.source.endsWith('open_clip_pytorch_model.bin'), `source ${m.source}`);
  t.equal(findTorchWeights(TINY), null, 'torch_tiny/ (with reference.safetensors) stays on the safetensors path');
  throwsClear(t, () => { copyFileSync(join(TINY, 'ViT-tiny.pt'), join(dir, 'b.pt')); findTorchWeights(dir); },
    /several PyTorch checkpoints.*pass the file itself/, 'two checkpoints in one folder');
  t.end();
});

test('hostile pickles are refused, naming the global, and nothing runs', (t) => {
  throwsClear(t, () => readTorchCheckpoint(join(fixturesDir, 'torch_hostile.pt')), /refusing global os\.system/, 'GLOBAL os system + REDUCE');
  throwsClear(t, () => readTorchCheckpoint(join(fixturesDir, 'torch_unknown_class.pt')), /refusing global mylib\.model\.Thing/,
    'torch.save of an unknown class');
  throwsClear(t, () => loadClip(join(fixturesDir, 'torch_hostile.pt')), /refusing global os\.system/, 'through loadClip too');
  t.end();
});

test('explain.js --model FILE.pt runs on the TorchScript fixture', (t) => {
  const out = join(tmp, 'explain-out');
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'explain.js'), '--model', join(TINY, 'ViT-tiny.pt'),
    '--image', join(repoRoot, 'weights', 'tiny-clip', 'sample.png'), '--text', 'a red circle', '--components', '2',
    '--top-p', '16', '--backend', 'ts', '--out', out], { encoding: 'utf8' });
  t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr.trim().split('\n').pop()})`);
  t.ok(existsSync(join(out, 'result.json')), 'result.json written');
  t.end();
});

test('convert.js: a TorchScript .pt into safetensors folders (HF names F32, OpenAI names F16) that load to the same parameters', (t) => {
  const tool = join(repoRoot, 'tools', 'convert.js');
  const src = join(TINY, 'ViT-tiny.pt');
  const want = loadClip(src).params.data;
  for (const [names, dtype] of [['hf', 'F32'], ['openai', 'F16']]) {
    const out = join(tmp, `converted-${names}`);
    const r = spawnSync(process.execPath, [tool, src, out, '--names', names, '--dtype', dtype], { encoding: 'utf8' });
    t.equal(r.status, 0, `--names ${names} --dtype ${dtype}: exit 0 (${r.stderr.trim().split('\n').pop()})`);
    const m = loadClip(out);
    t.equal(firstDiff(m.params.data, want), null, `--names ${names} --dtype ${dtype}: loadClip(${names === 'hf' ? 'config.json + model.safetensors' : 'ViT-tiny.safetensors'}) gives every parameter bit for bit`);
    t.ok(m.tokenizer !== null, '  and the tokenizer files came along');
  }
  const r = spawnSync(process.execPath, [tool, src, join(tmp, 'converted-hf')], { encoding: 'utf8' });
  t.ok(r.status === 2 && /already exists and is not an empty folder/.test(r.stderr), `an existing folder is refused, exit 2: ${r.stderr.trim()}`);
  const bad = spawnSync(process.execPath, [tool, join(fixturesDir, 'torch_hostile.pt'), join(tmp, 'never')], { encoding: 'utf8' });
  t.ok(bad.status === 1 && /refusing global os\.system/.test(bad.stderr) && !existsSync(join(tmp, 'never')),
    `a hostile file: exit 1, one line, nothing written: ${bad.stderr.trim()}`);
  t.end();
});

// ---- archives built byte by byte ----------------------------------------------------------------------

const enc = new TextEncoder();
const u8 = (...parts) => {
  const arrs = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrs.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrs) { out.set(a, at); at += a.length; }
  return out;
};
const le = (n, bytes) => { const a = new Uint8Array(bytes); let v = BigInt(n); for (let i = 0; i < bytes; i++) { a[i] = Number(v & 0xffn); v >>= 8n; } return a; };

// pickle pieces
const P = {
  proto: u8([0x80, 2]),
  global: (m, n) => u8('c', m, '\n', n, '\n'),
  str: (s) => { const b = enc.encode(s); return u8('X', le(b.length, 4), b); },
  int: (n) => u8('J', le(n, 4)),
  tuple: (...xs) => u8('(', ...xs, 't'),
  tensor: ({ storage = 'FloatStorage', key = '0', numel = 4, offset = 0, shape = [2, 2], stride = [2, 1] }) => u8(
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.tuple(
      u8(P.tuple(P.str('storage'), P.global('torch', storage), P.str(key), P.str('cpu'), P.int(numel)), 'Q'),
      P.int(offset), P.tuple(...shape.map(P.int)), P.tuple(...stride.map(P.int)), u8([0x89]),
      u8(P.global('collections', 'OrderedDict'), ')R')),
    'R'),
  dict: (entries) => u8('}(', ...entries.flatMap(([k, v]) => [P.str(k), v]), 'u'),
};
const pickle = (...body) => u8(P.proto, ...body, '.');

// A zip as torch writes one: stored entries; with zip64, the end records and every size/offset in zip64 form.
function makeZip(files, { zip64 = false } = {}) {
  const locals = [], centrals = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = enc.encode(name);
    const local = u8(le(0x04034b50, 4), le(20, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4),
      le(data.length, 4), le(data.length, 4), le(n.length, 2), le(0, 2), n, data);
    const extra = zip64 ? u8(le(1, 2), le(24, 2), le(data.length, 8), le(data.length, 8), le(offset, 8)) : new Uint8Array(0);
    const big = (v) => le(zip64 ? 0xffffffff : v, 4);
    centrals.push(u8(le(0x02014b50, 4), le(45, 2), le(45, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4),
      big(data.length), big(data.length), le(n.length, 2), le(extra.length, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4),
      big(offset), n, extra));
    locals.push(local);
    offset += local.length;
  }
  const cd = u8(...centrals);
  const count = Object.keys(files).length;
  const tail = zip64
    ? u8(le(0x06064b50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4), le(count, 8), le(count, 8),
      le(cd.length, 8), le(offset, 8),
      le(0x07064b50, 4), le(0, 4), le(offset + cd.length, 8), le(1, 4),
      le(0x06054b50, 4), le(0, 2), le(0, 2), le(0xffff, 2), le(0xffff, 2), le(0xffffffff, 4), le(0xffffffff, 4), le(0, 2))
    : u8(le(0x06054b50, 4), le(0, 2), le(0, 2), le(count, 2), le(count, 2), le(cd.length, 4), le(offset, 4), le(0, 2));
  return u8(...locals, cd, tail);
}
const f32bytes = (...xs) => new Uint8Array(Float32Array.from(xs).buffer);
const archive = (pkl, storages = { 0: f32bytes(1, 2, 3, 4) }, opts) => makeZip({
  'archive/data.pkl': pkl, ...Object.fromEntries(Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, v])),
  'archive/version': enc.encode('3\n'),
}, opts);

test('hand-built archives: zip64 records, strided views, offsets', (t) => {
  const pkl = pickle(P.dict([['w', P.tensor({ numel: 6, offset: 1, shape: [2, 2], stride: [1, 2] })]]));
  const bytes = archive(pkl, { 0: f32bytes(0, 1, 2, 3, 4, 5) });
  const plain = parseTorchCheckpoint(bytes, 'built.pt').tensors.get('w');
  const z64 = parseTorchCheckpoint(archive(pkl, { 0: f32bytes(0, 1, 2, 3, 4, 5) }, { zip64: true }), 'built64.pt').tensors.get('w');
  // offset 1, element [i][j] at 1 + i + 2j: [[1, 3], [2, 4]]
  t.deepEqual(Array.from(plain.data), [1, 3, 2, 4], 'a transposed view at an offset is materialised in row-major order');
  t.deepEqual(Array.from(z64.data), [1, 3, 2, 4], 'the same through zip64 end records and zip64 entry fields');
  const zip = readZip(readFileSync(join(TINY, 'ViT-tiny.pt')), 'ViT-tiny.pt');
  const code = [...zip.entries.values()].find((e) => e.method === 8);
  t.ok(code && zipEntryBytes(zip, code.name).length === code.size, `a deflated entry (${code.name}) inflates to its size`);
  t.end();
});

test('bad archives: each a clear DecomcamError', (t) => {
  const good = readFileSync(join(TINY, 'state_dict.pt'));
  for (const cut of [10, 100, good.length >> 1, good.length - 30, good.length - 1]) {
    throwsClear(t, () => parseTorchCheckpoint(good.subarray(0, cut), 'cut.pt'), /truncated|not a zip|end-of-central/, `truncated to ${cut} bytes`);
  }
  throwsClear(t, () => parseTorchCheckpoint(makeZip({ 'archive/version': enc.encode('3\n') }), 'x.pt'), /no <name>\/data\.pkl/, 'a zip with no data.pkl');
  throwsClear(t, () => parseTorchCheckpoint(u8([0x80, 2, 0x8a, 10]), 'old.pt'), /legacy torch\.save format/, 'a pre-1.6 torch.save file');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ key: '7' })]]))), 'x.pt'),
    /storage "7" is named in data\.pkl but archive\/data\/7 is not in the archive/, 'a storage key that is missing');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ numel: 8 })]]))), 'x.pt'),
    /holds 16 bytes, but 8 × F32 needs 32/, 'a storage shorter than its element count');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ storage: 'ComplexFloatStorage' })]]))), 'x.pt'),
    /refusing global torch\.ComplexFloatStorage/, 'a dtype torch does not define (or we do not read)');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ shape: [3, 2] })]]))), 'x.pt'),
    /reach element 5, past its storage/, 'a shape past the storage');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ stride: [4, 1] })]]))), 'x.pt'),
    /reach element 5, past its storage/, 'strides past the storage');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ offset: 3, shape: [2] , stride: [1] })]]))), 'x.pt'),
    /past its storage/, 'an offset past the storage');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['w', P.tensor({ shape: [2, 2], stride: [1] })]]))), 'x.pt'),
    /strides .* do not match shape/, 'strides of the wrong rank');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.dict([['n', P.int(3)]]))), 'x.pt'), /holds no tensors/, 'a dict without tensors');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.global('builtins', 'eval'), P.tuple(P.str('1')), 'R')), 'x.pt'),
    /refusing global builtins\.eval/, 'builtins.eval');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.global('subprocess', 'Popen'))), 'x.pt'), /refusing global subprocess\.Popen/, 'subprocess.Popen');
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(P.str('os'), P.str('system'), u8([0x93]))), 'x.pt'),
    /refusing global os\.system/, 'STACK_GLOBAL os system');
  t.end();
});

test('bad pickles: unbalanced stacks, deep nesting, truncation, unknown opcodes', (t) => {
  const up = (b) => () => unpickle(b, 't.pkl');
  throwsClear(t, up(pickle('(', P.int(1))), /STOP with 1 MARK\(s\) still open/, 'a MARK never closed');
  throwsClear(t, up(pickle(P.int(1), P.int(2))), /STOP with 2 values on the stack/, 'two values at STOP');
  throwsClear(t, up(pickle('a')), /stack is empty/, 'APPEND on an empty stack');
  throwsClear(t, up(pickle('t')), /no MARK to pop to/, 'TUPLE without MARK');
  throwsClear(t, up(pickle(P.int(1), P.int(2), 'a')), /APPEND\(S\) on 1, not a list/, 'APPEND to a number');
  throwsClear(t, up(pickle('h', u8([5]))), /memo entry 5 was never stored/, 'BINGET of nothing');
  throwsClear(t, up(u8(P.proto, P.int(1))), /truncated/, 'no STOP');
  throwsClear(t, up(u8(P.proto, 'X', le(1e9, 4), 'ab')), /longer than the pickle/, 'a string length past the end');
  throwsClear(t, up(pickle('i')), /opcode INST is not supported/, 'protocol-0 INST');
  throwsClear(t, up(pickle(u8([0xff]))), /opcode 0xff is not supported/, 'an unknown byte');
  throwsClear(t, up(pickle('('.repeat(10000), ')', 't'.repeat(10000))), new RegExp(`nested deeper than ${MAX_NESTING}`), '10,000 nested MARKs');
  // 10,000 nested lists without MARK: legal for the unpickler, refused as a checkpoint without recursing
  throwsClear(t, () => parseTorchCheckpoint(archive(pickle(']'.repeat(10000), 'a'.repeat(9999))), 'deep.pt'),
    /not a state dict/, '10,000 nested lists');
  // 10,000 nested TorchScript module shells: the walk stops at its depth limit
  const shell = u8(P.global('__torch__', 'M'), ')', u8([0x81]));
  const deep = pickle(...Array(9999).fill(u8(shell, '}', P.str('m'))), shell, '}b', ...Array(9999).fill('sb'));
  throwsClear(t, () => parseTorchCheckpoint(archive(deep), 'deepjit.pt'), /module tree nested more than 64 levels deep/, '10,000 nested modules');
  t.end();
});

test('teardown', (t) => { writeFileSync(join(tmp, 'done'), ''); t.end(); });
