// test/browser_inflate.test.js: the browser bundle's node:zlib (platform/shims/zlib.ts over platform/inflate.ts)
// against Node's zlib, so that a page decodes a PNG to the same pixels as Node: every PNG among the fixtures and
// the shipped weights (their IDAT streams whole, cut short with Z_SYNC_FLUSH, and bounded by maxOutputLength as
// image/png.ts calls it), deflate streams of every level and strategy in the zlib, raw and gzip wrappers, and
// damaged streams (both refuse them). Also the bundle's other stand-ins: pngjs (stored blocks) and node:path.
import test from 'tape';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import * as shim from '../dist/platform/shims/zlib.js';
import { PNG } from '../dist/platform/shims/pngjs.js';
import * as path from '../dist/platform/shims/path.js';
import { decodeImage } from '../dist/image/decode.js';
import { fixturesDir, repoRoot } from './helpers/compare.js';

const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

// The concatenated IDAT data of a PNG file.
function idatOf(bytes) {
  const parts = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + at).getUint32(0);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === 'IDAT') parts.push(bytes.subarray(at + 8, at + 8 + n));
    at += 12 + n;
  }
  return Buffer.concat(parts);
}

// Node's answer and ours: the same bytes, or both an error (of the same kind where Node's has a code we mimic).
function same(t, what, nodeCall, shimCall) {
  let want, got, wantErr = null, gotErr = null;
  try { want = nodeCall(); } catch (e) { wantErr = e; }
  try { got = shimCall(); } catch (e) { gotErr = e; }
  if (wantErr || gotErr) {
    const ok = !!wantErr && !!gotErr && (wantErr.code !== 'ERR_BUFFER_TOO_LARGE' || gotErr.code === 'ERR_BUFFER_TOO_LARGE');
    if (!ok) t.fail(`${what}: node ${wantErr ? `throws ${wantErr.code ?? wantErr.message}` : `gives ${want.length} bytes`}, ` +
      `ours ${gotErr ? `throws ${gotErr.code ?? gotErr.message}` : `gives ${got.length} bytes`}`);
    return ok;
  }
  const ok = want.length === got.length && Buffer.compare(Buffer.from(want), Buffer.from(got)) === 0;
  if (!ok) t.fail(`${what}: node gives ${want.length} bytes, ours ${got.length} (or different bytes)`);
  return ok;
}

const pngs = [
  ...readdirSync(fixturesDir).filter((f) => f.endsWith('.png')).map((f) => join(fixturesDir, f)),
  ...readdirSync(join(repoRoot, 'weights', 'tiny-clip')).filter((f) => f.endsWith('.png')).map((f) => join(repoRoot, 'weights', 'tiny-clip', f)),
];

test('browser inflate: the IDAT of every fixture PNG as image/png.ts inflates it, = Node zlib', (t) => {
  let cases = 0, fails = 0;
  for (const file of pngs) {
    const idat = idatOf(readFileSync(file));
    const full = zlib.inflateSync(idat);
    const limits = [full.length, full.length - 1, Math.floor(full.length / 2), 1];
    for (const limit of limits) {
      cases++;
      if (!same(t, `${file} limit ${limit}`, () => zlib.inflateSync(idat, { ...SYNC, maxOutputLength: limit }),
        () => shim.inflateSync(idat, { ...SYNC, maxOutputLength: limit }))) fails++;
    }
    for (const cut of [0, 1, 2, 3, 7, Math.floor(idat.length / 3), Math.floor(idat.length / 2), idat.length - 5, idat.length - 1]) {
      cases++;
      const part = idat.subarray(0, Math.max(0, cut));
      if (!same(t, `${file} cut at ${cut}`, () => zlib.inflateSync(part, { ...SYNC, maxOutputLength: full.length }),
        () => shim.inflateSync(part, { ...SYNC, maxOutputLength: full.length }))) fails++;
    }
  }
  t.equal(fails, 0, `${cases} inflates of ${pngs.length} PNG files' image data (whole, bounded, cut short): all as Node's`);
  t.end();
});

test('browser inflate: every level and strategy, three wrappers, random and repetitive data, = Node zlib', (t) => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  const inputs = [
    new Uint8Array(0),
    Uint8Array.from({ length: 70000 }, () => rnd()),                               // incompressible, > one stored block
    Uint8Array.from({ length: 50000 }, (_, i) => (i % 251) ^ (i >> 9)),             // long matches
    Uint8Array.from({ length: 9000 }, () => (rnd() < 200 ? 65 : rnd())),           // skewed literals
  ];
  let cases = 0, fails = 0;
  for (const data of inputs) {
    for (const level of [0, 1, 6, 9]) {
      for (const strategy of [zlib.constants.Z_DEFAULT_STRATEGY, zlib.constants.Z_HUFFMAN_ONLY, zlib.constants.Z_FIXED, zlib.constants.Z_RLE]) {
        const o = { level, strategy };
        for (const [name, deflate, inflateNode, inflateOurs] of [
          ['zlib', zlib.deflateSync, zlib.inflateSync, shim.inflateSync],
          ['raw', zlib.deflateRawSync, zlib.inflateRawSync, shim.inflateRawSync],
          ['gzip', zlib.gzipSync, zlib.gunzipSync, shim.gunzipSync],
        ]) {
          const z = deflate(data, o);
          cases++;
          if (!same(t, `${name} level ${level} strategy ${strategy} (${data.length} bytes)`, () => inflateNode(z), () => inflateOurs(z))) fails++;
        }
      }
    }
  }
  t.equal(fails, 0, `${cases} streams inflate as Node's`);
  t.end();
});

test('browser inflate: damaged streams are refused as Node refuses them', (t) => {
  const data = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7) % 13);
  const z = zlib.deflateSync(data);
  const cases = [
    ['bad header', Uint8Array.from([0x78, 0x00, ...z.subarray(2)])],
    ['wrong method', Uint8Array.from([0x79, ...z.subarray(1)])],
    ['bad checksum', Uint8Array.from([...z.subarray(0, z.length - 1), z[z.length - 1] ^ 1])],
    ['block type 3', Uint8Array.from([0x78, 0x9c, 0x07, 0x00])],
    ['truncated, no sync flush', z.subarray(0, z.length - 8)],
  ];
  for (const [what, bytes] of cases) {
    let nodeErr = null, oursErr = null;
    try { zlib.inflateSync(bytes); } catch (e) { nodeErr = e; }
    try { shim.inflateSync(bytes); } catch (e) { oursErr = e; }
    t.ok(nodeErr && oursErr, `${what}: Node throws (${nodeErr?.code}), ours throws (${oursErr?.code}: ${oursErr?.message})`);
  }
  const big = zlib.deflateSync(new Uint8Array(100000));
  let e = null;
  try { shim.inflateSync(big, { maxOutputLength: 1000 }); } catch (err) { e = err; }
  t.equal(e?.code, 'ERR_BUFFER_TOO_LARGE', 'past maxOutputLength: ERR_BUFFER_TOO_LARGE, as Node (png.ts bisects on it)');
  t.end();
});

test('browser stand-ins: pngjs (stored blocks) round-trips through our decoder; node:path basics', (t) => {
  const W = 37, H = 5, rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 31) % 256);
  for (const [channels, colorType] of [[3, 2], [1, 0]]) {
    const png = new PNG({ width: W, height: H });
    png.data = rgb.subarray(0, W * H * channels);
    const bytes = PNG.sync.write(png, { colorType });
    const back = decodeImage(bytes, 'pngjs stand-in');
    const want = channels === 3 ? rgb : Uint8Array.from({ length: W * H * 3 }, (_, i) => rgb[Math.floor(i / 3)]);
    t.deepEqual([back.width, back.height, Buffer.compare(Buffer.from(back.data), Buffer.from(want))], [W, H, 0],
      `${channels === 3 ? 'RGB' : 'grey'} PNG written by the stand-in decodes to its pixels`);
  }
  t.equal(path.join('a/b', '../c', 'd.json'), 'a/c/d.json', 'join');
  t.equal(path.dirname('/x/y/z.safetensors'), '/x/y', 'dirname');
  t.equal(path.basename('/x/y/z.safetensors'), 'z.safetensors', 'basename');
  t.equal(path.resolve('/a', 'b', '../c'), '/a/c', 'resolve');
  t.equal(path.relative('/a/b/c', '/a/d'), '../../d', 'relative');
  t.end();
});
