// image/jpeg.ts: JPEG → 8-bit RGB, close to what PIL (libjpeg-turbo) gives. jpeg-js does the entropy decoding
// and the IDCT; it is asked for the raw component planes, and the rest is done here the libjpeg way:
// "fancy" (triangle-filter) chroma upsampling (jdsample.c) instead of jpeg-js's sample replication, the
// integer YCbCr → RGB tables of jdcolor.c, and libjpeg's rules for guessing the colour space.
// What remains is jpeg-js's IDCT against libjpeg's ISLOW: ±3 levels at most, ~90% of values equal (measured
// over qualities 30–100 and 4:4:4/4:2:2/4:2:0; the bound is checked in test/image.test.js).
// CMYK/YCCK files (4 components) use jpeg-js's own conversion, not PIL's.

import { decode as jpegJsDecode } from 'jpeg-js';
import { DecomcamError, fail } from '../errors.js';

interface Component { id: number; h: number; v: number; tq: number }
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

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

// Walks every marker segment of the file (between scans too: entropy-coded data holds no FF byte followed by
// anything but 00 or a restart marker, so the next marker is found by a scan for FF xx). Besides the frame size,
// components, sampling factors and the markers that decide the colour space, it checks what jpeg-js would
// otherwise trip over with a message about its own internals: every length against the file's end, DQT and DHT
// table ids and sizes, Huffman code lengths that form a prefix code, one frame only, markers jpeg-js reads, and
// for each scan that its components exist in the frame and that their quantization and Huffman tables were
// defined before it.
function readHeader(bytes: Uint8Array, source: string): JpegHeader {
  const head: JpegHeader = {
    width: 0, height: 0, components: [], jfif: false, adobeTransform: -1, adobeTransformAt: -1, scanAt: -1,
  };
  const quant = new Set<number>();   // defined quantization tables
  const huffman = new Set<string>(); // defined Huffman tables: 'DC0' .. 'AC3'
  let progressive = false;
  let at = 2; // after SOI
  for (;;) {
    if (at + 2 > bytes.length) {
      if (head.scanAt >= 0) return head; // cut inside the image data: hasEndMarker reports it
      bad(source, 'truncated JPEG (the file ends inside its header)');
    }
    if (bytes[at] !== 0xff) bad(source, `corrupt JPEG (expected a marker at byte ${at}, found ${hex(bytes[at])})`);
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0xd9) {
      if (head.scanAt < 0) bad(source, 'corrupt JPEG (ends before any image data)');
      return head;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; } // no length
    if (at + 4 > bytes.length) bad(source, 'truncated JPEG (the file ends inside a marker segment)');
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const start = at + 4;           // segment payload
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) bad(source, `truncated JPEG (the ${hex(marker)} segment at byte ${at} runs past the end of the file)`);
    const segment = `the ${hex(marker)} segment at byte ${at}`;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (marker !== 0xc0 && marker !== 0xc1 && marker !== 0xc2) {
        bad(source, `JPEG coding ${hex(marker)} (lossless, hierarchical or arithmetic) is not supported: ` +
          'save it as a baseline or progressive JPEG, or as PNG');
      }
      if (head.components.length > 0) bad(source, `corrupt JPEG (a second frame header at byte ${at}; a JPEG image has one)`);
      if (length < 8) bad(source, `corrupt JPEG (frame header at byte ${at} is ${length} bytes long)`);
      if (bytes[start] !== 8) bad(source, `${bytes[start]}-bit JPEG is not supported (only 8-bit samples)`);
      progressive = marker === 0xc2;
      head.height = (bytes[start + 1] << 8) | bytes[start + 2];
      head.width = (bytes[start + 3] << 8) | bytes[start + 4];
      const n = bytes[start + 5];
      if (n !== 1 && n !== 3 && n !== 4) bad(source, `JPEG with ${n} colour components is not supported (expected 1, 3 or 4)`);
      if (length < 8 + 3 * n) bad(source, 'corrupt JPEG (frame header shorter than its component list)');
      for (let c = 0; c < n; c++) {
        const p = start + 6 + 3 * c;
        const k = { id: bytes[p], h: bytes[p + 1] >> 4, v: bytes[p + 1] & 15, tq: bytes[p + 2] };
        if (head.components.some((q) => q.id === k.id)) bad(source, `corrupt JPEG (component id ${k.id} appears twice in the frame header)`);
        if (k.tq > 3) bad(source, `corrupt JPEG (component ${k.id} names quantization table ${k.tq}; tables are 0-3)`);
        head.components.push(k);
      }
    } else if (marker === 0xdb) {
      for (let p = start; p < end;) { // DQT: one or more tables of 64 values, 8- or 16-bit
        const precision = bytes[p] >> 4, id = bytes[p] & 15;
        if (precision > 1 || id > 3) bad(source, `corrupt JPEG (${segment} defines quantization table ${id} with precision ${precision}; expected table 0-3, precision 0 or 1)`);
        p += 1 + 64 * (precision + 1);
        if (p > end) bad(source, `corrupt JPEG (${segment} is shorter than its quantization tables)`);
        quant.add(id);
      }
    } else if (marker === 0xc4) {
      for (let p = start; p < end;) { // DHT: class (DC/AC), id, 16 code counts, the symbols
        const cls = bytes[p] >> 4, id = bytes[p] & 15;
        if (cls > 1 || id > 3) bad(source, `corrupt JPEG (${segment} defines Huffman table class ${cls} id ${id}; expected class 0-1, id 0-3)`);
        if (p + 17 > end) bad(source, `corrupt JPEG (${segment} is shorter than its Huffman table)`);
        let total = 0, codes = 0;
        for (let len = 1; len <= 16; len++) {
          const count = bytes[p + len];
          total += count;
          codes = (codes + count) * 2; // canonical codes of this length must fit in `len` bits
          if (codes > 2 ** (len + 1)) bad(source, `corrupt JPEG (${segment}: its Huffman code lengths do not form a valid code)`);
        }
        if (total > 256 || p + 17 + total > end) bad(source, `corrupt JPEG (${segment} is shorter than its Huffman table)`);
        huffman.add(`${cls === 0 ? 'DC' : 'AC'}${id}`);
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      if (length !== 4) bad(source, `corrupt JPEG (restart interval segment at byte ${at} is ${length} bytes long, expected 4)`);
    } else if (marker === 0xe0 && length >= 7 && String.fromCharCode(...bytes.subarray(start, start + 5)) === 'JFIF\0') {
      if (head.scanAt < 0) head.jfif = true;
    } else if (marker === 0xee && length >= 14 && String.fromCharCode(...bytes.subarray(start, start + 5)) === 'Adobe') {
      if (head.scanAt < 0) { head.adobeTransform = bytes[start + 11]; head.adobeTransformAt = start + 11; }
    } else if (marker === 0xda) {
      if (head.components.length === 0) bad(source, 'corrupt JPEG (scan before frame header)');
      checkScan(bytes, start, length, at, head.components, quant, huffman, progressive, source);
      if (head.scanAt < 0) head.scanAt = at;
      // skip the entropy-coded data to the next marker (FF then neither 00, a restart marker nor fill)
      let j = end;
      while (j + 1 < bytes.length && !(bytes[j] === 0xff && bytes[j + 1] !== 0 && bytes[j + 1] !== 0xff &&
        !(bytes[j + 1] >= 0xd0 && bytes[j + 1] <= 0xd7))) j++;
      at = j + 1 < bytes.length ? j : bytes.length;
      continue;
    } else if (!((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe || marker === 0xdc)) {
      bad(source, `corrupt or unsupported JPEG (marker ${hex(marker)} at byte ${at} is not one a baseline or progressive JPEG uses)`);
    }
    at = end;
  }
}

// One SOS header: 1-4 components of the frame, each with tables defined before the scan; a progressive scan's
// spectral range and approximation bits as the standard allows them (jpeg-js assumes all of this).
function checkScan(bytes: Uint8Array, start: number, length: number, at: number, components: Component[],
  quant: Set<number>, huffman: Set<string>, progressive: boolean, source: string): void {
  const ns = bytes[start];
  if (ns < 1 || ns > 4 || length !== 6 + 2 * ns) {
    bad(source, `corrupt JPEG (scan header at byte ${at} lists ${ns} components in ${length} bytes)`);
  }
  const p = start + 1 + 2 * ns;
  const ss = bytes[p], se = bytes[p + 1], ah = bytes[p + 2] >> 4, al = bytes[p + 2] & 15;
  if (progressive && (ss > se || se > 63 || (ss === 0 && se !== 0) || (se > 0 && ns !== 1) || ah > 13 || al > 13)) {
    bad(source, `corrupt JPEG (progressive scan at byte ${at} has spectral range ${ss}-${se}, approximation ${ah}/${al}, ` +
      `${ns} component(s): not a valid progressive scan)`);
  }
  for (let c = 0; c < ns; c++) {
    const id = bytes[start + 1 + 2 * c], tables = bytes[start + 2 + 2 * c];
    const k = components.find((q) => q.id === id);
    if (!k) {
      bad(source, `corrupt JPEG (scan at byte ${at} names component ${id}, which the frame header does not define; ` +
        `it defines ${components.map((q) => q.id).join(', ')})`);
    }
    if (!quant.has(k.tq)) {
      bad(source, `corrupt JPEG (component ${id} uses quantization table ${k.tq}, which no DQT segment before its scan defines)`);
    }
    const dc = `DC${tables >> 4}`, ac = `AC${tables & 15}`;
    if (ss === 0 && !(progressive && ah > 0) && !huffman.has(dc)) {
      bad(source, `corrupt JPEG (scan at byte ${at} uses Huffman table ${dc} for component ${id}, which no DHT segment before it defines)`);
    }
    if (se > 0 && !huffman.has(ac)) {
      bad(source, `corrupt JPEG (scan at byte ${at} uses Huffman table ${ac} for component ${id}, which no DHT segment before it defines)`);
    }
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

/**
 * jpeg-js keeps every 8×8 block as its own Int32Array(64): 256 bytes of data and, measured with node 20
 * (RSS over 10^6 blocks), 656 bytes in all. With its row buffers, its output and our planes, a 4:4:4 image
 * costs about 46 bytes a pixel and a 4:2:0 one about 29 (a 12 MP file: estimate 549 / 347 MB, peak RSS 603 /
 * 361 MB with node's own 50): JPEG_MAX_DECODE_BYTES (768 MiB) admits ≈ 17 MP at 4:4:4 and ≈ 27 MP at 4:2:0.
 * Larger JPEGs are refused from their header, before jpeg-js allocates anything (PNG decodes up to 100 MP).
 */
export const JPEG_MAX_DECODE_BYTES = 768 * 2 ** 20;
const JPEG_BYTES_PER_BLOCK = 656;

// The bytes jpeg-js and this file allocate for the frame (jpeg-js's decoder.js: blocks padded to whole MCUs,
// one byte a sample for its component rows, then the (H, W, 3) output; here up to 2 planes a component + output).
function decodeBytes(width: number, height: number, components: Component[], maxH: number, maxV: number): number {
  const mcusPerLine = Math.ceil(width / 8 / maxH), mcusPerColumn = Math.ceil(height / 8 / maxV);
  let bytes = width * height * 3;
  for (const k of components) {
    bytes += mcusPerLine * k.h * mcusPerColumn * k.v * JPEG_BYTES_PER_BLOCK;
    bytes += Math.ceil(Math.ceil(width / 8) * k.h / maxH) * Math.ceil(Math.ceil(height / 8) * k.v / maxV) * 64;
  }
  if (components.length === 3) bytes += width * height * 9;
  return bytes;
}

// jpeg-js's own messages, in ours: what each says about the file.
function jpegJsProblem(message: string): string {
  if (/huffman|ACn encoding|unexpected marker|marker was not found/i.test(message)) {
    return 'corrupt JPEG (its compressed image data is damaged: the Huffman-coded blocks cannot be read)';
  }
  if (/maxMemoryUsageInMB|maxResolutionInMP|allocate/.test(message)) {
    return `JPEG needs more memory to decode than the ${JPEG_MAX_DECODE_BYTES / 2 ** 20} MiB this library allows (downscale it)`;
  }
  return 'corrupt JPEG (its headers and image data do not fit together)';
}

/**
 * Decodes a baseline or progressive JPEG to (H, W, 3) RGB bytes; refuses images over maxMegapixels or needing too
 * much memory, with an error naming source.
 */
export function decodeJpeg(bytes: Uint8Array, source: string, maxMegapixels: number):
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
    if (k.h < 1 || k.v < 1 || k.h > 4 || k.v > 4 || maxH % k.h !== 0 || maxV % k.v !== 0) {
      bad(source, `JPEG sampling factors ${components.map((q) => `${q.h}x${q.v}`).join(',')} are not supported`);
    }
  }
  // Each 8×8 block costs at least one bit in the first scan that codes it (a Huffman code is ≥ 1 bit), so a
  // frame the file's bytes cannot fill is a damaged header or a decompression bomb, refused before decoding.
  const blocks = Math.max(...components.map((k) =>
    Math.ceil(Math.ceil(width * k.h / maxH) / 8) * Math.ceil(Math.ceil(height * k.v / maxV) / 8)));
  const dataBytes = bytes.length - head.scanAt;
  if (dataBytes * 8 < blocks) {
    bad(source, `corrupt JPEG: its frame header says ${width}×${height} pixels, ${blocks} blocks of 8×8 for its largest ` +
      `component, but only ${dataBytes} bytes of image data follow, fewer than one bit a block (a damaged header or a ` +
      'decompression bomb)');
  }
  const need = decodeBytes(width, height, components, maxH, maxV);
  if (need > JPEG_MAX_DECODE_BYTES) {
    bad(source, `JPEG of ${width}×${height} pixels (${components.map((q) => `${q.h}x${q.v}`).join(',')} sampling) would need ` +
      `${(need / 2 ** 20).toFixed(0)} MiB to decode, more than the ${JPEG_MAX_DECODE_BYTES / 2 ** 20} MiB this library allows ` +
      '(downscale it, or convert it to PNG, which decodes up to 100 MP)');
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
      maxResolutionInMP: maxMegapixels, maxMemoryUsageInMB: JPEG_MAX_DECODE_BYTES / 2 ** 20,
    });
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    if (!hasEndMarker(bytes, head.scanAt)) bad(source, 'truncated JPEG (the file ends before its end-of-image marker)');
    bad(source, jpegJsProblem((e as Error).message));
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
