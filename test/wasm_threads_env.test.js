// test/wasm_threads_env.test.js: DECOMCAM_THREADS sets the wasm backend's default thread count (a job runner's
// share of the cores, e.g. one thread per shard process), an explicit `threads` option wins over it, and a value
// that is not a whole number ≥ 1 is refused by name. Each case runs in a child process with its own environment.
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
