// image/jpeg.ts: JPEG → 8-bit RGB, close to what PIL (libjpeg-turbo) gives. jpeg-js does the entropy decoding
// and the IDCT; it is asked for the raw component planes, and the rest is done here the libjpeg way:
// "fancy" (triangle-filter) chroma upsampling (jdsample.c) instead of jpeg-js's sample replication, the
// integer YCbCr → RGB tables of jdcolor.c, and libjpeg's rules for guessing the colour space.
// What remains is jpeg-js's IDCT against libjpeg's ISLOW: ±3 levels at most, ~90% of values equal (measured
// over qualities 30–100 and 4:4:4/4:2:2/4:2:0; the bound is checked in test/image.test.js).
// CMYK/YCCK files (4 components) use jpeg-js's own conversion, not PIL's.

import { decode as jpegJsDecode } from 'jpeg-js';
import { DecomcamError, fail } from '../errors.js';

interface Component { id: number; h: number; v: number }
interface JpegHeader {
  width: number;
  height: number;
  components: Component[];
  jfif: boolean;               // an APP0 "JFIF" segment was seen
  adobeTransform: number;      // the APP14 "Adobe" transform byte, -1 without one
  adobeTransformAt: number;    // its offset in the file
  scanAt: number;              // offset of the first SOS marker
}

function bad(source: string, problem: string): never {
  fail(`${source}: ${problem}`, 'usage');
}

// Walks the marker segments up to the first scan: frame size, components and their sampling factors,
// and the markers that decide the colour space. Checks every length against the file's end.
function readHeader(bytes: Uint8Array, source: string): JpegHeader {
  const head: JpegHeader = {
    width: 0, height: 0, components: [], jfif: false, adobeTransform: -1, adobeTransformAt: -1, scanAt: -1,
  };
  let at = 2; // after SOI
  let sawFrame = false;
  for (;;) {
    if (at + 4 > bytes.length) bad(source, 'truncated JPEG (the file ends inside its header)');
    if (bytes[at] !== 0xff) bad(source, `corrupt JPEG (expected a marker at byte ${at}, found 0x${bytes[at].toString(16)})`);
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; } // no length
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const start = at + 4;           // segment payload
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) bad(source, 'truncated JPEG (a header segment runs past the end of the file)');
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (marker !== 0xc0 && marker !== 0xc1 && marker !== 0xc2) {
        bad(source, `JPEG coding 0x${marker.toString(16)} (lossless, hierarchical or arithmetic) is not supported: ` +
          'save it as a baseline or progressive JPEG, or as PNG');
      }
      if (bytes[start] !== 8) bad(source, `${bytes[start]}-bit JPEG is not supported (only 8-bit samples)`);
      head.height = (bytes[start + 1] << 8) | bytes[start + 2];
      head.width = (bytes[start + 3] << 8) | bytes[start + 4];
      const n = bytes[start + 5];
      if (n !== 1 && n !== 3 && n !== 4) bad(source, `JPEG with ${n} colour components is not supported (expected 1, 3 or 4)`);
      if (length < 8 + 3 * n) bad(source, 'corrupt JPEG (frame header shorter than its component list)');
      for (let c = 0; c < n; c++) {
        const p = start + 6 + 3 * c;
        head.components.push({ id: bytes[p], h: bytes[p + 1] >> 4, v: bytes[p + 1] & 15 });
      }
      sawFrame = true;
    } else if (marker === 0xe0 && length >= 7 && String.fromCharCode(...bytes.subarray(start, start + 5)) === 'JFIF\0') {
      head.jfif = true;
    } else if (marker === 0xee && length >= 14 && String.fromCharCode(...bytes.subarray(start, start + 5)) === 'Adobe') {
      head.adobeTransform = bytes[start + 11];
      head.adobeTransformAt = start + 11;
    } else if (marker === 0xda) {
      if (!sawFrame) bad(source, 'corrupt JPEG (scan before frame header)');
      head.scanAt = at;
      return head;
    } else if (marker === 0xd9) {
      bad(source, 'corrupt JPEG (ends before any image data)');
    }
    at = end;
  }
}

// Whether an EOI marker (FF D9) follows the first scan. Entropy-coded data never holds FF D9 (a data byte
// FF is written as FF 00), so without one the file was cut short.
function hasEndMarker(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.length - 2; i > from; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

// libjpeg's guess (jdapimin.c) for 3 components: JFIF ⇒ YCbCr; else Adobe transform 0 ⇒ RGB, other ⇒ YCbCr;
// else component ids 'R','G','B' ⇒ RGB; otherwise YCbCr.
function isYCbCr(head: JpegHeader): boolean {
  if (head.jfif) return true;
  if (head.adobeTransform >= 0) return head.adobeTransform !== 0;
  const [a, b, c] = head.components.map((k) => k.id);
  return !(a === 82 && b === 71 && c === 66);
}

export function decodeJpeg(bytes: Uint8Array, source: string, maxMegapixels: number, maxMemoryMB: number):
  { width: number; height: number; data: Uint8Array } {
  const head = readHeader(bytes, source);
  const { width, height, components } = head;
  if (width < 1 || height < 1) bad(source, `JPEG is ${width}×${height} pixels: it has no pixels to explain`);
  if (width * height > maxMegapixels * 1e6) {
    bad(source, `image is ${width}×${height} pixels, more than the ${maxMegapixels} MP this library decodes (downscale it first)`);
  }
  const nc = components.length;
  const maxH = Math.max(...components.map((k) => k.h));
  const maxV = Math.max(...components.map((k) => k.v));
  for (const k of components) {
    if (k.h < 1 || k.v < 1 || maxH % k.h !== 0 || maxV % k.v !== 0) {
      bad(source, `JPEG sampling factors ${components.map((q) => `${q.h}x${q.v}`).join(',')} are not supported`);
    }
  }

  // jpeg-js applies its own colour transform whenever an Adobe marker asks for one; zero that byte in a copy
  // so that it hands back the raw planes and the colour space is decided here, as libjpeg decides it.
  let input = bytes;
  if (nc === 3 && head.adobeTransform > 0) {
    input = bytes.slice();
    input[head.adobeTransformAt] = 0;
  }
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpegJsDecode(input, {
      useTArray: true, formatAsRGBA: false, colorTransform: false,
      maxResolutionInMP: maxMegapixels, maxMemoryUsageInMB: maxMemoryMB,
    });
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    if (!hasEndMarker(bytes, head.scanAt)) bad(source, 'truncated JPEG (the file ends before its end-of-image marker)');
    bad(source, `corrupt or unsupported JPEG (${(e as Error).message})`);
  }
  if (raw.width !== width || raw.height !== height || raw.data.length !== width * height * 3) {
    bad(source, 'corrupt JPEG (decoded size does not match its frame header)');
  }
  if (nc !== 3) return raw; // grey (replicated by jpeg-js) or CMYK/YCCK (converted by jpeg-js)

  // raw holds the three planes interleaved, each replicated to full size: plane c at (y, x) is the
  // component's sample (⌊y·v/maxV⌋, ⌊x·h/maxH⌋). Take the samples back (from the middle of each replicated
  // block, where jpeg-js's floating-point index cannot land on a neighbour), then upsample as libjpeg does.
  const planes = components.map((k, c) => {
    const fy = maxV / k.v, fx = maxH / k.h;
    const dw = Math.ceil(width / fx), dh = Math.ceil(height / fy); // libjpeg's downsampled_width/height
    const small = new Uint8Array(dw * dh);
    const xs = Int32Array.from({ length: dw }, (_, j) => Math.min(j * fx + (fx >> 1), width - 1));
    for (let i = 0; i < dh; i++) {
      const rowStart = Math.min(i * fy + (fy >> 1), height - 1) * width;
      for (let j = 0; j < dw; j++) small[i * dw + j] = raw.data[(rowStart + xs[j]) * 3 + c];
    }
    return upsample(small, dw, dh, fx, fy, width, height);
  });
  const out = new Uint8Array(width * height * 3);
  if (isYCbCr(head)) {
    yccToRgb(out, planes[0], planes[1], planes[2]);
  } else {
    for (let p = 0; p < width * height; p++) {
      out[3 * p] = planes[0][p]; out[3 * p + 1] = planes[1][p]; out[3 * p + 2] = planes[2][p];
    }
  }
  return { width, height, data: out };
}

// One component from its downsampled (dh, dw) plane to the (H, W) image, with the method libjpeg picks
// (jinit_upsampler): 2×1, 1×2 and 2×2 get the triangle filter ("fancy"; 2×1 and 2×2 only when dw > 2),
// other integer factors replicate. Rows above the first and below the last repeat the edge row, as
// libjpeg's context rows do.
function upsample(src: Uint8Array, dw: number, dh: number, fx: number, fy: number, W: number, H: number): Uint8Array {
  if (fx === 1 && fy === 1) return src;
  const fancy = (fx === 2 && fy === 1 && dw > 2) || (fx === 1 && fy === 2) || (fx === 2 && fy === 2 && dw > 2);
  const out = new Uint8Array(W * H);
  if (!fancy) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) out[y * W + x] = src[Math.floor(y / fy) * dw + Math.floor(x / fx)];
    }
    return out;
  }
  const row = (i: number) => Math.min(Math.max(i, 0), dh - 1) * dw;
  const colsum = new Int32Array(dw);
  const wide = new Uint8Array(2 * dw);
  for (let y = 0; y < H; y++) {
    const i = Math.floor(y / fy);   // nearest input row
    if (fy === 2) {
      // vertical triangle: 3/4 of the nearest row + 1/4 of the row above (even y) or below (odd y)
      const near = row(i), far = row(y % 2 === 0 ? i - 1 : i + 1);
      for (let j = 0; j < dw; j++) colsum[j] = 3 * src[near + j] + src[far + j];
    } else {
      for (let j = 0; j < dw; j++) colsum[j] = src[row(i) + j];
    }
    if (fx === 1) {
      const bias = y % 2 === 0 ? 1 : 2; // h1v2_fancy_upsample
      for (let x = 0; x < W; x++) out[y * W + x] = (colsum[x] + bias) >> 2;
      continue;
    }
    if (fy === 2) {
      // h2v2_fancy_upsample: 9/16, 3/16, 3/16, 1/16 with biases 8 and 7; the end columns use 4·colsum
      wide[0] = (colsum[0] * 4 + 8) >> 4;
      for (let j = 0; j < dw; j++) {
        if (j > 0) wide[2 * j] = (colsum[j] * 3 + colsum[j - 1] + 8) >> 4;
        wide[2 * j + 1] = j < dw - 1 ? (colsum[j] * 3 + colsum[j + 1] + 7) >> 4 : (colsum[j] * 4 + 7) >> 4;
      }
    } else {
      // h2v1_fancy_upsample: 3/4, 1/4 with biases 1 and 2; the end columns copy the sample
      wide[0] = colsum[0];
      for (let j = 0; j < dw; j++) {
        if (j > 0) wide[2 * j] = (colsum[j] * 3 + colsum[j - 1] + 1) >> 2;
        wide[2 * j + 1] = j < dw - 1 ? (colsum[j] * 3 + colsum[j + 1] + 2) >> 2 : colsum[j];
      }
    }
    out.set(wide.subarray(0, W), y * W);
  }
  return out;
}

// jdcolor.c's ycc_rgb_convert: 16-bit fixed-point tables, FIX(x) = round(x·2^16), arithmetic right shifts;
// the Uint8ClampedArray view clamps to 0..255 as libjpeg's range_limit table does.
const FIX_1_40200 = 91881, FIX_1_77200 = 116130, FIX_0_71414 = 46802, FIX_0_34414 = 22554, ONE_HALF = 1 << 15;
const CR_R = new Int32Array(256), CB_B = new Int32Array(256), CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX_1_40200 * x + ONE_HALF) >> 16;
  CB_B[i] = (FIX_1_77200 * x + ONE_HALF) >> 16;
  CR_G[i] = -FIX_0_71414 * x;
  CB_G[i] = -FIX_0_34414 * x + ONE_HALF;
}
function yccToRgb(out: Uint8Array, Y: Uint8Array, Cb: Uint8Array, Cr: Uint8Array): void {
  const rgb = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let p = 0; p < Y.length; p++) {
    const y = Y[p], cb = Cb[p], cr = Cr[p];
    rgb[3 * p] = y + CR_R[cr];
    rgb[3 * p + 1] = y + ((CB_G[cb] + CR_G[cr]) >> 16);
    rgb[3 * p + 2] = y + CB_B[cb];
  }
}
