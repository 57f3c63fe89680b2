// test/hostile_images.test.js: PNG and JPEG decoding against hostile files (issue 13, defects 2, 3 and 9). The
// files are made here from the fixtures in reference/fixtures (no big committed files). Bombs must be refused
// from their headers, before the memory is allocated (checked by the message, which names the size); truncated
// data is an error as in PIL ("image file is truncated"); a zlib stream longer than the image is accepted, as PIL
// accepts it, and decodes to exactly PIL's pixels; every other error says what is wrong in our words.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { decodeImage, loadImage } from '../dist/image/decode.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { DecomcamError } from '../dist/errors.js';
import { assertClose, fixturesDir } from './helpers/compare.js';

const st = readSafetensors(join(fixturesDir, 'image.safetensors'));
const ref = (name) => st.tensors.get(name).data; // PIL's convert('RGB') of the fixture, (H, W, 3)
const input = (name) => new Uint8Array(readFileSync(join(fixturesDir, `image.${name}`)));

function rejects(t, fn, pattern, label) {
  try {
    fn();
    t.fail(`${label}: decoded without error`);
  } catch (e) {
    const ok = e instanceof DecomcamError && e.message.includes('hostile.png') && pattern.test(e.message) &&
      !/undefined|Cannot (read|set)|waitng|should not go down|outside buffer bounds/.test(e.message);
    t.ok(ok, `${label}: ${e instanceof DecomcamError ? '' : e.name + ': '}${e.message}`);
  }
}

// ---- PNG -------------------------------------------------------------------------------------------------

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function ihdr(w, h, depth, colorType, interlace = 0) {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0); d.writeUInt32BE(h, 4);
  d[8] = depth; d[9] = colorType; d[12] = interlace;
  return chunk('IHDR', d);
}
function png(head, idat, extra = []) {
  return new Uint8Array(Buffer.concat([SIGNATURE, head, ...extra, chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]));
}
// A fixture's chunks: IHDR, the other chunks before IDAT, and its inflated image data.
function parts(file) {
  const b = Buffer.from(file);
  let at = 8; const other = []; const idat = []; let head = null;
  while (at < b.length) {
    const len = b.readUInt32BE(at), type = b.toString('latin1', at + 4, at + 8), whole = b.subarray(at, at + 12 + len);
    if (type === 'IHDR') head = whole; else if (type === 'IDAT') idat.push(whole.subarray(8, 8 + len));
    else if (type !== 'IEND') other.push(whole);
    at += 12 + len;
  }
  return { head, other, raw: inflateSync(Buffer.concat(idat)) };
}

test('hostile PNG: a 10000×10000 RGBA-16 header is refused by its bytes, before inflating', (t) => {
  const file = png(ihdr(10000, 10000, 16, 6), deflateSync(Buffer.alloc(100)));
  t.ok(file.length < 400, `the file is ${file.length} bytes`);
  rejects(t, () => decodeImage(file, 'hostile.png'),
    /10000×10000 pixels at 64 bits each would need \d+ MiB to decode, more than the 640 MiB/, '100 MP RGBA-16 (800 MB)');
  t.end();
});

test('hostile PNG: missing image data is "image file is truncated", never a zero-filled image', (t) => {
  // one row of a 10000×10000 grey image: PIL zero-fills the missing whole rows; we refuse
  const file = png(ihdr(10000, 10000, 8, 0), deflateSync(Buffer.alloc(10001)));
  t.ok(file.length < 800, `the file is ${file.length} bytes`);
  rejects(t, () => decodeImage(file, 'hostile.png'), /image file is truncated .*inflates to 10001 bytes/, '100 MP from one row');
  const { head, other, raw } = parts(input('rgb8.png'));
  const rowBytes = 1 + 3 * head.readUInt32BE(8);
  rejects(t, () => decodeImage(png(head, deflateSync(raw.subarray(0, raw.length - rowBytes)), other), 'hostile.png'),
    /image file is truncated/, 'rgb8.png without its last row');
  rejects(t, () => decodeImage(png(head, deflateSync(raw.subarray(0, raw.length - 5)), other), 'hostile.png'),
    /image file is truncated/, 'rgb8.png cut 5 bytes into its last row');
  t.end();
});

test('hostile PNG: a zlib stream longer than the image decodes as PIL does (the excess ignored)', (t) => {
  for (const name of ['rgb8.png', 'interlaced_rgb8.png', 'palette4.png', 'gray16.png']) {
    const { head, other, raw } = parts(input(name));
    const longer = Buffer.concat([raw, Buffer.alloc(raw.length * 3 + 1000, 0x55)]);
    const img = decodeImage(png(head, deflateSync(longer), other), 'hostile.png');
    assertClose(t, `${name} + ${longer.length - raw.length} bytes of zlib data`, img.data, ref(`decode.${name}`), 0);
  }
  // 16 MB more than the image in a 16 kB stream: accepted, and the excess is never inflated
  const { head, other, raw } = parts(input('rgb8.png'));
  const bomb = deflateSync(Buffer.concat([raw, Buffer.alloc(16 << 20)]));
  const img = decodeImage(png(head, bomb, other), 'hostile.png');
  assertClose(t, `rgb8.png + 16 MB of zeros in its ${bomb.length}-byte zlib stream`, img.data, ref('decode.rgb8.png'), 0);
  t.end();
});

test('hostile PNG: damaged image data is described in our words', (t) => {
  const { head, other, raw } = parts(input('rgb8.png'));
  const badFilter = Buffer.from(raw);
  badFilter[0] = 7;
  rejects(t, () => decodeImage(png(head, deflateSync(badFilter), other), 'hostile.png'),
    /row 0 of its image data has filter type 7; PNG defines 0-4/, 'filter type 7');
  rejects(t, () => decodeImage(png(head, Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff]), other), 'hostile.png'),
    /compressed image data is damaged/, 'broken deflate data');
  const noIdat = new Uint8Array(Buffer.concat([SIGNATURE, head, chunk('IEND', Buffer.alloc(0))]));
  rejects(t, () => decodeImage(noIdat, 'hostile.png'), /no IDAT chunk/, 'no IDAT');
  const h = Buffer.from(head); h[20] = 2; h.writeUInt32BE(crc32(h.subarray(4, 21)), 21);
  rejects(t, () => decodeImage(png(h, deflateSync(raw), other), 'hostile.png'), /interlace method 2/, 'interlace method 2');
  t.end();
});

test('hostile PNG: palette indices past PLTE read as grey, as PIL 9.4 gives them', (t) => {
  // PIL 9.4 convert('RGB') of this 4×1 palette image: [(10,20,30), (40,50,60), (2,2,2), (200,200,200)]
  const plte = chunk('PLTE', Buffer.from([10, 20, 30, 40, 50, 60]));
  const img = decodeImage(png(ihdr(4, 1, 8, 3), deflateSync(Buffer.from([0, 0, 1, 2, 200])), [plte]), 'hostile.png');
  t.deepEqual([...img.data], [10, 20, 30, 40, 50, 60, 2, 2, 2, 200, 200, 200], 'indices 2 and 200 of a 2-entry palette');
  t.end();
});

// ---- JPEG ------------------------------------------------------------------------------------------------

// The marker segments before the first scan: [offset, marker, length] (length counts itself, not the marker).
function segments(b) {
  const out = [];
  for (let at = 2; at + 4 <= b.length && b[at] === 0xff;) {
    const marker = b[at + 1], length = (b[at + 2] << 8) | b[at + 3];
    out.push([at, marker, length]);
    if (marker === 0xda) break;
    at += 2 + length;
  }
  return out;
}
const segment = (b, marker) => segments(b).find(([, m]) => m === marker);
function withFrameSize(file, w, h) {
  const b = Buffer.from(file);
  const [at] = segment(b, 0xc0) ?? segment(b, 0xc2);
  b.writeUInt16BE(h, at + 5);
  b.writeUInt16BE(w, at + 7);
  return b;
}
const without = (b, at, length) => Buffer.concat([b.subarray(0, at), b.subarray(at + 2 + length)]);
const decodeJ = (b) => decodeImage(new Uint8Array(b), 'hostile.png'); // the name is only what errors quote

test('hostile JPEG: a frame its bytes cannot fill is refused before decoding (a 5 kB 10000×10000 bomb)', (t) => {
  const file = input('q95_444.jpg');
  const bomb = withFrameSize(file, 10000, 10000);
  t.ok(bomb.length < 20000, `the file is ${bomb.length} bytes`);
  rejects(t, () => decodeJ(bomb), /says 10000×10000 pixels, 1562500 blocks .* fewer than one bit a block/, '10000×10000 4:4:4');
  t.end();
});

test('hostile JPEG: a frame whose decode needs more than the memory budget is refused from its header', (t) => {
  // 5000×5000 at 4:4:4 with 64 kB of (valid, zero) coded data: enough bits, but ≈ 1 GB for jpeg-js's blocks
  const file = withFrameSize(input('q95_444.jpg'), 5000, 5000);
  const padded = Buffer.concat([file.subarray(0, file.length - 2), Buffer.alloc(65536), file.subarray(file.length - 2)]);
  rejects(t, () => decodeJ(padded), /5000×5000 pixels \(1x1,1x1,1x1 sampling\) would need \d+ MiB to decode, more than the 768 MiB/,
    '25 MP at 4:4:4');
  t.end();
});

test('hostile JPEG: broken headers are described in our words, not jpeg-js internals', (t) => {
  const file = Buffer.from(input('q90_420.jpg'));
  // no DQT: jpeg-js said "Cannot read properties of undefined (reading '0')"
  let b = file;
  for (let s = segment(b, 0xdb); s; s = segment(b, 0xdb)) b = without(b, s[0], s[2]);
  rejects(t, () => decodeJ(b), /component 1 uses quantization table 0, which no DQT segment before its scan defines/, 'no DQT');
  // a scan naming a component the frame lacks: jpeg-js said "Cannot set properties of undefined (setting 'huffmanTableDC')"
  b = Buffer.from(file);
  const [sos] = segment(b, 0xda);
  b[sos + 5] = 9;
  rejects(t, () => decodeJ(b), /scan at byte \d+ names component 9, which the frame header does not define; it defines 1, 2, 3/,
    'SOS with an unknown component');
  // a Huffman table whose symbols run past its segment (jpeg-js read on: "Attempt to access memory outside buffer bounds")
  b = Buffer.from(file);
  const [dht, , dhtLength] = segment(b, 0xc4);
  b.writeUInt16BE(dhtLength - 4, dht + 2);
  rejects(t, () => decodeJ(b), /the 0xc4 segment at byte \d+ is shorter than its Huffman table/, 'DHT shorter than its table');
  // code lengths that are no prefix code: three 1-bit codes
  b = Buffer.from(file);
  b[dht + 5] = 3;
  rejects(t, () => decodeJ(b), /Huffman code lengths do not form a valid code/, 'three 1-bit Huffman codes');
  // two frame headers
  const [sof, , sofLength] = segment(file, 0xc0);
  b = Buffer.concat([file.subarray(0, sof), file.subarray(sof, sof + 2 + sofLength), file.subarray(sof)]);
  rejects(t, () => decodeJ(b), /a second frame header/, 'two SOF segments');
  t.end();
});

test('hostile images: loadImage reads regular files only', (t) => {
  for (const [path, re] of [['/dev/zero', /is not a regular file/], ['/tmp', /is a directory/]]) {
    try { loadImage(path); t.fail(`${path}: read`); } catch (e) {
      t.ok(e instanceof DecomcamError && re.test(e.message) && e.message.includes(path), `${path}: ${e.message}`);
    }
  }
  t.end();
});
