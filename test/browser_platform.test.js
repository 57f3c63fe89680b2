// test/browser_platform.test.js: the Node side of the browser work, without a browser — loadClipFromFiles (a model
// from its files' bytes) gives loadClip's model bit for bit and names the file at fault; WasmBackend.ready() starts
// the kernel threads asynchronously (as a browser must) with the same bits; the platform layer reports Node.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecomcamError, PLATFORM, explain, loadClip, loadClipFromFiles, loadImage } from '../dist/index.js';
import { createWasmBackend } from '../dist/kernels/wasm/backend.js';
import { repoRoot } from './helpers/compare.js';

const MODEL = join(repoRoot, 'weights', 'tiny-clip');
const FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
const bytesOf = (names) => Object.fromEntries(names.map((f) => [f, new Uint8Array(readFileSync(join(MODEL, f)))]));

test('platform: Node', (t) => {
  t.equal(PLATFORM, 'node', 'PLATFORM is node outside the browser bundle');
  t.end();
});

test('loadClipFromFiles = loadClip, bit for bit; bad file sets are named', (t) => {
  const be = createWasmBackend({ threads: 1 });
  const a = loadClip(MODEL, { backend: be });
  const b = loadClipFromFiles(new Map(Object.entries(bytesOf(FILES))), { backend: be, label: 'tiny-clip' });
  t.deepEqual(b.config, a.config, 'the same configuration');
  t.equal(Buffer.compare(Buffer.from(a.params.data.buffer, a.params.data.byteOffset, a.params.data.byteLength),
    Buffer.from(b.params.data.buffer, b.params.data.byteOffset, b.params.data.byteLength)), 0, 'the same parameters, bit for bit');
  const image = loadImage(join(MODEL, 'sample.png'));
  const ea = explain(a, image, ['a blue triangle'], { Q: 3 }).results[0];
  const eb = explain(b, image, ['a blue triangle'], { Q: 3 }).results[0];
  t.ok(ea.map.data.every((v, i) => Object.is(v, eb.map.data[i])), 'and the same DecomCAM map (the tokenizer from the bytes too)');
  const refuses = (files, re, what) => t.throws(() => loadClipFromFiles(files, { backend: be, label: 'm' }),
    (e) => e instanceof DecomcamError && re.test(e.message), what);
  refuses(bytesOf(['config.json', 'vocab.json', 'merges.txt']), /m\/config\.json is there but model\.safetensors is not/, 'no weights: says so');
  refuses(bytesOf(['config.json', 'model.safetensors', 'vocab.json']), /merges\.txt is not/, 'half a tokenizer: says which half');
  refuses({}, /hold no CLIP model.*got no files/, 'no files: says what is expected');
  refuses({ 'config.json': new Uint8Array([123]), 'model.safetensors': bytesOf(['model.safetensors'])['model.safetensors'] },
    /m\/config\.json is not valid JSON/, 'a broken config.json is named');
  refuses({ 'model.safetensors': 'not bytes' }, /model\.safetensors is .*expected its bytes/, 'a value that is not bytes');
  be.close();
  t.end();
});

test('WasmBackend.ready(): threads started without blocking give the same bits', async (t) => {
  const one = createWasmBackend({ threads: 1 });
  const two = createWasmBackend({ threads: 2 });
  await two.ready();
  await two.ready(); // twice is fine
  const M = 70, K = 96, N = 130;
  const inp = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.cos(i * 0.11));
  const b = Float32Array.from({ length: N }, (_, i) => i / N);
  const o1 = new Float32Array(M * N), o2 = new Float32Array(M * N);
  one.matmul(o1, inp, w, b, M, K, N);
  two.matmul(o2, inp, w, b, M, K, N);
  t.equal(Buffer.compare(Buffer.from(o1.buffer), Buffer.from(o2.buffer)), 0, 'matmul on 2 threads started by ready() = 1 thread, bit for bit');
  one.close();
  two.close();
  let err = null;
  try { await two.ready(); } catch (e) { err = e; }
  t.ok(err instanceof DecomcamError && /closed/.test(err.message), `ready() after close() rejects: ${err?.message}`);
});
