// test/cli_hostile.test.js: explain.js against the hostile and careless inputs of issue 13 — an earlier output
// given back as the input, special files, absurd σ, --out that cannot be a folder, broken model folders,
// option values that are options. Each is one line naming what the user gave, exit 2 (usage) or 1 (runtime),
// no stack trace, nothing overwritten and nothing half-written.
import test from 'tape';
import { spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, writeFilesAtomic } from '../dist/index.js';
import { repoRoot, fixturesDir } from './helpers/compare.js';

const tool = join(repoRoot, 'tools', 'explain.js');
const model = join(fixturesDir, 'tiny_clip_hf');
const dir = mkdtempSync(join(tmpdir(), 'decomcam-hostile-'));
const image = join(dir, 'in.png');
writeFileSync(image, encodePng(new Uint8Array(40 * 32 * 3).map((_, i) => (i * 7) % 256), 32, 40));

function run(args, cwd = dir) {
  // a time limit, so that a regression to "hangs" fails here instead of stalling the suite
  const r = spawnSync(process.execPath, [tool, '--model', model, '--backend', 'ts', ...args], { cwd, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, out: r.stdout, err: r.stderr, last: r.stderr.trim().split('\n').pop() ?? '' };
}

// one line, our words, the given exit status
function refused(t, r, code, re, what) {
  t.ok(r.code === code && re.test(r.last) && !/\n\s+at /.test(r.err), `${what}: exit ${r.code} "${r.last}"`);
}

test('cli hostile: an earlier output given back as --image is refused, not overwritten (defect 1)', (t) => {
  const out = join(dir, 'OUT');
  const first = run(['--image', image, '--text', 'a text', '--out', out, '--components', '2']);
  t.equal(first.code, 0, `first run writes ${out}`);
  const input = join(out, '0-a-text', 'overlay.png');
  const before = readFileSync(input);
  // the reproduction, relative paths as a user types them
  const again = run(['--image', 'OUT/0-a-text/overlay.png', '--text', 'a text', '--out', 'OUT', '--components', '2']);
  refused(t, again, 2, /--out OUT would overwrite the input OUT\/0-a-text\/overlay\.png/, 'the same folder');
  t.ok(readFileSync(input).equals(before), 'the input image is unchanged');
  // the same folder reached another way: through a symbolic link and a "./x/.." detour
  execFileSync('ln', ['-s', out, join(dir, 'link')]);
  const viaLink = run(['--image', input, '--text', 'a text', '--out', `${dir}/link/../OUT`, '--components', '2']);
  refused(t, viaLink, 2, /would overwrite the input/, 'a detour path');
  const viaSymlink = run(['--image', join(dir, 'link', '0-a-text', 'overlay.png'), '--text', 'a text', '--out', out, '--components', '2']);
  refused(t, viaSymlink, 2, /would overwrite the input/, 'the input named through a symbolic link');
  t.ok(readFileSync(input).equals(before), 'still unchanged');
  // a model file is an input too: a checkpoint named like an output
  const m2 = join(dir, 'm2');
  cpSync(model, m2, { recursive: true });
  writeFileSync(join(m2, 'result.json'), '{}');
  const onModel = run(['--image', image, '--text', 'x', '--out', m2]);
  t.equal(onModel.code, 0, 'writing beside the model files is allowed when no name collides');
  t.ok(readFileSync(join(m2, 'config.json'), 'utf8').includes('vision_config'), 'config.json untouched');
  t.end();
});

test('cli hostile: σ bounds and special files (defect 6)', (t) => {
  const out = join(dir, 'never6');
  refused(t, run(['--image', image, '--text', 'x', '--sigma', '1e6', '--out', out]), 2, /--sigma must be at most 1000, got 1000000/, '--sigma 1e6');
  refused(t, run(['--image', image, '--text', 'x', '--sigma', '1e9', '--out', out]), 2, /--sigma must be at most 1000/, '--sigma 1e9');
  refused(t, run(['--image', image, '--text', 'x', '--sigma', '1e400', '--out', out]), 2, /--sigma needs a number, got "1e400"/, '--sigma 1e400');
  refused(t, run(['--image', '/dev/zero', '--text', 'x', '--out', out]), 2, /--image \/dev\/zero is a device, not a file/, '--image /dev/zero');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  refused(t, run(['--image', fifo, '--text', 'x', '--out', out]), 2, /is a FIFO \(named pipe\), not a file/, '--image FIFO');
  // a folder is a set of images now (issue 19); one that holds none is refused
  const noImages = join(dir, 'no-images');
  mkdirSync(noImages);
  writeFileSync(join(noImages, 'notes.txt'), 'not an image');
  refused(t, run(['--image', noImages, '--text', 'x', '--out', out]), 2, /--image .*no-images is a folder that holds no JPEG or PNG files/, '--image a folder without images');
  const devModel = join(dir, 'devmodel');
  cpSync(model, devModel, { recursive: true });
  execFileSync('ln', ['-sf', '/dev/zero', join(devModel, 'model.safetensors')]);
  refused(t, run(['--model', devModel, '--image', image, '--text', 'x', '--out', out]), 2, /model\.safetensors is a device, not a file/, 'a model file that is /dev/zero');
  t.notOk(existsSync(out), 'nothing was written');
  t.end();
});

test('cli hostile: --out that cannot be written, broken model folders (defect 7)', (t) => {
  const file = join(dir, 'existing.txt');
  writeFileSync(file, 'keep me\n');
  refused(t, run(['--image', image, '--text', 'x', '--out', file]), 2, /--out .*existing\.txt is an existing file, not a folder/, '--out an existing file');
  t.equal(readFileSync(file, 'utf8'), 'keep me\n', 'the file is unchanged');
  // a place no one may write: /sys refuses even root; for others a folder without write permission
  let ro = '/sys/decomcam-hostile-out';
  if (process.getuid?.() !== 0) {
    mkdirSync(join(dir, 'ro'));
    execFileSync('chmod', ['555', join(dir, 'ro')]);
    ro = join(dir, 'ro', 'out');
  }
  const r = run(['--image', image, '--text', 'x', '--out', ro, '--components', '2']);
  refused(t, r, 1, new RegExp(`cannot write --out ${ro}: (permission denied|operation not permitted)`), '--out under a read-only folder');
  t.notOk(/\.partial-/.test(r.err), 'the message does not name the internal staging folder');
  refused(t, run(['--model', '/dev/null', '--image', image, '--text', 'x']), 2, /--model \/dev\/null is a device, not a model folder/, '--model /dev/null');
  const bad = join(dir, 'badsample');
  cpSync(model, bad, { recursive: true });
  writeFileSync(join(bad, 'sample.json'), '{"image": "in.png", "text": ');
  refused(t, run(['--model', bad, '--out', join(dir, 'never7')]), 2, /badsample\/sample\.json is not valid JSON .*: fix it, or give --image and --text/, 'sample.json not JSON');
  t.notOk(readdirSync(dir).some((f) => f.includes('.partial-')), 'no staging folder left behind');
  t.end();
});

test('cli hostile: --out \'\' and an option where a value belongs (defect 10)', (t) => {
  const before = readdirSync(dir).sort();
  refused(t, run(['--image', image, '--text', 'x', '--out', '']), 2, /option --out is empty/, "--out ''");
  t.deepEqual(readdirSync(dir).sort(), before, 'nothing was written into the current folder');
  refused(t, run(['--image', image, '--text', '--json', '--out', join(dir, 'never10')]), 2, /option --text needs a value, got the option --json \(if that is the value, write --text=--json\)/, '--text --json');
  t.end();
});

test('cli hostile: the one staged writer names what the caller gave, never its staging path', (t) => {
  const out = join(dir, 'atomic');
  writeFilesAtomic(out, { 'a/b.txt': 'b', 'c.txt': 'c' });
  t.deepEqual([readFileSync(join(out, 'a', 'b.txt'), 'utf8'), readFileSync(join(out, 'c.txt'), 'utf8')], ['b', 'c'], 'files written');
  t.throws(() => writeFilesAtomic(join(dir, 'existing.txt'), { 'x': 'y' }, '--out existing.txt'),
    /^DecomcamError: cannot write --out existing\.txt: it is an existing file, not a folder$/, 'an existing file as the folder');
  t.throws(() => writeFilesAtomic('/sys/decomcam-atomic', { 'x': 'y' }, '--out /sys/decomcam-atomic'),
    /cannot write --out \/sys\/decomcam-atomic: (operation not permitted|permission denied|a folder on that path)/, 'an unwritable place');
  t.notOk(readdirSync(dir).some((f) => f.includes('.partial-')), 'no staging folder left behind');
  t.end();
});
