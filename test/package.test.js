// test/package.test.js: decomcam as a user gets it. `npm pack`s this checkout (dist/ as built), installs the
// tarball into an empty project OFFLINE (npm ci --offline from the local npm cache, with a lockfile made from
// this repo's own lock; if the cache lacks a package, the tarball is unpacked and this repo's node_modules
// deps are symlinked in, and the test says so), then runs the README's library example verbatim as a JS
// consumer and as a strict TypeScript consumer (tsc --strict, no skipLibCheck, this repo's typescript).
// Skips, saying why, where npm or tar is missing.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers/compare.js';

const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
const run = (cmd, args, cwd) => spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
const tail = (r) => `${r.error ? r.error.message : ''}${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-6).join('\n');

// tape's t.equal returns nothing, so: assert exit 0 and say whether it was.
function ok(t, r, msg) {
  t.equal(r.status, 0, msg);
  return r.status === 0;
}

// The README's library example: the first ```js block under "## The library", exactly as written.
function readmeExample() {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The library'));
  const m = section.match(/```js\n([\s\S]*?)```/);
  if (!m) throw new Error('README.md: no ```js block under "## The library"');
  return m[1];
}

// What both consumers print after the example: the first result's map and weights, in full.
const REPORT = '\nconsole.log(JSON.stringify({ map: ex.results[0].map.shape, weights: Array.from(ex.results[0].weights?.data ?? []), '
  + 'sum: Array.from(ex.results[0].map.data).reduce((a, b) => a + b, 0) }));\n';

// A lockfile for { decomcam: file:<tarball> } whose other entries are this repo's non-dev ones (resolved URL +
// integrity), so `npm ci --offline` takes every package from the cache and asks no registry.
function writeConsumerProject(dir, tarball) {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages = {
    '': { name: 'consumer', dependencies: { decomcam: `file:${tarball}` } },
    'node_modules/decomcam': { version: pkg.version, resolved: `file:${tarball}`, integrity, dependencies: pkg.dependencies },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || path.startsWith('node_modules/decomcam')) continue;
    const { devOptional, ...rest } = entry; // eslint-disable-line no-unused-vars
    packages[path] = rest;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module',
    dependencies: { decomcam: `file:${tarball}` } }, null, 1));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 1));
  return Object.keys(pkg.dependencies);
}

// The fallback: the tarball unpacked as node_modules/decomcam, each dependency a symlink into this repo's.
function symlinkInstall(t, dir, tarball, deps) {
  const target = join(dir, 'node_modules', 'decomcam');
  mkdirSync(target, { recursive: true });
  const r = run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  if (r.status !== 0) return `tar failed: ${tail(r)}`;
  for (const d of deps) {
    const from = join(repoRoot, 'node_modules', d);
    if (!existsSync(from)) return `dependency ${d} is not in this repo's node_modules`;
    mkdirSync(join(dir, 'node_modules', d, '..'), { recursive: true });
    symlinkSync(from, join(dir, 'node_modules', d), 'dir');
  }
  t.comment(`installed by unpacking the tarball and symlinking this repo's node_modules for ${deps.join(', ')}`);
  return null;
}

test('package: npm pack, offline install, the README example from JS and strict TypeScript', (t) => {
  if (run('npm', ['--version']).status !== 0) { t.skip('skipped: npm is not on PATH'); t.end(); return; }
  if (!existsSync(join(repoRoot, 'dist', 'index.d.ts'))) { t.fail('dist/ is not built: run npm run build first'); t.end(); return; }
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-consumer-'));
  try {
    // 1. pack (scripts off: dist/ is already built, and `prepare` would rebuild it)
    let r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot);
    if (!ok(t, r, `npm pack --ignore-scripts${r.status ? ` (${tail(r)})` : ''}`)) return;
    const info = JSON.parse(r.stdout)[0];
    const tarball = join(dir, info.filename);
    t.comment(`tarball ${info.filename}: ${(info.size / 1e6).toFixed(1)} MB packed, ${(info.unpackedSize / 1e6).toFixed(1)} MB unpacked, ${info.entryCount} files`);
    const files = new Set(info.files.map((f) => f.path));
    t.ok(['dist/index.js', 'dist/index.d.ts', 'weights/tiny-clip/model.safetensors', 'weights/tiny-clip/sample.png']
      .every((f) => files.has(f)), 'the tarball holds dist/ and the shipped model with its sample scene');

    // 2. install offline, or symlink where the cache cannot serve it
    const project = join(dir, 'project');
    mkdirSync(project);
    const deps = writeConsumerProject(project, tarball);
    r = run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
    if (r.status === 0) {
      t.pass('npm ci --offline installed the tarball and its dependencies from the local npm cache');
    } else {
      t.comment(`npm ci --offline could not install (${tail(r).split('\n')[0]})`);
      rmSync(join(project, 'node_modules'), { recursive: true, force: true });
      const why = symlinkInstall(t, project, tarball, deps);
      if (why) { t.skip(`skipped: neither an offline install nor the symlink fallback worked: ${why}`); return; }
    }

    // 3. the README example, verbatim, from JS
    const example = readmeExample();
    t.ok(/from 'decomcam'/.test(example), 'the README example imports from the package entry');
    writeFileSync(join(project, 'readme.mjs'), example + REPORT);
    r = run(process.execPath, ['readme.mjs'], project);
    if (!ok(t, r, `JS consumer runs${r.status ? ` (${tail(r)})` : ''}`)) return;
    const js = JSON.parse(r.stdout.trim().split('\n').pop());

    // 4. the same from strict TypeScript, no skipLibCheck, only the tarball's own types (no @types/* present)
    writeFileSync(join(project, 'readme.ts'), example + REPORT);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: {
      strict: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', outDir: 'out',
    }, files: ['readme.ts'] }));
    r = run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project);
    if (!ok(t, r, `tsc --strict without skipLibCheck compiles the example${r.status ? ` (${tail(r)})` : ''}`)) return;
    r = run(process.execPath, [join('out', 'readme.js')], project);
    if (!ok(t, r, `TS consumer runs${r.status ? ` (${tail(r)})` : ''}`)) return;
    const ts = JSON.parse(r.stdout.trim().split('\n').pop());

    // 5. both give the checkout's own answer: the installed package is this library, not a broken copy
    t.deepEqual(ts, js, 'JS and TS consumers print the same map and weights');
    const self = join(dir, 'self');
    mkdirSync(join(self, 'node_modules'), { recursive: true });
    symlinkSync(repoRoot, join(self, 'node_modules', 'decomcam'), 'dir');
    writeFileSync(join(self, 'readme.mjs'), example + REPORT);
    r = run(process.execPath, ['readme.mjs'], self);
    if (!ok(t, r, `the example against this checkout runs${r.status ? ` (${tail(r)})` : ''}`)) return;
    t.deepEqual(js, JSON.parse(r.stdout.trim().split('\n').pop()), 'the installed package gives this checkout\'s map and weights, bit for bit');
    const S = JSON.parse(readFileSync(join(repoRoot, 'weights', 'tiny-clip', 'config.json'), 'utf8')).vision_config.image_size;
    t.deepEqual(js.map, [S, S], `map (${S}, ${S}), the model's input size`);
    t.ok(js.weights.length > 0 && js.weights.every(Number.isFinite) && Number.isFinite(js.sum) && js.sum > 0,
      `${js.weights.length} finite OSSM weights, map sum ${js.sum.toFixed(3)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    t.end();
  }
});
