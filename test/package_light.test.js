// test/package_light.test.js: the package a CPU user installs (issue 14, point 10). 1. package.json: gpu.js is
// an optional peer dependency (and a devDependency, so these tests run it), never a dependency; the held-out
// scenes stay out of the tarball, which is at most 10 MB (`npm pack --dry-run`). 2. Without gpu.js: a copy of
// dist/ whose node_modules lacks it loads, `auto` skips gpu saying why, asking for `gpu` is an error that says
// how to install it, and the tiny model explains on the default backend.
import test from 'tape';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from './helpers/compare.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

test('package: gpu.js is an optional peer, the held-out scenes are not packed, the tarball ≤ 10 MB', (t) => {
  t.notOk(pkg.dependencies?.['gpu.js'], 'gpu.js is not a dependency');
  t.equal(pkg.peerDependencies?.['gpu.js'], pkg.devDependencies?.['gpu.js'], `gpu.js ${pkg.peerDependencies?.['gpu.js']}: a peer dependency and a devDependency, same version`);
  t.equal(pkg.peerDependenciesMeta?.['gpu.js']?.optional, true, 'the peer dependency is optional');
  const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path);
  t.notOk(files.some((f) => f.startsWith('weights/scenes-heldout/')), 'no weights/scenes-heldout file in the tarball');
  t.ok(files.includes('weights/tiny-clip/model.safetensors') && files.includes('dist/index.js'), 'the tiny model and dist/ are in it');
  t.ok(info.size <= 10e6, `tarball ${(info.size / 1e6).toFixed(1)} MB (≤ 10 MB), ${files.length} files`);
  t.end();
});

test('package: without gpu.js, auto skips gpu and asking for it says how to install it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-nogpu-'));
  try {
    cpSync(join(repoRoot, 'dist'), join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'decomcam', type: 'module', exports: { '.': './dist/index.js' } }));
    mkdirSync(join(dir, 'node_modules'));
    for (const dep of ['entities', 'jpeg-js', 'ndarray', 'iota-array', 'is-buffer', 'pngjs']) {
      symlinkSync(join(repoRoot, 'node_modules', dep), join(dir, 'node_modules', dep));
    }
    const script = `
      import { chooseBackend, defaultBackend, explain, loadClip, loadImage } from ${JSON.stringify(join(dir, 'dist', 'index.js'))};
      const out = { note: defaultBackend().note };
      try { chooseBackend('gpu'); out.gpu = 'no error'; } catch (e) { out.gpu = e.name + ': ' + e.message; }
      const model = loadClip(${JSON.stringify(join(repoRoot, 'weights', 'tiny-clip'))});
      out.backend = model.backend.name;
      out.score = explain(model, loadImage(${JSON.stringify(join(repoRoot, 'weights', 'tiny-clip', 'sample.png'))}), ['a red square'], { method: 'gradcam' }).results[0].score;
      console.log(JSON.stringify(out));`;
    const res = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' }));
    t.ok(/not used: .*gpu: the gpu backend needs the package gpu\.js, which is not installed/.test(res.note), `auto skips gpu, saying why: ${res.note}`);
    t.ok(/^DecomcamError: backend "gpu" is not available here: .*npm install gpu\.js@/.test(res.gpu), `asking for gpu: ${res.gpu}`);
    t.ok(res.backend !== 'gpu' && Number.isFinite(res.score), `the tiny model explains on ${res.backend} (score ${res.score})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.end();
});
