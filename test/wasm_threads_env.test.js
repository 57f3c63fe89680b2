// test/wasm_threads_env.test.js: the wasm backend's threads and the process around them. DECOMCAM_THREADS sets
// the default thread count (a job runner's share of the cores, e.g. one thread per shard process), an explicit
// `threads` option wins over it, and a value that is not a whole number ≥ 1 is refused by name; and a process
// started with V8 options (`node --max-old-space-size=… --wasm-tiering-budget=…`, which a worker's execArgv
// refuses) still starts its kernel threads and gets the same bits, and its Explainer's worker thread. Each case
// runs in a child process.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './helpers/compare.js';

const script = `
import { createWasmBackend } from './dist/kernels/wasm/backend.js';
try {
  const be = createWasmBackend(process.argv[1] ? { threads: Number(process.argv[1]) } : {});
  console.log(JSON.stringify({ threads: be.threads }));
} catch (e) { console.log(JSON.stringify({ error: e.message, name: e.name })); }`;

function run(env, threadsOption = '') {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, threadsOption], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, DECOMCAM_THREADS: env },
  });
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('DECOMCAM_THREADS: the default thread count of the wasm backend', (t) => {
  t.deepEqual(run('1'), { threads: 1 }, 'DECOMCAM_THREADS=1: one thread');
  t.deepEqual(run('3'), { threads: 3 }, 'DECOMCAM_THREADS=3: three threads (not capped at the cores)');
  t.deepEqual(run('1', '2'), { threads: 2 }, 'an explicit threads option wins over DECOMCAM_THREADS');
  t.ok(run('').threads >= 1, 'empty: the default, min(2, cores)');
  for (const bad of ['0', 'x', '1.5', '-2']) {
    const r = run(bad);
    t.ok(r.name === 'DecomcamError' && /DECOMCAM_THREADS is ".*", expected a whole number ≥ 1/.test(r.error),
      `DECOMCAM_THREADS=${bad}: refused by name (${r.error})`);
  }
  t.end();
});

const matmulScript = `
import { createWasmBackend } from './dist/kernels/wasm/backend.js';
import { createHash } from 'node:crypto';
const be = createWasmBackend({ threads: 2 });
const M = 256, K = 512, N = 384;
const x = be.alloc(M * K), w = be.alloc(N * K), out = be.alloc(M * N);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i); for (let i = 0; i < w.length; i++) w[i] = Math.cos(i) / 16;
be.matmul(out, x, w, null, M, K, N);
console.log(JSON.stringify({ threads: be.threads, why: be.unavailable(),
  hash: createHash('sha256').update(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)).digest('hex') }));
process.exit(0);`;

test('V8 options on the command line: the kernel threads still start (same bits)', (t) => {
  const go = (flags) => {
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', matmulScript], { cwd: repoRoot, encoding: 'utf8' });
    return { out: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()) : null, err: r.stderr };
  };
  const plain = go([]);
  const flagged = go(['--max-old-space-size=3000', '--wasm-tiering-budget=100000']);
  t.ok(plain.out && plain.out.why === null, `without flags: the wasm backend runs (${plain.err.trim().split('\n').pop() ?? ''})`);
  t.ok(flagged.out && flagged.out.why === null && flagged.out.threads === 2,
    `with --max-old-space-size and --wasm-tiering-budget: 2 threads run (${flagged.err.trim().split('\n').pop() ?? ''})`);
  t.equal(flagged.out && flagged.out.hash, plain.out && plain.out.hash, 'a 256×512×384 matmul split over the threads: the same bits');
  t.end();
});

const explainerScript = `
import { createExplainer, loadImage } from './dist/index.js';
const ex = await createExplainer('weights/tiny-clip', { backend: 'wasm' });
const r = await ex.explain(loadImage('weights/tiny-clip/sample.png'), ['a red circle'], { Q: 2 });
await ex.close();
console.log(JSON.stringify({ score: r.results[0].score }));
process.exit(0);`;

test('V8 options on the command line: the Explainer\'s worker thread starts too', (t) => {
  const r = spawnSync(process.execPath, ['--max-old-space-size=3000', '--input-type=module', '-e', explainerScript],
    { cwd: repoRoot, encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  t.ok(r.status === 0 && Number.isFinite(JSON.parse(line || '{}').score),
    `createExplainer under --max-old-space-size explains (exit ${r.status}; ${line || r.stderr.trim().split('\n').slice(-2).join(' ')})`);
  t.end();
});
