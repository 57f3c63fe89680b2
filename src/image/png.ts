// image/png.ts: PNG ↔ 8-bit RGB. Decoding matches PIL's `Image.open(f).convert('RGB')` (Pillow 9.4) exactly:
// alpha is dropped, never composited; a tRNS chunk is ignored; 1/2/4-bit grey scales to 0..255 (×255, ×85,
// ×17); 16-bit RGB/RGBA/grey+alpha keep the high byte; 16-bit grey opens as PIL mode "I" and convert('RGB')
// clips it, so values above 255 saturate to 255 (PIL's quirk, kept); a palette index past the PLTE entries
// reads as grey (i, i, i), PIL's default palette. Decoding is ours (node's zlib inflates; unfiltering and
// Adam7 are here), so that every size is checked against IHDR before anything is allocated. Encoding (pngjs)
// writes 8-bit grey or RGB. Pixel data is (H, W, 3) or (H, W) row-major uint8.

import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { fail } from '../errors.js';

function bad(source: string, problem: string): never {
  fail(`${source}: ${problem}`, 'usage');
}

// CRC-32 (ISO 3309, as PNG uses it), table-driven.
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The most bytes a PNG decode may hold at once: its inflated image data plus the (H, W, 3) result. 640 MiB
 * fits a 100 MP 8-bit RGB image (300 MB + 300 MB); a 16-bit RGBA header of the same size (800 MB inflated)
 * is refused before anything is inflated, as is any header whose data cannot fit.
 */
export const PNG_MAX_DECODE_BYTES = 640 * 2 ** 20;

interface PngChunks {
  idat: Uint8Array[];           // the IDAT payloads, in file order
  palette: Uint8Array | null;   // PLTE payload (RGB triples)
}

// Walks the chunks (length, type, data, CRC) up to IEND, checking that each fits in the file and that its
// CRC matches, so that a truncated or damaged file gets a message that says so. Bytes after IEND are ignored,
// as PIL ignores them.
function readChunks(bytes: Uint8Array, view: DataView, source: string): PngChunks {
  const chunks: PngChunks = { idat: [], palette: null };
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) bad(source, `truncated PNG (the file ends at byte ${bytes.length}, before its IEND chunk)`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (length > 0x7fffffff || at + 12 + length > bytes.length) {
      bad(source, `truncated PNG (the file ends inside its "${type.replace(/[^ -~]/g, '?')}" chunk at byte ${at})`);
    }
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      bad(source, `corrupt PNG (checksum mismatch in its "${type.replace(/[^ -~]/g, '?')}" chunk at byte ${at})`);
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'IDAT') chunks.idat.push(data);
    else if (type === 'PLTE' && chunks.palette === null) chunks.palette = data;
    at += 12 + length;
    if (type === 'IEND') return chunks;
  }
}

// Adam7: each pass's first pixel and step, in x and y. A non-interlaced image is one pass (0, 0, 1, 1).
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
interface Pass { x0: number; y0: number; dx: number; dy: number; w: number; h: number; rowBytes: number }

function passesOf(width: number, height: number, interlaced: boolean, bitsPerPixel: number): Pass[] {
  const grid = interlaced ? ADAM7 : [[0, 0, 1, 1]];
  const passes: Pass[] = [];
  for (const [x0, y0, dx, dy] of grid) {
    const w = Math.ceil((width - x0) / dx), h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) passes.push({ x0, y0, dx, dy, w, h, rowBytes: Math.ceil((w * bitsPerPixel) / 8) });
  }
  return passes;
}

// The zlib stream of the IDAT chunks → exactly `expected` bytes. An unterminated stream is read as far as it
// goes (PIL accepts one whose data is complete). Shorter data is refused: PIL raises "image file is truncated"
// when a row is cut and zero-fills rows that are missing entirely, so a 700-byte file "decodes" to a 100 MP black
// image; we refuse both. Longer data is accepted and the excess ignored, as PIL does (it stops reading once
// the image is full): the shortest prefix of the stream that fills the image is found by bisection, each try
// inflating at most `expected` bytes, so a stream that would inflate to gigabytes never does.
function inflateImageData(idat: Uint8Array, expected: number, source: string): Uint8Array {
  const tryInflate = (input: Uint8Array, limit: number): Uint8Array | 'more' => {
    try {
      return inflateSync(input, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: limit });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 'more';
      bad(source, 'corrupt PNG (its compressed image data is damaged and cannot be inflated)');
    }
  };
  const whole = tryInflate(idat, expected);
  if (whole !== 'more') {
    if (whole.length < expected) {
      bad(source, `truncated PNG: image file is truncated (its image data inflates to ${whole.length} bytes, ` +
        `the ${expected} its header implies are missing ${expected - whole.length})`);
    }
    return whole;
  }
  let lo = 0, hi = idat.length; // the shortest prefix that inflates to at least `expected` bytes is in (lo, hi]
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const out = tryInflate(idat.subarray(0, mid), expected);
    if (out === 'more' || out.length >= expected) hi = mid; else lo = mid;
  }
  // one more input byte adds at most 8 deflate symbols of 258 bytes each
  const out = tryInflate(idat.subarray(0, hi), expected + 8 * 258);
  if (out === 'more' || out.length < expected) bad(source, 'corrupt PNG (its compressed image data cannot be read to the image size)');
  return out.subarray(0, expected);
}

// PNG's five row filters undone in place: the row is raw[at, at + n), the row above in the same pass (already
// unfiltered) starts at `prev` (-1 for the first row), bpp = the byte distance to "the pixel to the left".
function unfilterRow(raw: Uint8Array, at: number, prev: number, n: number, filter: number, bpp: number): void {
  switch (filter) {
    case 0: return;
    case 1: for (let i = bpp; i < n; i++) raw[at + i] = (raw[at + i] + raw[at + i - bpp]) & 255; return;
    case 2: if (prev >= 0) for (let i = 0; i < n; i++) raw[at + i] = (raw[at + i] + raw[prev + i]) & 255; return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? raw[at + i - bpp] : 0, up = prev >= 0 ? raw[prev + i] : 0;
        raw[at + i] = (raw[at + i] + ((left + up) >> 1)) & 255;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? raw[at + i - bpp] : 0, b = prev >= 0 ? raw[prev + i] : 0;
        const c = i >= bpp && prev >= 0 ? raw[prev + i - bpp] : 0;
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        raw[at + i] = (raw[at + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
  }
}

// One unfiltered row of w pixels (from raw[at]) → RGB at out[o], out[o + step], … The 8-bit result of every
// sample value is looked up in `to8` (grey or RGB samples) or `palette` (768 bytes: PLTE, then PIL's grey).
function rowToRgb(raw: Uint8Array, at: number, w: number, out: Uint8Array, o: number, step: number,
  colorType: number, depth: number, channels: number, to8: Uint8Array, palette: Uint8Array): void {
  if (depth < 8) { // grey or palette, packed from the high bits
    const mask = (1 << depth) - 1;
    for (let c = 0; c < w; c++, o += step) {
      const bit = c * depth;
      const v = (raw[at + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
      if (colorType === 3) { out[o] = palette[3 * v]; out[o + 1] = palette[3 * v + 1]; out[o + 2] = palette[3 * v + 2]; }
      else { const g = to8[v]; out[o] = g; out[o + 1] = g; out[o + 2] = g; }
    }
    return;
  }
  const bytes = depth >> 3; // 1 or 2 bytes a sample; 16-bit samples are big-endian
  for (let c = 0, p = at; c < w; c++, o += step, p += channels * bytes) {
    if (colorType === 3) {
      const v = raw[p];
      out[o] = palette[3 * v]; out[o + 1] = palette[3 * v + 1]; out[o + 2] = palette[3 * v + 2];
    } else if (colorType === 0 || colorType === 4) {
      const g = bytes === 1 ? to8[raw[p]] : colorType === 0 ? (raw[p] > 0 ? 255 : raw[p + 1]) : raw[p]; // "I" clips; LA keeps the high byte
      out[o] = g; out[o + 1] = g; out[o + 2] = g;
    } else if (bytes === 1) {
      out[o] = raw[p]; out[o + 1] = raw[p + 1]; out[o + 2] = raw[p + 2];
    } else { // 16-bit RGB/RGBA: the high byte
      out[o] = raw[p]; out[o + 1] = raw[p + 2]; out[o + 2] = raw[p + 4];
    }
  }
}

/**
 * The caller has checked the 8-byte signature. IHDR and every chunk are checked, the bytes to allocate are
 * bounded (PNG_MAX_DECODE_BYTES) and the image data inflated to exactly the size IHDR implies, in that order.
 */
export function decodePng(bytes: Uint8Array, source: string, maxMegapixels: number):
  { width: number; height: number; data: Uint8Array } {
  if (bytes.length < 33) bad(source, `truncated PNG (${bytes.length} bytes, shorter than its header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdrType = String.fromCharCode(...bytes.subarray(12, 16));
  if (view.getUint32(8) !== 13 || ihdrType !== 'IHDR') bad(source, 'corrupt PNG (it does not start with an IHDR chunk)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const colorType = bytes[25];
  const interlace = bytes[28];
  if (width < 1 || height < 1) bad(source, `PNG is ${width}×${height} pixels: it has no pixels to explain`);
  if (width * height > maxMegapixels * 1e6) {
    bad(source, `image is ${width}×${height} pixels, more than the ${maxMegapixels} MP this library decodes (downscale it first)`);
  }
  const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (!(colorType in depths) || !depths[colorType].includes(depth)) {
    bad(source, `corrupt PNG (colour type ${colorType} with bit depth ${depth} is not a valid combination)`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || interlace > 1) {
    bad(source, `corrupt PNG (compression method ${bytes[26]}, filter method ${bytes[27]}, interlace method ${interlace}: ` +
      'PNG defines only 0, 0 and 0 or 1)');
  }

  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType] ?? 1;
  const bitsPerPixel = channels * depth;
  const passes = passesOf(width, height, interlace === 1, bitsPerPixel);
  const expected = passes.reduce((n, p) => n + p.h * (1 + p.rowBytes), 0); // a filter byte per row
  const need = expected + width * height * 3;
  if (need > PNG_MAX_DECODE_BYTES) {
    bad(source, `PNG of ${width}×${height} pixels at ${bitsPerPixel} bits each would need ${(need / 2 ** 20).toFixed(0)} MiB to ` +
      `decode, more than the ${PNG_MAX_DECODE_BYTES / 2 ** 20} MiB this library allows (downscale it or save it with 8-bit samples)`);
  }

  const chunks = readChunks(bytes, view, source);
  if (chunks.idat.length === 0) bad(source, 'corrupt PNG (it has no IDAT chunk: no image data)');
  const idat = chunks.idat.length === 1 ? chunks.idat[0] : Buffer.concat(chunks.idat);
  const raw = inflateImageData(idat, expected, source);

  const out = new Uint8Array(width * height * 3);
  // lookup tables: an 8-bit (or narrower) sample → 0..255; a palette index → RGB (PLTE, then PIL's grey)
  const to8 = new Uint8Array(256);
  const convert = sampleTo8Bit(colorType, Math.min(depth, 8));
  for (let v = 0; v < 1 << Math.min(depth, 8); v++) to8[v] = convert(v);
  const palette = new Uint8Array(768);
  for (let i = 0; i < 256; i++) palette.fill(i, 3 * i, 3 * i + 3);
  if (chunks.palette) palette.set(chunks.palette.subarray(0, Math.min(768, chunks.palette.length - (chunks.palette.length % 3))));
  const bpp = Math.max(1, bitsPerPixel >> 3); // the filter's byte distance to "the pixel to the left"
  let at = 0;
  for (const pass of passes) {
    let prev = -1;
    for (let r = 0; r < pass.h; r++) {
      const filter = raw[at];
      if (filter > 4) bad(source, `corrupt PNG (row ${r} of its image data has filter type ${filter}; PNG defines 0-4)`);
      unfilterRow(raw, at + 1, prev, pass.rowBytes, filter, bpp);
      const y = pass.y0 + r * pass.dy;
      rowToRgb(raw, at + 1, pass.w, out, (y * width + pass.x0) * 3, pass.dx * 3, colorType, depth, channels, to8, palette);
      prev = at + 1;
      at += 1 + pass.rowBytes;
    }
  }
  return { width, height, data: out };
}

// One sample at the file's bit depth → 0..255, as PIL's PNG modes followed by convert('RGB') do.
function sampleTo8Bit(colorType: number, depth: number): (v: number) => number {
  if (colorType === 3 || depth === 8) return (v) => v;                 // palette entries are 8-bit already
  if (depth === 16 && colorType === 0) return (v) => Math.min(v, 255); // mode "I": convert('RGB') clips
  if (depth === 16) return (v) => v >> 8;                              // "RGB;16B" and kin: the high byte
  const scale = 255 / ((1 << depth) - 1);                              // "1", "L;2", "L;4": ×255, ×85, ×17
  return (v) => v * scale;
}

/**
 * data: (H, W) grey or (H, W, 3) RGB, uint8 → PNG file bytes (8-bit, not interlaced). Sizes (H, W), rows first.
 */
export function encodePng(data: Uint8Array, height: number, width: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail(`encodePng: size ${width}×${height} is not a positive integer size`);
  }
  const channels = data.length / (width * height);
  if (channels !== 1 && channels !== 3) {
    fail(`encodePng: ${data.length} bytes for ${width}×${height} pixels is neither grey (${width * height} bytes) ` +
      `nor RGB (${width * height * 3} bytes)`);
  }
  const colorType = channels === 1 ? 0 : 2;
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const file = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
